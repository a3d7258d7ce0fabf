"""Exact-answer reward: 1 when the response's answer equals the reference `answer`."""

from __future__ import annotations

import re

from rlpost.rewards import RewardResult, Sample, register_reward

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@register_reward("exact_answer")
def exact_answer(sample: Sample, mode: str = "strip") -> RewardResult:
    """1.0 if the response matches the reference answer exactly (mode strip) or its first number does (mode first_number)."""
    reference = str(sample.reference["answer"]).strip()
    if mode == "strip":
        got = sample.response.strip()
    elif mode == "first_number":
        found = _NUMBER.search(sample.response)
        got = found.group(0) if found else ""
    else:
        raise ValueError(f"exact_answer: unknown mode {mode!r}; expected 'strip' or 'first_number'")
    correct = got == reference
    return RewardResult(float(correct), {"correct": float(correct)}, "" if correct else f"got {got[:40]!r}")
