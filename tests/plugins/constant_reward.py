"""A reward that ignores the response: shows which binding scored a sample."""

from __future__ import annotations


def constant(sample, value: float = 0.5) -> float:
    return value
