"""A pool of reward worker actors: parallel scoring, per-sample time bounds, failure isolation.

Samples are sent to workers in chunks. A chunk that raises, times out or loses its worker is
split and retried sample by sample on a fresh worker, so only the culprit gets the fallback
score and a recorded error; the run goes on.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import ray

from rlpost.rewards import Sample, Scored, resolve_reward, score_with_bindings

STARTUP_TIMEOUT_S = 300.0


class RewardWorker:
    def __init__(self, bindings: dict[str, list[dict[str, Any]]], fallback: float):
        self.fallback = fallback
        self.bindings = {
            env: [(resolve_reward(b["name"]), b["weight"], b["params"]) for b in specs] for env, specs in bindings.items()
        }

    def ready(self) -> bool:
        return True

    def score(self, samples: list[Sample]) -> list[Scored]:
        by_env: dict[str, list[int]] = {}
        for i, s in enumerate(samples):
            by_env.setdefault(s.env, []).append(i)
        out: list[Scored] = [Scored(self.fallback)] * len(samples)
        for env, idx in by_env.items():
            results = score_with_bindings(self.bindings[env], [samples[i] for i in idx], self.fallback)
            for i, r in zip(idx, results):
                out[i] = r
        return out


RewardActor = ray.remote(RewardWorker)


class RewardPool:
    def __init__(
        self,
        bindings: dict[str, list[dict[str, Any]]],
        num_workers: int,
        timeout_s: float,
        fallback: float,
        actor_options: dict[str, Any],
    ):
        self.bindings, self.timeout_s, self.fallback = bindings, timeout_s, fallback
        self.options = actor_options
        self.workers = [self._spawn() for _ in range(num_workers)]
        self.restarts = 0
        ray.get([w.ready.remote() for w in self.workers], timeout=STARTUP_TIMEOUT_S)

    def _spawn(self):
        return RewardActor.options(**self.options).remote(self.bindings, self.fallback)

    def _replace(self, slot: int) -> None:
        """Kill the worker in `slot` and start a fresh one; its start-up does not count against timeouts."""
        ray.kill(self.workers[slot], no_restart=True)
        self.workers[slot] = self._spawn()
        ray.get(self.workers[slot].ready.remote(), timeout=STARTUP_TIMEOUT_S)
        self.restarts += 1

    def score(self, samples: list[Sample], chunk_size: int = 16) -> list[Scored]:
        results: list[Scored | None] = [None] * len(samples)
        todo = deque(list(range(i, min(i + chunk_size, len(samples)))) for i in range(0, len(samples), chunk_size))
        idle = list(range(len(self.workers)))
        running: dict[Any, tuple[int, list[int], float]] = {}
        while todo or running:
            while todo and idle:
                slot, chunk = idle.pop(), todo.popleft()
                ref = self.workers[slot].score.remote([samples[i] for i in chunk])
                running[ref] = (slot, chunk, time.monotonic())
            done, _ = ray.wait(list(running), num_returns=1, timeout=0.2)
            for ref in done:
                slot, chunk, _ = running.pop(ref)
                try:
                    for i, r in zip(chunk, ray.get(ref)):
                        results[i] = r
                    idle.append(slot)
                except Exception as e:  # noqa: BLE001 - a dead or broken worker is replaced
                    self._replace(slot)
                    idle.append(slot)
                    self._fail(chunk, f"reward worker failed: {type(e).__name__}: {str(e)[:300]}", todo, results)
            now = time.monotonic()
            for ref, (slot, chunk, started) in list(running.items()):
                if now - started > self.timeout_s * len(chunk):
                    running.pop(ref)
                    self._replace(slot)
                    idle.append(slot)
                    self._fail(chunk, f"reward timed out after {self.timeout_s:g}s", todo, results)
        return results  # type: ignore[return-value]

    def _fail(self, chunk: list[int], error: str, todo: deque, results: list[Scored | None]) -> None:
        if len(chunk) > 1:
            todo.extend([i] for i in chunk)
        else:
            results[chunk[0]] = Scored(self.fallback, error=error)

    def close(self) -> None:
        for w in self.workers:
            ray.kill(w, no_restart=True)
