"""The `math` reward: extract the final answer and check it against the reference with math-verify.

Extraction, first rule that matches (only the last `max_response_chars` of a response are read):
1. `\\boxed{...}` (or `\\fbox{...}`): the content of the *last* top-level box, braces matched, so
   a model that boxes a draft and then its final answer is judged on the final one;
2. GSM8K's `#### <answer>`: the rest of the line after the last `####`;
3. a line saying "the (final) answer is <x>" or "answer: <x>": the last such line;
4. with `fallback: last_number`, the last number in the response (off by default).
The reference `answer` goes through the same rules and is used whole when none matches (so a
GSM8K solution or a bare "72" both work). Equivalence is math-verify's: integers, decimals
(to 6 places), fractions, percentages, LaTeX expressions, intervals and sets.

Guards: an extracted answer longer than `max_answer_chars` is wrong without being parsed, and
math-verify's parse and compare are each bounded by `timeout_s` (whole seconds, SIGALRM). Signals
work only in a process's main thread, which is where reward workers call plugins (Ray runs a
default actor's methods there); called from another thread, the checks run without that
bound and the reward pool's per-sample timeout is what stops a runaway comparison.

Components: `correct` (0/1) and `format` (1 when rule 1, 2 or 3 found the answer). Score =
correct + format_weight * format.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

from rlpost.rewards import RewardResult, Sample, register_reward

_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")
_ANSWER_LINE = re.compile(r"(?:final\s+answer|the\s+answer)\s*(?:is|=|:)\s*:?\s*(.+)|^\s*answer\s*:\s*(.+)", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
FALLBACKS = ("none", "last_number")


def last_boxed(text: str) -> str | None:
    """Content of the last top-level \\boxed{...}; None when there is none or it is never closed."""
    found, pos = None, 0
    while (m := _BOX.search(text, pos)) is not None:
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth:
            return found
        found, pos = text[m.end() : i - 1], i
    return found


def _gsm8k(text: str) -> str | None:
    head, sep, tail = text.rpartition("####")
    return tail.strip().splitlines()[0].strip() if sep and tail.strip() else None


def _answer_line(text: str) -> str | None:
    for line in reversed(text.strip().splitlines()):
        m = _ANSWER_LINE.search(line)
        if m:
            return (m.group(1) or m.group(2)).strip().rstrip(".").strip()
    return None


def extract_answer(text: str, fallback: str = "none") -> tuple[str | None, str]:
    """(answer, rule) for `text`; rule is boxed, gsm8k, answer_line, last_number or none."""
    for rule, fn in (("boxed", last_boxed), ("gsm8k", _gsm8k), ("answer_line", _answer_line)):
        found = fn(text)
        if found is not None and found.strip():
            return found.strip(), rule
    if fallback == "last_number":
        numbers = _NUMBER.findall(text)
        if numbers:
            return numbers[-1], "last_number"
    return None, "none"


def _as_latex(answer: str) -> str:
    """Wrap an extracted answer so math-verify reads it as LaTeX: strip `$`, escape a bare `%`."""
    body = answer.strip().strip("$").strip()
    body = re.sub(r"(?<!\\)%", r"\\%", body)
    return f"\\boxed{{{body}}}"


@lru_cache(maxsize=4096)
def _parsed_reference(answer: str, timeout: int | None) -> tuple:
    """The reference's parse (cached: a prompt's n samples share it); an unparsable reference is an error."""
    from math_verify import parse

    extracted, _ = extract_answer(answer)
    parsed = tuple(parse(_as_latex(extracted or answer), parsing_timeout=timeout))
    if not parsed:
        raise ValueError(f"math: cannot parse the reference answer {answer[-80:]!r}")
    return parsed


@register_reward("math")
def math_reward(
    sample: Sample,
    format_weight: float = 0.0,
    fallback: str = "none",
    timeout_s: int = 2,
    max_answer_chars: int = 300,
    max_response_chars: int = 20_000,
) -> RewardResult:
    """1 if the final answer (last \\boxed{}, '#### n' or 'answer is ...') equals the reference per math-verify."""
    from math_verify import parse, verify  # sympy takes half a second to import; `rlpost check` does not need it

    if fallback not in FALLBACKS:
        raise ValueError(f"math: unknown fallback {fallback!r}; expected one of {FALLBACKS}")
    if "answer" not in sample.reference:
        raise ValueError("math: the sample has no reference field 'answer'")
    timeout = int(timeout_s) if threading.current_thread() is threading.main_thread() else None
    gold = list(_parsed_reference(str(sample.reference["answer"]), timeout))
    answer, rule = extract_answer(sample.response[-max_response_chars:], fallback)
    fmt = float(rule in ("boxed", "gsm8k", "answer_line"))
    if answer is None:
        return RewardResult(format_weight * fmt, {"correct": 0.0, "format": fmt}, "no answer found")
    if len(answer) > max_answer_chars:
        return RewardResult(format_weight * fmt, {"correct": 0.0, "format": fmt}, f"answer longer than {max_answer_chars} chars")
    predicted = parse(_as_latex(answer), parsing_timeout=timeout)
    correct = float(bool(predicted) and verify(gold, predicted, timeout_seconds=timeout))
    info = "" if correct else f"{rule}: {answer[:60]!r}"
    return RewardResult(correct + format_weight * fmt, {"correct": correct, "format": fmt}, info)
