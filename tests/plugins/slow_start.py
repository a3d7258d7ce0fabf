"""A reward whose warm-up takes `warm_s` seconds (a stand-in for a model load) and whose scoring is instant."""

from __future__ import annotations

import os
import time

from rlpost.rewards import register_reward


def _warm(warm_s: float = 0.0, **_) -> None:
    time.sleep(warm_s)
    os.environ["SLOW_START_WARMED"] = str(warm_s)


@register_reward("test_slow_start", warmup=_warm)
def slow_start(sample, warm_s: float = 0.0) -> float:
    """1 when this worker process ran the warm-up with these params, else 0."""
    return float(os.environ.get("SLOW_START_WARMED") == str(warm_s))
