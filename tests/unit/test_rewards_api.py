"""The reward plugin API: registry, resolution by name / reference, result checking and scoring."""

from __future__ import annotations

import math

import pytest

import rlpost.rewards as rewards_mod
from rewards.exact import exact_answer
from rlpost.rewards import (
    RewardPlugin,
    RewardResult,
    Sample,
    as_result,
    register_reward,
    resolve_reward,
    score_with_bindings,
)


@pytest.fixture
def clean_registry():
    """Remove every reward a test registers (names starting with `test_`)."""
    before = set(rewards_mod.REWARDS)
    yield rewards_mod.REWARDS
    for name in set(rewards_mod.REWARDS) - before:
        del rewards_mod.REWARDS[name]


def _samples(*responses: str) -> list[Sample]:
    return [Sample(prompt=f"p{i}", response=r, reference={"answer": "42"}, env="arithmetic") for i, r in enumerate(responses)]


# --------------------------------------------------------------------------------------
# registry and resolution
# --------------------------------------------------------------------------------------


def test_register_and_resolve_by_name(clean_registry):
    @register_reward("test_length")
    def length(sample: Sample, scale: float = 1.0) -> float:
        """Response length times scale.

        More text here."""
        return scale * len(sample.response)

    plugin = resolve_reward("test_length")
    assert isinstance(plugin, RewardPlugin)
    assert plugin.name == "test_length" and plugin.fn is length and plugin.batched is False
    assert plugin.description == "Response length times scale."
    results = plugin(_samples("ab", "abcd"), {"scale": 0.5})
    assert [r.score for r in results] == [1.0, 2.0]
    # the decorator returns the function unchanged
    assert length(_samples("xyz")[0]) == 3.0


def test_register_twice_with_another_function_is_an_error(clean_registry):
    def first(sample):
        return 0.0

    def second(sample):
        return 1.0

    register_reward("test_dup")(first)
    register_reward("test_dup")(first)  # same function again is fine
    with pytest.raises(ValueError, match="test_dup"):
        register_reward("test_dup")(second)
    assert clean_registry["test_dup"].fn is first


def test_explicit_description_wins(clean_registry):
    register_reward("test_desc", description="explicit")(lambda s: 0.0)
    assert resolve_reward("test_desc").description == "explicit"


def test_builtin_exact_answer_is_registered():
    plugin = resolve_reward("exact_answer")
    assert plugin.name == "exact_answer" and plugin.fn is exact_answer
    assert plugin.description


def test_resolve_module_reference_returns_the_registered_plugin():
    plugin = resolve_reward("rewards.exact:exact_answer")
    assert plugin is resolve_reward("exact_answer")
    [result] = plugin(_samples("42"), {})
    assert result.score == 1.0


def test_resolve_file_reference_wraps_a_plain_function(tmp_path, monkeypatch):
    path = tmp_path / "my_reward.py"
    path.write_text(
        "def shout(sample, bonus=0.0):\n"
        '    """1 for an all-caps response."""\n'
        "    return float(sample.response.isupper()) + bonus\n"
    )
    spec = f"{path}:shout"
    plugin = resolve_reward(spec)
    assert isinstance(plugin, RewardPlugin)
    assert plugin.name == spec and plugin.batched is False
    assert plugin.description == "1 for an all-caps response."
    assert [r.score for r in plugin(_samples("HI", "hi"), {"bonus": 0.5})] == [1.5, 0.5]

    # a relative path resolves against the working directory
    monkeypatch.chdir(tmp_path)
    assert [r.score for r in resolve_reward("my_reward.py:shout")(_samples("OK"), {})] == [1.0]


def test_resolve_unknown_name_lists_registered_names():
    with pytest.raises(KeyError) as info:
        resolve_reward("test_does_not_exist")
    message = info.value.args[0]
    assert "test_does_not_exist" in message
    assert "exact_answer" in message


