"""Environments (the arithmetic built-in, the registry) and prompt sampling / rendering."""

from __future__ import annotations

import collections
import json
import signal

import datasets
import pytest

import rlpost.envs as envs_mod
from envs.arithmetic import ARITHMETIC, make_rows
from rlpost.config import EnvSpec
from rlpost.data import LoadedEnv, PromptSampler, load_env, render_prompt
from rlpost.envs import Environment, RewardSpec, get_env, register_env
from rlpost.tinymodel import SPECIAL_TOKENS, build_tokenizer

# --------------------------------------------------------------------------------------
# arithmetic
# --------------------------------------------------------------------------------------


def _evaluate(prompt: str) -> int:
    assert prompt.endswith("=")
    body = prompt[:-1]
    for op in "+-*":
        if op in body:
            a, b = body.split(op)
            return {"+": int(a) + int(b), "-": int(a) - int(b), "*": int(a) * int(b)}[op]
    raise AssertionError(f"no operator in {prompt!r}")


def test_make_rows_is_deterministic_for_a_seed():
    a = make_rows("train", digits=2, ops="+-", train_size=100, test_size=20, seed=3)
    b = make_rows("train", digits=2, ops="+-", train_size=100, test_size=20, seed=3)
    c = make_rows("train", digits=2, ops="+-", train_size=100, test_size=20, seed=4)
    assert a == b
    assert a != c


def test_make_rows_sizes_and_disjoint_splits():
    params = dict(digits=1, ops="+", train_size=80, test_size=20, seed=0)
    train, test = make_rows("train", **params), make_rows("test", **params)
    assert len(train) == 80 and len(test) == 20
    train_prompts, test_prompts = {r["prompt"] for r in train}, {r["prompt"] for r in test}
    assert len(train_prompts) == 80 and len(test_prompts) == 20  # no duplicates within a split
    assert not train_prompts & test_prompts


def test_test_split_does_not_depend_on_train_size():
    small = make_rows("test", digits=2, train_size=10, test_size=30, seed=1)
    large = make_rows("test", digits=2, train_size=500, test_size=30, seed=1)
    assert small == large


def test_make_rows_fills_the_whole_space():
    rows = make_rows("train", digits=1, ops="+", train_size=95, test_size=5)
    test = make_rows("test", digits=1, ops="+", train_size=95, test_size=5)
    assert {r["prompt"] for r in rows} | {r["prompt"] for r in test} == {f"{a}+{b}=" for a in range(10) for b in range(10)}


@pytest.mark.parametrize("ops", ["+", "-", "*", "+-*"])
def test_answers_are_correct(ops):
    rows = make_rows("train", digits=2, ops=ops, train_size=300, test_size=10, seed=5)
    for row in rows:
        assert set(row) == {"prompt", "answer"}
        assert isinstance(row["answer"], str)
        assert int(row["answer"]) == _evaluate(row["prompt"])
        operands = row["prompt"][:-1].replace("-", "+").replace("*", "+").split("+")
        assert all(0 <= int(x) <= 99 for x in operands)
    used = {op for row in rows for op in "+-*" if op in row["prompt"]}
    assert used == set(ops)


def test_subtraction_produces_negative_answers():
    rows = make_rows("train", digits=2, ops="-", train_size=200, test_size=0)
    assert any(r["answer"].startswith("-") for r in rows)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"ops": "/"}, r"params\.ops"),
        ({"ops": ""}, r"params\.ops"),
        ({"ops": "+x"}, r"params\.ops"),
        ({"digits": 0}, r"params\.digits"),
        ({"digits": 7}, r"params\.digits"),
        ({"digits": 1, "ops": "+", "train_size": 100, "test_size": 1}, r"101 rows requested but only 100"),
    ],
)
def test_bad_params_raise_a_clear_value_error(params, match):
    with pytest.raises(ValueError, match=match):
        make_rows("train", **params)


def test_unknown_split():
    with pytest.raises(ValueError, match="unknown split"):
        make_rows("validation")


