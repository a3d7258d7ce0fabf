"""`rewards.code.checks`: which parts of an assert the sandbox computes, which tests are refused, and the verdict."""

from __future__ import annotations

import ast
import json
import math

import pytest

from rewards.code.checks import Leaf, LeafResult, Uncheckable, decide, plan, setup_names
from tests.conftest import ROOT

# MBPP-style asserts as the full data set writes them (the bundled 27 tasks are plainer)
MBPP_STYLE = [
    "assert set(similar_elements((3, 4, 5, 6), (5, 7, 4, 10))) == set((4, 5))",
    "assert math.isclose(area_circle(2), 12.566, rel_tol=0.001)",
    "assert is_not_prime(2) == False",
    "assert heap_queue_largest([25, 35, 22, 85, 14, 65, 75, 22, 58], 3) == [85, 75, 65]",
    "assert find_char_long('Please move back to stream') == ['Please', 'move', 'back', 'stream']",
    "assert sorted(unique([1, 1, 2])) == [1, 2]",
    "assert check_str('annie')",
    "assert not check_str('dawood')",
    "assert round(mean([1, 2]), 2) == 1.5",
    "assert Solution().maxDepth(root) == 3",
    "assert count_ways(8) == 153, 'message ignored'",
    "assert abs(f(0.1) - 0.2) < 1e-9",
    "assert len(g('abc')) == 3 and g('')[0:1] == []",
    "assert f(3) in [(1, 2), (2, 1)]",
    "assert type(f(1)) is tuple",
]


def _split(test: str, setup: frozenset[str] = frozenset()) -> tuple[str, list[tuple[str, str]]]:
    check = plan(test, setup)
    return ast.unparse(check.expression), [(leaf.source, leaf.phase) for leaf in check.leaves]


@pytest.mark.parametrize(
    ("test", "verifier", "leaves"),
    [
        ("assert add(1, 2) == 3", "__leaf__(0) == 3", [("add(1, 2)", "program")]),
        ("assert math.isclose(f(x), 1.41)", "math.isclose(__leaf__(0), 1.41)", [("f(x)", "program")]),
        ("assert sorted(f([2, 1])) == [1, 2]", "sorted(__leaf__(0)) == [1, 2]", [("f([2, 1])", "program")]),
        ("assert sorted(f(1), key=len) == []", "sorted(__leaf__(0), key=len) == []", [("f(1)", "program")]),
        ("assert list(map(f, [1])) == [2]", "list(__leaf__(0)) == [2]", [("map(f, [1])", "program")]),
        ("assert Solution().run(1) == 2", "__leaf__(0) == 2", [("Solution().run(1)", "program")]),
        ("assert f(1).count(2) == 0", "__leaf__(0) == 0", [("f(1).count(2)", "program")]),
        ("assert f(1) == [i + 1 for i in range(3)]", "__leaf__(0) == [i + 1 for i in range(3)]", [("f(1)", "program")]),
        ("assert f(1) is None or g(2)[0] == -1", "__leaf__(0) is None or __leaf__(1)[0] == -1",
         [("f(1)", "program"), ("g(2)", "program")]),
        ("assert add(1, 2) == expected[0]", "__leaf__(0) == __leaf__(1)[0]",
         [("add(1, 2)", "program"), ("expected", "setup")]),
        ("assert f(root) == helper(3)", "__leaf__(0) == __leaf__(1)", [("f(root)", "program"), ("helper(3)", "setup")]),
    ],
)  # fmt: skip
def test_split_into_verifier_expression_and_leaves(test, verifier, leaves):
    assert _split(test, frozenset({"expected", "helper", "root"})) == (verifier, leaves)


@pytest.mark.parametrize(
    ("test", "reason"),
    [
        ("x = 1", "not a single assert"),
        ("assert 1 + 1 == 2", "does not use the program"),
        ("assert expected == [3]", "does not use the program"),
        ("assert f(1) == 1; assert True", "not a single assert"),
        ("assert f(1) ==", "does not parse"),
        ("assert all(f(i) == 2 * i for i in range(3))", "inside the program"),
        ("assert (lambda: f(1) == 1)()", "inside the program"),
        ("assert (y := f(1)) == 1", "inside the program"),
        ("assert f(g(1) == 2) == 1", "inside the program"),
        ("assert f(3) * 2 == 6", "applies Mult"),
        ("assert 'a' * f(3) == ''", "applies Mult"),
        ("assert f(3) ** 2 == 9", "applies Pow"),
        ("assert 1 << f(3) == 8", "applies LShift"),
        ("assert '%*d' % (f(1), 1) == ''", "applies Mod"),
        ("assert range(f(1), 3) == range(3)", "unbounded time"),
        ("assert round(1.5, f(1)) == 2", "unbounded time"),
        ("assert sum(f(1), []) == []", "unbounded time"),
        ("assert pow(2, f(1)) == 4", "unbounded time"),
        ("assert check(add(1, 2))", "setup-defined `check`"),
        ("assert Node(add(1, 2)).value == 3", "setup-defined `Node`"),
        ("assert ().__class__ == tuple", "attribute `__class__`"),
    ],
)
def test_uncheckable_tests_are_refused_with_a_reason(test, reason):
    with pytest.raises(Uncheckable, match=reason):
        plan(test, frozenset({"check", "Node", "expected"}))


