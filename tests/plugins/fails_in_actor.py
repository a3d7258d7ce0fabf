"""A reward plugin that loads in the driver but fails to load inside a Ray actor (a reward worker)."""

from __future__ import annotations

import ray

if ray.is_initialized() and ray.get_runtime_context().get_actor_id() is not None:
    raise RuntimeError("this plugin cannot load in a reward worker")


def score(sample) -> float:
    return 0.0