def test_repeated_ops_do_not_hang():
    def _timeout(signum, frame):
        raise TimeoutError("make_rows did not return")

    previous = signal.signal(signal.SIGALRM, _timeout)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with pytest.raises(ValueError):
            make_rows("train", digits=1, ops="++", train_size=150, test_size=0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --------------------------------------------------------------------------------------
# registry and loading
# --------------------------------------------------------------------------------------


@pytest.fixture
def clean_envs():
    """Remove every environment a test registers."""
    before = set(envs_mod.ENVS)
    yield envs_mod.ENVS
    for name in set(envs_mod.ENVS) - before:
        del envs_mod.ENVS[name]


def test_get_env_arithmetic():
    env = get_env("arithmetic")
    assert env is ARITHMETIC
    assert env.name == "arithmetic"
    assert env.reference_fields == ("answer",)
    assert [r.name for r in env.rewards] == ["exact_answer"]
    assert env.sft_target({"prompt": "1+1=", "answer": "2"}) == "2"


def test_get_env_unknown_lists_registered():
    with pytest.raises(KeyError) as info:
        get_env("test_no_such_env")
    assert "test_no_such_env" in info.value.args[0] and "arithmetic" in info.value.args[0]


def test_register_env_refuses_a_different_env_with_the_same_name(clean_envs):
    env = _list_env("test_dup_env", ["a"])
    assert register_env(env) is env
    assert register_env(env) is env
    with pytest.raises(ValueError, match="test_dup_env"):
        register_env(_list_env("test_dup_env", ["b"]))


def test_load_env_returns_prompt_and_answer_columns():
    spec = EnvSpec(name="arithmetic", params={"digits": 1, "train_size": 30, "test_size": 5})
    loaded = load_env(spec, "train")
    assert isinstance(loaded, LoadedEnv)
    assert loaded.name == "arithmetic" and loaded.env is ARITHMETIC and loaded.spec is spec
    assert isinstance(loaded.rows, datasets.Dataset)
    assert len(loaded.rows) == 30
    assert {"prompt", "answer"} <= set(loaded.rows.column_names)
    assert loaded.rows[0] == make_rows("train", digits=1, train_size=30, test_size=5)[0]
    assert len(load_env(spec, "test").rows) == 5


def test_load_env_rejects_empty_or_malformed_datasets(clean_envs):
    register_env(_list_env("test_empty_env", []))
    with pytest.raises(ValueError, match="no rows"):
        load_env(EnvSpec(name="test_empty_env"), "train")
    register_env(
        Environment(
            name="test_noanswer_env",
            description="rows without the reference field",
            load=lambda split, params: datasets.Dataset.from_list([{"prompt": "x"}]),
            rewards=(RewardSpec("exact_answer"),),
            reference_fields=("answer",),
        )
    )
    with pytest.raises(ValueError, match="answer"):
        load_env(EnvSpec(name="test_noanswer_env"), "train")


# --------------------------------------------------------------------------------------
# PromptSampler
# --------------------------------------------------------------------------------------


def _list_env(name: str, prompts: list[str]) -> Environment:
    def load(split, params):
        return datasets.Dataset.from_dict({"prompt": list(prompts), "answer": [str(i) for i in range(len(prompts))]})

    return Environment(
        name=name, description="test env", load=load, rewards=(RewardSpec("exact_answer"),), reference_fields=("answer",)
    )


def _loaded(name: str, prompts: list[str], weight: float = 1.0) -> LoadedEnv:
    env = _list_env(name, prompts)
    return LoadedEnv(EnvSpec(name=name, weight=weight), env, env.load("train", {}))


def test_sampler_is_deterministic_for_a_seed():
    envs = [_loaded("test_a", [f"a{i}" for i in range(7)]), _loaded("test_b", [f"b{i}" for i in range(5)])]

    def draw(seed):
        return [(e.name, row["prompt"]) for e, row in PromptSampler(envs, seed).sample(40)]

    assert draw(0) == draw(0)
    assert draw(0) != draw(1)


def test_sampler_state_round_trips_through_json():
    envs = [_loaded("test_a", [f"a{i}" for i in range(7)]), _loaded("test_b", [f"b{i}" for i in range(5)])]
    sampler = PromptSampler(envs, seed=3)
    sampler.sample(9)
    state = json.loads(json.dumps(sampler.state()))
    expected = [(e.name, row["prompt"]) for e, row in sampler.sample(20)]
    resumed = PromptSampler(envs, seed=99)
    resumed.load_state(state)
    assert [(e.name, row["prompt"]) for e, row in resumed.sample(20)] == expected
    with pytest.raises(ValueError, match="environments"):
        PromptSampler(envs[:1], seed=0).load_state(state)


def test_sampler_cycles_through_an_epoch_before_repeating():
    prompts = [f"q{i}" for i in range(10)]
    sampler = PromptSampler([_loaded("test_a", prompts)], seed=0)
    drawn = [row["prompt"] for _, row in sampler.sample(7)] + [row["prompt"] for _, row in sampler.sample(13)]
    first, second = drawn[:10], drawn[10:]
    assert sorted(first) == sorted(prompts)
    assert sorted(second) == sorted(prompts)
    assert first != second  # reshuffled per epoch


def test_sampler_respects_env_weights():
    heavy = _loaded("test_heavy", [f"h{i}" for i in range(5)], weight=3.0)
    light = _loaded("test_light", [f"l{i}" for i in range(5)], weight=1.0)
    picks = PromptSampler([heavy, light], seed=123).sample(4000)
    counts = collections.Counter(env.name for env, _ in picks)
    assert counts["test_heavy"] + counts["test_light"] == 4000
    ratio = counts["test_heavy"] / counts["test_light"]
    assert 2.7 <= ratio <= 3.3
    # rows come from the environment that was picked
    assert all(row["prompt"][0] == env.name[5] for env, row in picks)


def test_sampler_with_registered_envs_through_load_env(clean_envs):
    register_env(_list_env("test_second_env", ["s0", "s1"]))
    envs = [
        load_env(EnvSpec(name="arithmetic", params={"digits": 1, "train_size": 20, "test_size": 5}, weight=3.0), "train"),
        load_env(EnvSpec(name="test_second_env", weight=1.0), "train"),
    ]
    picks = PromptSampler(envs, seed=0).sample(400)
    names = collections.Counter(env.name for env, _ in picks)
    assert set(names) == {"arithmetic", "test_second_env"}
    assert names["arithmetic"] > names["test_second_env"]


# --------------------------------------------------------------------------------------
# render_prompt on the tiny character tokenizer
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer()


def test_render_prompt_raw_is_one_token_per_character(tokenizer):
    text = "37+58= Ab?"
    ids = render_prompt(tokenizer, text, chat=False)
    assert isinstance(ids, list) and all(isinstance(i, int) for i in ids)
    assert len(ids) == len(text)
    assert [tokenizer.decode([i]) for i in ids] == list(text)
    assert tokenizer.decode(ids) == text
    special_ids = set(tokenizer.convert_tokens_to_ids(SPECIAL_TOKENS))
    assert not special_ids & set(ids)


def test_render_prompt_chat_wraps_a_user_turn(tokenizer):
    text = "12+34="
    ids = render_prompt(tokenizer, text, chat=True)
    assert all(isinstance(i, int) for i in ids)
    assert tokenizer.decode(ids) == f"<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n"
    raw = render_prompt(tokenizer, text, chat=False)
    assert len(ids) > len(raw)


def test_render_prompt_puts_the_system_message_first(tokenizer):
    ids = render_prompt(tokenizer, "12+34=", chat=True, system="Add.")
    expected = "<|im_start|>system\nAdd.<|im_end|>\n<|im_start|>user\n12+34=<|im_end|>\n<|im_start|>assistant\n"
    assert tokenizer.decode(ids) == expected


@pytest.mark.parametrize("family", ["llama", "mistral", "gemma"])
def test_each_family_template_places_the_system_message_and_the_generation_prompt(family):
    from tests.model_zoo import FAMILIES
    from tests.model_zoo import build_tokenizer as build_bpe

    tok = build_bpe(FAMILIES[family])
    text = tok.decode(render_prompt(tok, "12+34=", chat=True, system="Add."))
    expected = {
        "llama": "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nAdd.<|eot_id|><|start_header_id|>user"
        "<|end_header_id|>\n\n12+34=<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
        "mistral": "<s>[INST] Add.\n\n12+34= [/INST]",
        "gemma": "<bos><start_of_turn>user\nAdd.\n\n12+34=<end_of_turn>\n<start_of_turn>model\n",
    }
    assert text == expected[family]
    assert tok.pad_token is None or family == "gemma"  # llama and mistral ship without a pad token


def test_a_system_message_needs_chat():
    from rlpost.config import ConfigError, build_config

    with pytest.raises(ConfigError, match=r"^stages\.0\.envs\.0\.system: a system message needs chat: true"):
        build_config({"stages": [{"envs": [{"name": "arithmetic", "system": "Add."}]}]})
