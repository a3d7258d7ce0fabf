"""The `code` reward on the real sandbox: assert tests, stdin/stdout cases, scales, components and errors."""

from __future__ import annotations

import pytest

from envs.mbpp import make_rows
from rewards.code import code_reward
from rlpost.rewards import Sample, resolve_reward

ADD_TESTS = ["assert add(1, 2) == 3", "assert add(-1, 1) == 0", "assert add(2, 2) == 5"]


def _code(response: str, reference: dict, **params):
    return code_reward(Sample("p", response, reference), **params)


def test_bundled_mbpp_reference_solutions_pass():
    for row in make_rows("train", {}) + make_rows("test", {}):
        reference = {"test_list": row["test_list"], "test_setup_code": row["test_setup_code"]}
        result = _code(f"```python\n{row['code']}\n```", reference)
        assert result.score == 1.0, (row["text"], result.info)
        assert result.components == {"passed": 3.0, "total": 3.0, "timeouts": 0.0, "uncheckable": 0.0}


@pytest.mark.parametrize(
    ("response", "passed", "info"),
    [
        ("```python\ndef add(a, b):\n    return a + b\n```", 2, "test 2: AssertionError"),
        ("def add(a, b):\n    return a - b\n", 0, "test 0: AssertionError"),
        ("def add(a, b):\n    return 5 if a == b else a + b\n", 3, ""),
        ("def add(a, b):\n    raise ValueError('nope')\n", 0, "test 0: ValueError: nope"),
        ("print('hi'", 0, "test 0: solution: SyntaxError"),
        ("Sorry, I cannot help.\n```text\nno code\n```", 0, "test 0: no code in the response"),
        ("def add(a, b):\n    import time\n    time.sleep(100)\n", 0, "test 0: timeout"),
    ],
)
def test_fraction_of_asserts_passed(response, passed, info):
    result = _code(response, {"test_list": ADD_TESTS}, timeout_s=1)
    assert result.score == pytest.approx(passed / 3)
    assert result.components["passed"] == passed and result.components["total"] == 3
    assert result.info.startswith(info) if info else result.info == ""


def test_timeouts_component_counts_each_timed_out_test():
    slow_on_negatives = "def add(a, b):\n    while a < 0:\n        pass\n    return a + b\n"
    result = _code(slow_on_negatives, {"test_list": ADD_TESTS}, timeout_s=1)
    assert result.components == {"passed": 1.0, "total": 3.0, "timeouts": 1.0, "uncheckable": 0.0}
    result = _code("while True:\n    pass\n", {"test_list": ADD_TESTS}, timeout_s=1)
    assert result.components == {"passed": 0.0, "total": 3.0, "timeouts": 3.0, "uncheckable": 0.0}


def test_signed_scale():
    reference = {"test_list": ADD_TESTS}
    assert _code("def add(a, b):\n    return a + b\n", reference, scale="signed").score == pytest.approx(2 * 2 / 3 - 1)
    assert _code("", reference, scale="signed").score == -1.0
    assert _code("def add(a, b):\n    return 5 if a == b else a + b\n", reference, scale="signed").score == 1.0


def test_setup_code_runs_before_the_tests():
    reference = {"test_list": ["assert area(1) == round(math.pi, 2)"], "test_setup_code": "import math"}
    assert _code("def area(r):\n    return round(math.pi * r * r, 2)\n", reference).score == 1.0


def test_setup_runs_first_and_its_values_are_the_setups():
    setup = "class Shape:\n    sides = 0\n\nexpected = [4, 3]"
    code = "class Square(Shape):\n    sides = 4\n\nexpected = [0, 0]\n\ndef sides():\n    return Square.sides\n"
    tests = ["assert sides() == expected[0]", "assert sides() != expected[1]"]
    result = _code(code, {"test_list": tests, "test_setup_code": setup})
    assert result.score == 1.0, result.info


