"""The `math` reward: answer extraction, math-verify equivalence, and bounded time on hostile answers."""

from __future__ import annotations

import threading
import time

import pytest

from rewards.math import extract_answer, last_boxed, math_reward
from rlpost.rewards import Sample, resolve_reward


def _score(response: str, gold: str, **params) -> float:
    return math_reward(Sample("q", response, {"answer": gold}), **params).score


# --------------------------------------------------------------------------------------
# extraction
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\\boxed{42}", "42"),
        ("first \\boxed{1} then \\boxed{2}", "2"),
        ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("\\boxed{\\boxed{7}}", "\\boxed{7}"),
        ("\\boxed {3}", "3"),
        ("\\fbox{5}", "5"),
        ("\\boxed{1} and an unclosed \\boxed{2", "1"),
        ("\\boxed{", None),
        ("no box here", None),
        ("\\boxed{a{b}c} tail", "a{b}c"),
    ],
)
def test_last_boxed(text, expected):
    assert last_boxed(text) == expected


@pytest.mark.parametrize(
    ("text", "answer", "rule"),
    [
        ("work...\n#### 72", "72", "gsm8k"),
        ("#### 1\n#### 2", "2", "gsm8k"),
        ("#### 5 apples\nthanks", "5 apples", "gsm8k"),
        ("The answer is 12.", "12", "answer_line"),
        ("So the final answer is: $3/4$", "$3/4$", "answer_line"),
        ("Answer: 9", "9", "answer_line"),
        ("The answer is 1.\nActually the answer is 2.", "2", "answer_line"),
        ("#### 6 but \\boxed{7}", "7", "boxed"),
        ("The answer is 5\n#### 6", "6", "gsm8k"),
        ("nothing to see", None, "none"),
        ("####", None, "none"),
        ("\\boxed{}", None, "none"),
    ],
)
def test_extract_answer_rules(text, answer, rule):
    assert extract_answer(text) == (answer, rule)


def test_last_number_fallback_is_opt_in():
    assert extract_answer("I think it is 1,250 or so") == (None, "none")
    assert extract_answer("I think it is 1,250 or so", fallback="last_number") == ("1,250", "last_number")
    assert _score("I think 72", "72") == 0.0
    assert _score("I think 72", "72", fallback="last_number") == 1.0


# --------------------------------------------------------------------------------------
# equivalence: (reference answer, response, correct?)
# --------------------------------------------------------------------------------------

