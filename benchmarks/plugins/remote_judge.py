"""A reward that waits like a remote judge: `latency_s` of I/O wait per sample (no CPU), then the exact
answer check. For benchmarks/async_overlap.py: on 2 cores, overlap can only help where a phase waits."""

from __future__ import annotations

import time

from rewards.exact import exact_answer


def judge(sample, latency_s: float = 0.004):
    time.sleep(latency_s)
    return exact_answer(sample)