def test_resolve_bad_references(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        resolve_reward(f"{tmp_path / 'missing.py'}:fn")
    with pytest.raises(ValueError, match="no attribute"):
        resolve_reward("rewards.exact:no_such_attr")
    with pytest.raises(ImportError):
        resolve_reward("test_no_such_module_xyz:fn")


def test_resolve_rejects_a_non_callable_reference():
    with pytest.raises((TypeError, ValueError)):
        resolve_reward("os:sep")


# --------------------------------------------------------------------------------------
# as_result
# --------------------------------------------------------------------------------------


def test_as_result_accepts_numbers_and_results():
    assert as_result(1, "r") == RewardResult(1.0)
    assert type(as_result(1, "r").score) is float
    assert as_result(0.25, "r").score == 0.25
    result = RewardResult(0.5, {"a": 1.0}, "note")
    assert as_result(result, "r") is result


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (True, TypeError),
        (False, TypeError),
        ("1.0", TypeError),
        (None, TypeError),
        ([1.0], TypeError),
        (math.nan, ValueError),
        (math.inf, ValueError),
        (-math.inf, ValueError),
        (RewardResult(math.nan), ValueError),
    ],
)
def test_as_result_rejects_non_numeric_and_non_finite(value, error):
    with pytest.raises(error, match="test_name"):
        as_result(value, "test_name")


def test_warm_up_runs_with_the_params_and_keeps_errors_for_scoring():
    seen = []

    def warm(**params):
        seen.append(params)
        if params.get("broken"):
            raise FileNotFoundError("no model")

    plugin = RewardPlugin("test_warm", lambda s, **_: 1.0, "", False, warm)
    plugin.warm_up({"model": "m"})
    plugin.warm_up({"broken": True})  # dropped: scoring would fail on the same cause and record it per sample
    RewardPlugin("test_cold", lambda s: 1.0).warm_up({"x": 1})  # no warm-up: nothing runs
    assert seen == [{"model": "m"}, {"broken": True}]


# --------------------------------------------------------------------------------------
# score_with_bindings
# --------------------------------------------------------------------------------------


def _plugin(name, fn, batched=False) -> RewardPlugin:
    return RewardPlugin(name, fn, "", batched)


def test_weighted_sum_and_component_names():
    def correct(sample):
        ok = float(sample.response == sample.reference["answer"])
        return RewardResult(ok, {"hit": ok, "miss": 1.0 - ok}, "" if ok else "wrong")

    def brevity(sample, cap=10):
        return max(0.0, 1.0 - len(sample.response) / cap)

    bindings = [(_plugin("test_correct", correct), 2.0, {}), (_plugin("test_brevity", brevity), 0.5, {"cap": 4})]
    out = score_with_bindings(bindings, _samples("42", "4242"), fallback=-1.0)

    assert len(out) == 2
    assert out[0].score == pytest.approx(2.0 * 1.0 + 0.5 * 0.5)
    assert out[1].score == pytest.approx(2.0 * 0.0 + 0.5 * 0.0)
    assert out[0].components == {"test_correct": 1.0, "test_correct/hit": 1.0, "test_correct/miss": 0.0, "test_brevity": 0.5}
    assert out[1].components == {"test_correct": 0.0, "test_correct/hit": 0.0, "test_correct/miss": 1.0, "test_brevity": 0.0}
    assert out[0].error is None and out[1].error is None
    assert out[0].info == "" and out[1].info == "wrong"


def test_plugin_failure_on_one_sample_is_isolated():
    def picky(sample):
        if sample.response == "boom":
            raise RuntimeError("exploded on boom")
        return 1.0

    def constant(sample):
        return 0.25

    bindings = [(_plugin("test_picky", picky), 1.0, {}), (_plugin("test_constant", constant), 2.0, {})]
    out = score_with_bindings(bindings, _samples("a", "boom", "c"), fallback=-3.0)

    assert [s.score for s in out] == [pytest.approx(1.5), -3.0, pytest.approx(1.5)]
    assert out[0].error is None and out[2].error is None
    assert out[1].error is not None
    assert "test_picky" in out[1].error and "RuntimeError" in out[1].error and "exploded on boom" in out[1].error
    assert out[0].components == {"test_picky": 1.0, "test_constant": 0.25}


def test_first_error_is_kept_when_several_plugins_fail():
    def fail_a(sample):
        raise KeyError("first")

    def fail_b(sample):
        raise RuntimeError("second")

    bindings = [(_plugin("test_fail_a", fail_a), 1.0, {}), (_plugin("test_fail_b", fail_b), 1.0, {})]
    [scored] = score_with_bindings(bindings, _samples("x"), fallback=0.5)
    assert scored.score == 0.5
    assert scored.error.startswith("test_fail_a: KeyError") and "second" not in scored.error