def test_values_cross_exactly_and_uncheckable_tests_fail_with_a_reason():
    code = "def big():\n    return 10 ** 5000 + 1\n\ndef neg_zero():\n    return -0.0\n\ndef f(i):\n    return 2 * i\n\n" \
           "def doubled(xs):\n    return map(f, xs)\n"  # fmt: skip
    tests = [
        "assert big() == 10 ** 5000 + 1",
        "assert big() != 10 ** 5000",
        "assert math.copysign(1, neg_zero()) == -1",
        "assert list(doubled([1, 2])) == [2, 4]",
        "assert doubled([1, 2]) == [2, 4]",
        "assert all(f(i) == 2 * i for i in range(3))",
    ]
    result = _code(code, {"test_list": tests})
    assert result.components == {"passed": 4.0, "total": 6.0, "timeouts": 0.0, "uncheckable": 1.0}
    assert result.info == "test 4: AssertionError: `doubled([1, 2]) == [2, 4]` is false"
    result = _code(code, {"test_list": tests[5:]})
    assert result.info.startswith("test 0: uncheckable: `(f(i) == 2 * i for i in range(3))` would decide")


def test_io_tests():
    cases = [{"input": "3 4\n", "output": "7\n"}, {"input": "10 -2", "output": "8"}, {"input": "1 1", "output": "3"}]
    reference = {"io_tests": cases}
    result = _code("a, b = map(int, input().split())\nprint(a + b)   \n\n", reference)
    assert result.components == {"passed": 2.0, "total": 3.0, "timeouts": 0.0, "uncheckable": 0.0}
    assert result.info == "test 2: wrong output"
    result = _code("import sys\nsys.exit(3)", reference)
    assert result.score == 0.0 and result.info.startswith("test 0: exit code 3")
    result = _code("while True:\n    pass", {"io_tests": reference["io_tests"][:1]}, timeout_s=1)
    assert result.components["timeouts"] == 1.0


def test_asserts_and_io_tests_together():
    reference = {"test_list": ["assert double(2) == 4"], "io_tests": [{"input": "5", "output": "10"}]}
    code = "def double(x):\n    return 2 * x\n\nif __name__ == '__main__':\n    print(double(int(input())))\n"
    assert _code(code, reference).components == {"passed": 2.0, "total": 2.0, "timeouts": 0.0, "uncheckable": 0.0}


def test_a_closed_stdout_does_not_hide_results():
    code = "import os, sys\nsys.stdout = None\nos.close(1)\n\ndef add(a, b):\n    return 5 if a == b else a + b\n"
    assert _code(code, {"test_list": ADD_TESTS}).score == 1.0


@pytest.mark.parametrize(
    ("reference", "params", "match"),
    [
        ({}, {}, "no tests"),
        ({"test_list": []}, {}, "no tests"),
        ({"test_list": [1]}, {}, "list of strings"),
        ({"io_tests": [{"input": "1"}]}, {}, "io_tests must be"),
        ({"test_list": ADD_TESTS}, {"scale": "percent"}, "unknown scale 'percent'"),
        ({"test_list": ADD_TESTS}, {"limits": {"memory": 1}}, r"unknown limits key\(s\) \['memory'\]"),
        ({"test_list": ADD_TESTS}, {"limits": {"wall_s": 1}}, r"unknown limits key\(s\) \['wall_s'\]"),
        ({"test_list": ADD_TESTS}, {"limits": {"memory_mb": 0}}, "memory_mb must be > 0"),
    ],
)
def test_bad_reference_or_params_are_errors(reference, params, match):
    with pytest.raises(ValueError, match=match):
        _code("def add(a, b):\n    return a + b", reference, **params)


def test_code_length_bound():
    result = _code("x = 1\n" * 5000, {"test_list": ADD_TESTS}, max_code_chars=1000)
    assert result.score == 0.0 and "longer than 1000" in result.info


def test_registered_and_scores_through_the_plugin():
    plugin = resolve_reward("code")
    assert plugin.fn is code_reward and "sandbox" in plugin.description
    samples = [Sample("p", "def add(a, b):\n    return a + b", {"test_list": ADD_TESTS[:2]})] * 2
    assert [r.score for r in plugin(samples, {"scale": "signed"})] == [1.0, 1.0]
