"""Reward plugins that misbehave on purpose, keyed by the response text."""

from __future__ import annotations

import os
import time


def unruly(sample) -> float:
    if sample.response == "raise":
        raise RuntimeError("plugin exploded")
    if sample.response == "hang":
        time.sleep(3600)
    if sample.response == "die":
        os._exit(1)
    if sample.response == "nan":
        return float("nan")
    return float(len(sample.response))
