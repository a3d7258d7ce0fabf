"""A pool of reward worker actors: parallel scoring, a time bound per sample, failure isolation.

Samples travel to the workers in chunks of units. A unit is one sample, or, for a binding with a
batched plugin, a run of samples of that binding scored in one call. A worker streams the finished
units back at least every `FLUSH_S` while it makes progress, so the pool's clock restarts with
each report: a hung sample costs about 2 × `timeout_s` (once in its chunk, whose unreported units
then go again one by one, and once alone), never the whole chunk's budget. A sample that times
out alone gets the fallback score and a recorded error; one whose worker dies alone is sent once
more on a fresh worker first (a batched unit is split and retried sample by sample); the run goes
on.

Bindings are keyed by the environment's key path in the config (`stages.0.envs.1`), so one
environment bound to different rewards in two stages is scored by each stage's own rewards.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import ray

from rlpost.cluster.failures import get_from
from rlpost.config import RewardWorkersConfig
from rlpost.rewards import Sample, Scored, resolve_reward, score_with_bindings

ROLE = "reward worker"
STARTUP_TIMEOUT_S = 300.0
POLL_S = 0.2
FLUSH_S = 0.05  # a worker reports finished units at least this often


class RewardWorker:
    def __init__(self, bindings: dict[str, list[dict[str, Any]]], fallback: float):
        self.fallback = fallback
        self.bindings = {
            key: [(resolve_reward(b["name"]), b["weight"], b["params"]) for b in specs] for key, specs in bindings.items()
        }
        for specs in self.bindings.values():  # model loads and the like, outside the per-sample time bound
            for plugin, _, params in specs:
                plugin.warm_up(params)

    def ready(self) -> bool:
        return True

    def score(self, units: list[list[Sample]], keys: list[str]) -> Iterator[list[list[Scored]]]:
        """The units' results in order (unit i scored by binding `keys[i]`), streamed as lists of finished
        units: one yield at least every `FLUSH_S` while scoring goes on, so a hung unit is seen within
        `timeout_s` of its start, while cheap samples do not cost one object each."""
        done: list[list[Scored]] = []
        last = time.monotonic()
        for unit, key in zip(units, keys):
            done.append(score_with_bindings(self.bindings[key], unit, self.fallback))
            if time.monotonic() - last >= FLUSH_S:
                yield done
                done, last = [], time.monotonic()
        if done:
            yield done


RewardActor = ray.remote(RewardWorker)


@dataclass
class _Running:
    slot: int
    units: list[list[int]]  # sample indices per unit
    keys: list[str]
    done: int = 0  # units returned so far
    since: float = field(default_factory=time.monotonic)  # when the current unit started


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
        self.batched = {key: any(resolve_reward(b["name"]).batched for b in specs) for key, specs in bindings.items()}
        self.options = actor_options
        self.restarts = 0
        self.workers: list[Any] = []
        try:
            for _ in range(num_workers):
                self.workers.append(self._spawn())
            get_from(ROLE, [w.ready.remote() for w in self.workers], STARTUP_TIMEOUT_S)
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_config(cls, bindings: dict[str, list[dict[str, Any]]], cfg: RewardWorkersConfig) -> RewardPool:
        """Workers as `rewards.*` says, one thread each."""
        from rlpost.cluster.runtime import actor_options

        return cls(bindings, cfg.num_workers, cfg.timeout_s, cfg.fallback_score, actor_options({"OMP_NUM_THREADS": "1"}))

    def _spawn(self):
        return RewardActor.options(**self.options).remote(self.bindings, self.fallback)

    def _replace(self, slot: int) -> None:
        """Kill the worker in `slot` and start a fresh one; its start-up does not count against timeouts."""
        ray.kill(self.workers[slot], no_restart=True)
        self.workers[slot] = self._spawn()
        ray.get(self.workers[slot].ready.remote(), timeout=STARTUP_TIMEOUT_S)
        self.restarts += 1

    def _units(self, keys: list[str], chunk_size: int) -> list[tuple[str, list[int]]]:
        """(binding, sample indices): one sample per unit, or runs of one batched binding's samples."""
        units: list[tuple[str, list[int]]] = []
        for i, key in enumerate(keys):
            if key not in self.bindings:
                raise KeyError(f"no reward binding {key!r}; known: {sorted(self.bindings)}")
            if self.batched[key] and units and units[-1][0] == key and len(units[-1][1]) < chunk_size:
                units[-1][1].append(i)
            else:
                units.append((key, [i]))
        return units

    def score(self, samples: list[Sample], bindings: list[str], chunk_size: int = 16) -> list[Scored]:
        """One result per sample, in order; `bindings[i]` names the rewards of sample i."""
        if len(bindings) != len(samples):
            raise ValueError(f"{len(samples)} samples but {len(bindings)} binding keys")
        results: list[Scored | None] = [None] * len(samples)
        self._retried: set[int] = set()  # samples already sent again after their worker died
        units = self._units(bindings, chunk_size)
        todo: deque[list[tuple[str, list[int]]]] = deque()
        chunk: list[tuple[str, list[int]]] = []
        for unit in units:
            chunk.append(unit)
            if sum(len(u[1]) for u in chunk) >= chunk_size:
                todo.append(chunk)
                chunk = []
        if chunk:
            todo.append(chunk)
        idle = list(range(len(self.workers)))
        running: dict[Any, _Running] = {}
        while todo or running:
            while todo and idle:
                slot, work = idle.pop(), todo.popleft()
                units_ = [[samples[i] for i in idx] for _, idx in work]
                keys = [key for key, _ in work]
                gen = self.workers[slot].score.options(num_returns="streaming").remote(units_, keys)
                running[gen] = _Running(slot, [idx for _, idx in work], keys)
            ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL_S)
            for gen in ready:
                self._advance(gen, running, todo, idle, results)
            now = time.monotonic()
            for gen, run in list(running.items()):
                if now - run.since > self.timeout_s * len(run.units[run.done]):
                    self._lost(gen, running, idle)
                    self._fail(run, f"reward timed out after {self.timeout_s:g}s", todo, results)
        return results  # type: ignore[return-value]

    def _advance(self, gen: Any, running: dict[Any, _Running], todo: deque, idle: list[int], results: list) -> None:
        """Take the next unit's results from a ready stream (or its end, or its worker's failure)."""
        run = running[gen]
        try:
            ref = next(gen)
        except StopIteration:
            running.pop(gen)
            idle.append(run.slot)
            return
        try:
            finished = ray.get(ref)
        except Exception as e:  # noqa: BLE001 - a dead or broken worker is replaced
            self._lost(gen, running, idle)
            self._fail(run, f"reward worker failed: {type(e).__name__}: {str(e)[:300]}", todo, results, retry=True)
            return
        for scored in finished:
            for i, r in zip(run.units[run.done], scored):
                results[i] = r
            run.done += 1
        run.since = time.monotonic()
        if run.done == len(run.units):  # the worker is free once its last unit is in (the stream's end may lag)
            running.pop(gen)
            idle.append(run.slot)

    def _lost(self, gen: Any, running: dict[Any, _Running], idle: list[int]) -> None:
        """A stream whose worker hung or died: the worker is replaced and its slot free again."""
        run = running.pop(gen)
        self._replace(run.slot)
        idle.append(run.slot)

    def _fail(self, run: _Running, error: str, todo: deque, results: list[Scored | None], retry: bool = False) -> None:
        """The chunk failed somewhere after its last report. With several units left, which one is unknown, so
        each goes again alone. A lone batched unit is split into its samples; a lone sample whose worker died is
        sent once more (the worker may have died of something else); otherwise it gets the fallback score."""
        rest = list(zip(run.keys[run.done :], run.units[run.done :]))
        if len(rest) > 1:
            todo.extend([unit] for unit in rest)
            return
        ((key, unit),) = rest
        if len(unit) > 1:
            todo.extend([(key, [i])] for i in unit)
        elif retry and unit[0] not in self._retried:
            self._retried.add(unit[0])
            todo.append([(key, unit)])
        else:
            results[unit[0]] = Scored(self.fallback, error=error)

    def close(self) -> None:
        for w in self.workers:
            ray.kill(w, no_restart=True)