EQUIVALENCE = [
    # integers and GSM8K formats
    ("72", "#### 72", True),
    ("72", "The answer is 72.", True),
    ("72", "\\boxed{72}", True),
    ("72", "#### 73", False),
    ("72", "\\boxed{-72}", False),
    ("-3", "\\boxed{-3}", True),
    ("-3", "\\boxed{3}", False),
    ("0", "#### 0", True),
    ("1000", "#### 1,000", True),
    ("1000", "\\boxed{1{,}000}", True),
    ("1000", "#### 100", False),
    ("18", "#### $18", True),
    ("18", "\\boxed{\\$18}", True),
    ("18", "#### $18.00", True),
    ("10", "#### 10 apples", True),
    ("10", "\\boxed{10\\text{ apples}}", True),
    ("10", "Final answer: 10", True),
    ("10", "answer: 10 apples", True),
    ("1000000", "\\boxed{10^6}", True),
    ("1000000", "\\boxed{10^5}", False),
    ("Tom has 4 apples.\n#### 4", "#### 4", True),
    ("Tom has 4 apples.\n#### 4", "#### 5", False),
    ("1365", "#### 1,365", True),
    ("2070", "\\boxed{2070}", True),
    ("2070", "\\boxed{2007}", False),
    ("12", "The answer is 21.", False),
    # decimals
    ("72", "\\boxed{72.0}", True),
    ("72", "#### 72.00", True),
    ("2.5", "\\boxed{2.50}", True),
    ("2.5", "\\boxed{2.05}", False),
    ("0.1", "\\boxed{.1}", True),
    ("3.14", "\\boxed{3.14}", True),
    ("3.14", "\\boxed{3.15}", False),
    ("-0.75", "\\boxed{-\\frac{3}{4}}", True),
    ("-0.75", "\\boxed{\\frac{3}{4}}", False),
    ("0.001", "\\boxed{0.01}", False),
    # fractions
    ("0.5", "\\boxed{\\frac{1}{2}}", True),
    ("0.5", "\\boxed{1/2}", True),
    ("0.5", "\\boxed{\\frac{1}{3}}", False),
    ("\\frac{1}{3}", "\\boxed{0.333333}", True),
    ("\\frac{1}{3}", "\\boxed{0.33}", False),
    ("3/4", "\\boxed{\\dfrac{3}{4}}", True),
    ("3/4", "\\boxed{0.75}", True),
    ("3/4", "\\boxed{\\frac{4}{3}}", False),
    ("1.5", "\\boxed{\\frac32}", True),
    ("\\frac{6}{8}", "\\boxed{\\frac{3}{4}}", True),
    ("\\frac{2}{3}", "The answer is 2/3", True),
    ("\\frac{2}{3}", "The answer is 3/2", False),
    ("7/2", "\\boxed{3\\frac{1}{2}}", True),
    # percentages
    ("50\\%", "\\boxed{50\\%}", True),
    ("50\\%", "\\boxed{0.5}", True),
    ("0.5", "\\boxed{50\\%}", True),
    ("0.5", "The answer is 50%", True),
    ("25%", "#### 25%", True),
    ("25%", "#### 35%", False),
    ("0.25", "\\boxed{2.5\\%}", False),
    ("12.5\\%", "\\boxed{\\frac{1}{8}}", True),
    # LaTeX expressions
    ("\\sqrt{2}/2", "\\boxed{\\frac{\\sqrt{2}}{2}}", True),
    ("\\sqrt{2}/2", "\\boxed{\\frac{1}{\\sqrt{2}}}", True),
    ("\\sqrt{2}", "\\boxed{\\sqrt{3}}", False),
    ("2", "\\boxed{\\sqrt{4}}", True),
    ("x^2+2x+1", "\\boxed{(x+1)^2}", True),
    ("x^2+2x+1", "\\boxed{(x-1)^2}", False),
    ("x+y", "\\boxed{y+x}", True),
    ("x+y", "\\boxed{x-y}", False),
    ("\\frac{a}{b}", "\\boxed{a/b}", True),
    ("\\pi", "\\boxed{\\pi}", True),
    ("2\\pi", "\\boxed{6.283185}", True),
    ("3.14", "\\boxed{\\pi}", False),
    ("3", "\\boxed{x=3}", True),
    ("3", "\\boxed{x=4}", False),
    ("1", "\\boxed{\\lim_{x\\to 0} \\frac{\\sin x}{x}}", True),
    ("e^{2}", "\\boxed{e^2}", True),
    ("2^{10}", "\\boxed{1024}", True),
    ("\\binom{5}{2}", "\\boxed{10}", True),
    ("6", "\\boxed{3!}", True),
    ("\\log_2 8", "\\boxed{3}", True),
    # intervals
    ("[1,2)", "\\boxed{[1,2)}", True),
    ("[1,2)", "\\boxed{[1,2]}", False),
    ("(1,2)", "\\boxed{(1,2)}", True),
    ("(-\\infty, 0]", "\\boxed{(-\\infty,0]}", True),
    ("(-\\infty, 0]", "\\boxed{(-\\infty,0)}", False),
    ("[0, \\infty)", "\\boxed{[0,\\infty)}", True),
    ("(1, 3)", "\\boxed{(1,4)}", False),
    ("[-1, 1]", "\\boxed{[-1, 1]}", True),
    ("(0,1) \\cup (2,3)", "\\boxed{(0,1)\\cup(2,3)}", True),
    # sets
    ("\\{1,2,3\\}", "\\boxed{\\{3,2,1\\}}", True),
    ("\\{1,2,3\\}", "\\boxed{\\{1,2\\}}", False),
    ("\\{1,2\\}", "\\boxed{1,2}", True),
    ("\\{-2, 2\\}", "\\boxed{\\{2,-2\\}}", True),
    ("\\{-2, 2\\}", "\\boxed{\\{2\\}}", False),
    ("\\{\\}", "\\boxed{\\{1\\}}", False),
    ("\\{1,2,3\\}", "\\boxed{\\{1,2,3,4\\}}", False),
    ("\\{1,2\\}", "\\boxed{[1,2]}", False),
    # several answers: the last box wins, a box beats '####' and 'answer is'
    ("72", "\\boxed{71} wait, no: \\boxed{72}", True),
    ("72", "\\boxed{72} wait, no: \\boxed{71}", False),
    ("72", "\\boxed{\\boxed{72}}", True),
    ("5", "\\boxed{5} #### 6", True),
    ("6", "The answer is 5.\n#### 6", True),
    ("6", "#### 6\nThe answer is 5.", True),
    # malformed responses
    ("72", "\\boxed{72", False),
    ("72", "72", False),
    ("72", "I think 72", False),
    ("5", "\\boxed{}", False),
    ("5", "", False),
    ("5", "####", False),
    ("2", "\\boxed{2,}", False),
    ("5", "\\boxed{\\frac{}{}}", False),
    ("5", "\\boxed{\\left( 5}", True),  # math-verify is lenient: an unmatched \\left( is dropped
    ("5", "The answer is $$$$", False),
    ("5", "\\boxed{\\undefinedmacro{5}}", False),
    ("5", "\x00\x01\\boxed{\x02}", False),
]


def test_at_least_a_hundred_cases_both_ways():
    assert len(EQUIVALENCE) >= 100
    assert sum(ok for *_, ok in EQUIVALENCE) >= 40 and sum(not ok for *_, ok in EQUIVALENCE) >= 40