def test_trusted_names_mean_the_verifiers_own_and_setup_names_shadow_them():
    assert _split("assert len(f(1)) == 2") == ("len(__leaf__(0)) == 2", [("f(1)", "program")])
    assert _split("assert max(f(1), 2) == 2") == ("max(__leaf__(0), 2) == 2", [("f(1)", "program")])
    split = _split("assert f(1) == len(setup_list)", frozenset({"len", "setup_list"}))
    assert split[1] == [("f(1)", "program"), ("len(setup_list)", "setup")]
    with pytest.raises(Uncheckable, match="setup-defined `len`"):
        plan("assert len(f(1)) == 2", frozenset({"len"}))
    assert _split("assert math.floor(f(1)) == 2", frozenset({"math"}))[1] == [("f(1)", "program")]


def test_setup_names():
    setup = "import math, os.path as p\nfrom x import y as z, w\nA = B = 1\nc, [d] = 1, [2]\ndef g(q):\n    r = 1\n" \
            "class K:\n    s = 1\nfor i in range(2):\n    t = [u for u in range(i)]\nif True:\n    v: int = 1\n"  # fmt: skip
    assert setup_names(setup) == {"math", "p", "z", "w", "A", "B", "c", "d", "g", "K", "i", "t", "v"}
    assert setup_names("this is not python") == frozenset()


def test_bundled_mbpp_and_mbpp_style_tests_are_all_checkable():
    rows = [json.loads(line) for line in (ROOT / "envs/data/mbpp_bundled.jsonl").read_text().splitlines()]
    tests = [(t, setup_names(r["test_setup_code"])) for r in rows for t in r["test_list"]]
    assert len(tests) == 81
    for test, names in tests + [(t, frozenset({"root"})) for t in MBPP_STYLE]:
        assert all(leaf.phase in ("program", "setup") for leaf in plan(test, names).leaves), test


@pytest.mark.parametrize(
    ("test", "values", "passed", "error"),
    [
        ("assert add(1, 2) == 3", [3], True, ""),
        ("assert add(1, 2) == 3", [True], False, "AssertionError: `add(1, 2) == 3` is false"),
        ("assert add(1, 2) == 3", [3.0], True, ""),
        ("assert math.isclose(f(1), 0.3)", [0.1 + 0.2], True, ""),
        ("assert f(1) == float('nan')", [math.nan], False, "is false"),
        ("assert len(f(1), 2) == 2", [5], False, "TypeError: len() takes exactly one argument (2 given)"),
        ("assert sorted(f(1), key=abs) == 2", [5], False, "TypeError: 'int' object is not iterable"),
        ("assert f(1) is None or g(2) == 1", [None, LeafResult(error="ValueError: boom")], True, ""),
        ("assert f(1) is None or g(2) == 1", [0, LeafResult(error="ValueError: boom")], False, "ValueError: boom"),
        ("assert g(2) if f(1) else True", [0, LeafResult(error="timeout", timeout=True)], True, ""),
        ("assert f(1)", [[]], False, "is false"),
    ],
)
def test_decide(test, values, passed, error):
    check = plan(test)
    results = [v if isinstance(v, LeafResult) else LeafResult(v) for v in values]
    outcome = decide(check, results)
    assert outcome.passed is passed and error in outcome.error and (not error) == (outcome.error == "")


def test_a_timed_out_leaf_makes_a_timed_out_test():
    outcome = decide(plan("assert f(1) == 2"), [LeafResult(error="timeout", timeout=True)])
    assert not outcome.passed and outcome.timeout and outcome.error == "timeout"
    assert plan("assert f(1) == 2").leaves == (Leaf("f(1)", "program"),)
