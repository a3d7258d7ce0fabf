"""The rollout engines as Ray actors behind `RolloutEngines`: prompts spread over them, one
replaced when it dies or hangs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ray

from rlpost.cluster.failures import get_from
from rlpost.rollout import Completion, SamplingSpec
from rlpost.trainer.protocols import ENGINE_ROLE


class RayEngines:
    def __init__(self, new_engine: Callable[[int], Any], timeout_s: float):
        """`new_engine(i)` starts actor i (not waited on: see `wait_ready`)."""
        self.new_engine, self.timeout_s = new_engine, timeout_s
        self.actors: list[Any] = []

    def start(self, count: int) -> None:
        for i in range(len(self.actors), count):
            self.actors.append(self.new_engine(i))

    def wait_ready(self) -> None:
        get_from(ENGINE_ROLE, [a.ready.remote() for a in self.actors], self.timeout_s)

    def generate(self, prompts: list[list[int]], spec: SamplingSpec) -> list[list[Completion]]:
        count = len(self.actors)
        shards = [list(range(i, len(prompts), count)) for i in range(count)]
        futures = [a.generate.remote([prompts[j] for j in idx], spec) for a, idx in zip(self.actors, shards)]
        groups: list[Any] = [None] * len(prompts)
        for idx, result in zip(shards, get_from(ENGINE_ROLE, futures, self.timeout_s)):
            for j, completions in zip(idx, result):
                groups[j] = completions
        return groups

    def restart(self, index: int) -> None:
        ray.kill(self.actors[index], no_restart=True)
        self.actors[index] = self.new_engine(index)
        get_from(ENGINE_ROLE, [self.actors[index].ready.remote()], self.timeout_s)

    def load(self, weights_ref: Any) -> float:
        """Every engine loads the packed weights behind `weights_ref`; the slowest engine's seconds."""
        return max(get_from(ENGINE_ROLE, [a.update_weights.remote(weights_ref) for a in self.actors], self.timeout_s))

    def close(self) -> None:
        for actor in self.actors:
            ray.kill(actor, no_restart=True)