@pytest.mark.parametrize(("gold", "response", "correct"), EQUIVALENCE)
def test_equivalence(gold, response, correct):
    result = math_reward(Sample("q", response, {"answer": gold}))
    assert result.score == float(correct), result.info
    assert result.components["correct"] == float(correct)
    assert (result.info == "") == correct


# --------------------------------------------------------------------------------------
# hostile answers: no crash, bounded time
# --------------------------------------------------------------------------------------

HOSTILE = [
    "\\boxed{10^{10^{10}}}",
    "\\boxed{9^{9^{9^{9^{9}}}}}",
    "\\boxed{(10^{100})!}",
    "\\boxed{2^{2^{2^{2^{2^{2^{2}}}}}}}",
    "\\boxed{\\prod_{k=1}^{10^{12}} k}",
    "\\boxed{" + "x^" * 100 + "x}",
    "\\boxed{" + "\\frac{1}{" * 28 + "2" + "}" * 28 + "}",
    "\\boxed{" + "(" * 140 + "1" + ")" * 140 + "}",
    "\\boxed{" + "{" * 140 + "1" + "}" * 140 + "}",
    "\\boxed{" + "\\sqrt{" * 40 + "2" + "}" * 40 + "}",
    "\\boxed{" * 5000 + "1" + "}" * 5000,
    "\\boxed{" * 5000 + "1",
    "\\boxed{" + "9" * 5000 + "}",
    "#### " + "1" * 100_000,
    "The answer is " + "(" * 10_000,
    "\\boxed{1}" * 20_000,
    "x" * 1_000_000 + "\\boxed{1}",
    "\\boxed{\\begin{pmatrix}" + "&".join(["1"] * 60) + "\\end{pmatrix}}",
    "\\boxed{1e100000}",
    "The answer is 9**9**9**9",
]


@pytest.mark.parametrize("response", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_answers_neither_crash_nor_hang(response):
    start = time.monotonic()
    result = math_reward(Sample("q", response, {"answer": "7"}), timeout_s=1)
    took = time.monotonic() - start
    assert result.score == 0.0 and result.components["correct"] == 0.0
    assert result.info
    # a few 1 s timeouts (extract, parse, verify) at most; the bound leaves room for a loaded CI machine
    assert took < 15.0, f"took {took:.1f}s"


def test_a_long_response_is_read_from_its_end():
    assert _score("x" * 50_000 + "#### 7", "7") == 1.0
    assert _score("#### 7" + "x" * 50_000, "7") == 0.0
    assert _score("#### 7" + " " * 100, "7", max_response_chars=200) == 1.0


def test_answer_length_bound():
    result = math_reward(Sample("q", "\\boxed{" + "1" * 400 + "}", {"answer": "1" * 400}))
    assert result.score == 0.0 and "longer than 300" in result.info
    assert _score("\\boxed{" + "1" * 400 + "}", "1" * 400, max_answer_chars=500) == 1.0


def test_off_main_thread_runs_without_signals():
    """math-verify's SIGALRM timeouts only work in the main thread; elsewhere the check still runs."""
    results = []
    worker = threading.Thread(target=lambda: results.append(_score("\\boxed{\\frac{1}{2}}", "0.5")))
    worker.start()
    worker.join(timeout=30)
    assert results == [1.0]


# --------------------------------------------------------------------------------------
# params, components, plugin resolution
# --------------------------------------------------------------------------------------


def test_format_component_and_weight():
    result = math_reward(Sample("q", "#### 4", {"answer": "5"}), format_weight=0.25)
    assert result.score == 0.25 and result.components == {"correct": 0.0, "format": 1.0}
    result = math_reward(Sample("q", "\\boxed{5}", {"answer": "5"}), format_weight=0.25)
    assert result.score == 1.25 and result.components == {"correct": 1.0, "format": 1.0}
    result = math_reward(Sample("q", "it is 5", {"answer": "5"}), format_weight=0.25, fallback="last_number")
    assert result.score == 1.0 and result.components == {"correct": 1.0, "format": 0.0}
    result = math_reward(Sample("q", "no idea", {"answer": "5"}), format_weight=0.25)
    assert result.score == 0.0 and result.info == "no answer found"


def test_bad_params_and_missing_reference_are_clear_errors():
    with pytest.raises(ValueError, match="unknown fallback 'first'"):
        math_reward(Sample("q", "#### 1", {"answer": "1"}), fallback="first")
    with pytest.raises(ValueError, match="no reference field 'answer'"):
        math_reward(Sample("q", "#### 1", {"solution": "1"}))
    with pytest.raises(ValueError, match="cannot parse the reference answer ' '"):
        math_reward(Sample("q", "#### 1", {"answer": " "}))


def test_registered_with_a_description():
    plugin = resolve_reward("math")
    assert plugin.fn is math_reward and "boxed" in plugin.description
    results = plugin([Sample("q", "#### 3", {"answer": "3"}), Sample("q", "#### 4", {"answer": "3"})], {"format_weight": 0.5})
    assert [r.score for r in results] == [1.5, 0.5]