def test_invalid_return_value_is_an_error_for_that_sample():
    def sometimes_nan(sample):
        return math.nan if sample.response == "nan" else 1.0

    out = score_with_bindings([(_plugin("test_nan", sometimes_nan), 1.0, {})], _samples("x", "nan"), fallback=0.0)
    assert out[0].score == 1.0 and out[0].error is None
    assert out[1].score == 0.0 and "test_nan" in out[1].error and "non-finite" in out[1].error


def test_batched_plugin_is_called_once_with_all_samples():
    calls = []

    def batch_fn(samples, offset=0.0):
        calls.append(len(samples))
        return [float(i) + offset for i in range(len(samples))]

    plugin = _plugin("test_batched", batch_fn, batched=True)
    out = score_with_bindings([(plugin, 1.0, {"offset": 1.0})], _samples("a", "b", "c"), fallback=0.0)
    assert calls == [3]
    assert [s.score for s in out] == [1.0, 2.0, 3.0]


def test_batched_plugin_returning_the_wrong_length_is_isolated_per_sample():
    def drops_bad(samples):
        return [1.0 for s in samples if s.response != "bad"]

    plugin = _plugin("test_dropper", drops_bad, batched=True)
    with pytest.raises(ValueError, match="returned 2 results for 3 samples"):
        plugin(_samples("a", "bad", "c"), {})

    out = score_with_bindings([(plugin, 1.0, {})], _samples("a", "bad", "c"), fallback=-1.0)
    assert [s.score for s in out] == [1.0, -1.0, 1.0]
    assert out[0].error is None and out[2].error is None
    assert "test_dropper" in out[1].error and "returned 0 results for 1 samples" in out[1].error


def test_error_text_is_bounded():
    def loud(sample):
        raise ValueError("x" * 2000)

    [scored] = score_with_bindings([(_plugin("test_loud", loud), 1.0, {})], _samples("a"), fallback=0.0)
    assert scored.error.startswith("test_loud: ValueError: ") and len(scored.error) <= 500


# --------------------------------------------------------------------------------------
# exact_answer
# --------------------------------------------------------------------------------------


def _exact(response: str, answer: str, **params) -> RewardResult:
    return exact_answer(Sample(prompt="q", response=response, reference={"answer": answer}), **params)


@pytest.mark.parametrize(
    ("response", "answer", "score"),
    [
        ("42", "42", 1.0),
        ("  42\n", "42", 1.0),
        ("42", " 42 ", 1.0),
        ("42.", "42", 0.0),
        ("the answer is 42", "42", 0.0),
        ("43", "42", 0.0),
        ("-7", "-7", 1.0),
        ("", "0", 0.0),
    ],
)
def test_exact_answer_strip_mode(response, answer, score):
    result = _exact(response, answer)
    assert result.score == score
    assert result.components == {"correct": score}
    assert (result.info == "") == (score == 1.0)


@pytest.mark.parametrize(
    ("response", "answer", "score"),
    [
        ("the answer is 42.", "42", 1.0),
        ("42", "42", 1.0),
        ("42 or 43", "42", 1.0),
        ("43 or 42", "42", 0.0),
        ("x = -7!", "-7", 1.0),
        ("x = 7", "-7", 0.0),
        ("3.5 apples", "3.5", 1.0),
        ("no digits", "42", 0.0),
    ],
)
def test_exact_answer_first_number_mode(response, answer, score):
    assert _exact(response, answer, mode="first_number").score == score


def test_exact_answer_integer_reference():
    result = exact_answer(Sample(prompt="q", response="12", reference={"answer": 12}))
    assert result.score == 1.0


def test_exact_answer_unknown_mode_raises():
    with pytest.raises(ValueError, match="unknown mode"):
        _exact("42", "42", mode="fuzzy")


def test_exact_answer_through_the_plugin_with_params():
    plugin = resolve_reward("exact_answer")
    results = plugin(_samples("answer: 42", "42"), {"mode": "first_number"})
    assert [r.score for r in results] == [1.0, 1.0]
    results = plugin(_samples("answer: 42", "42"), {})
    assert [r.score for r in results] == [0.0, 1.0]
