"""A reward with signal even for an untrained model: the share of digits in the response.

Loaded by file path from the test configs, the way a user's own plugin would be."""

from __future__ import annotations


def digit_fraction(sample, bonus: float = 0.0) -> float:
    text = sample.response
    return bonus + (sum(ch.isdigit() for ch in text) / len(text) if text else 0.0)
