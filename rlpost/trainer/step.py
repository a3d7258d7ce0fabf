"""One training step, written against the protocols (`rlpost.trainer.protocols`).

`produce_with_retries` is steps 1–4 of docs/architecture.md: `generate` (draw rows, generate) then
`score` (rewards, filter, shaping); `consume` is steps 5–8 (logprobs, advantages, optimizer steps,
weight sync, metrics). The synchronous step is `consume(produce_with_retries())`; `rollout.mode`
one_step / async makes batches in background threads (`rlpost.trainer.pipeline.AheadProducer`:
`generate` in one, `score` in the other) at most `rollout.max_staleness` steps ahead. Every sample carries the
policy version that generated it (`RolloutBatch.policy_versions`: the number of steps whose
weights had been pushed when its generation got its turn), so its lag is known.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TypeVar

from rlpost.batch import RolloutBatch
from rlpost.config import ExperimentConfig
from rlpost.data import PromptSampler
from rlpost.rollout import Completion, SamplingSpec
from rlpost.trainer.metrics import Timer, staleness_metrics, step_metrics
from rlpost.trainer.pipeline import AheadProducer
from rlpost.trainer.protocols import ENGINE_ROLE, ActorFailure, Cluster, RolloutEngines
from rlpost.trainer.rollout import RolloutPlan, rollout
from rlpost.trainer.sampling import collect_groups
from rlpost.trainer.scoring import score_batch, shape_rewards
from rlpost.trainer.settings import StageAlgorithm

T = TypeVar("T")
EventFn = Callable[..., None]  # (kind, step=..., **fields) -> None, e.g. Trainer.event


@dataclass
class Produced:
    """A scored, filtered, shaped rollout batch and what producing it cost."""

    batch: RolloutBatch
    stats: dict[str, float] = field(default_factory=dict)  # sampling/*, events/step_retries
    timer: Timer = field(default_factory=Timer)
    sampler_state: dict | None = None  # the sampler after drawing this batch's rows (what a checkpoint resumes from)
    scored: bool = False  # rewards in (dynamic sampling scores while it draws)


@dataclass
class StepResult:
    metrics: dict[str, float]
    batch: RolloutBatch
    sampler_state: dict | None = None  # see Produced
    in_flight: int = 0  # batches of later steps already begun (regenerated from the same rows after a resume)


class Step:
    def __init__(self, cfg: ExperimentConfig, cluster: Cluster, tokenizer, pad_id: int, on_event: EventFn):
        self.cfg, self.cluster, self.tokenizer, self.pad_id, self.on_event = cfg, cluster, tokenizer, pad_id, on_event
        self.finished = 0  # the policy version: steps whose weights have been pushed
        self._engines = threading.Lock()  # engine restarts and weight pushes, from the producer and consumer threads
        # On shared CPU cores, generation and the learners' passes take turns even when the producer runs
        # ahead: two thread pools on the same cores are several times slower than one after the other, so
        # only waits (reward plugins, I/O) overlap with compute. On GPUs they run side by side.
        self._compute = nullcontext() if cfg.cluster.use_gpu else threading.Lock()

    @property
    def on_policy(self) -> bool:
        """One optimizer step per rollout batch: the learner takes the old logprobs in the step itself."""
        return self.cfg.learner.epochs == 1 and self.cfg.mini_batch_size == self.cfg.batch_size

    def steps(self, sampler: PromptSampler, algo: StageAlgorithm, first: int, count: int) -> Iterator[StepResult]:
        """Steps `first` .. `first + count - 1` (global numbers) of a stage, each once and in order, in the
        configured rollout mode; a rollout engine that fails is restarted and its part redone on the same rows."""
        self.finished = first - 1
        ahead = self.cfg.rollout.staleness_bound
        if ahead == 0:
            for step in range(first, first + count):
                start, restarts = time.perf_counter(), self.cluster.rewards.restarts
                yield self.finish(self.produce_with_retries(sampler, algo, step), algo, step, start, restarts, {})
            return
        producer = AheadProducer(
            lambda k: self.generate_with_retries(sampler, algo, first + k), lambda g: self.score(g, algo), 0, count, ahead
        )
        try:
            start = time.perf_counter()
            for step in range(first, first + count):
                restarts, waited = self.cluster.rewards.restarts, producer.wait_s
                produced, idle = producer.take()
                overlap = {"time/learner_idle_s": idle}
                result = self.finish(produced, algo, step, start, restarts, overlap)
                result.metrics["time/producer_wait_s"] = producer.wait_s - waited
                producer.finished_step()
                result.in_flight = producer.in_flight
                start = time.perf_counter()
                yield result
        finally:
            producer.close()

    def finish(
        self, produced: Produced, algo: StageAlgorithm, step: int, start: float, restarts: int, extra: dict[str, float]
    ) -> StepResult:
        """`consume`, then the step's totals: `start` is when the step began, `restarts` the reward worker
        restarts before it."""
        metrics = self.consume(produced, algo, step)
        metrics.update(extra)
        metrics["events/reward_worker_restarts"] = float(self.cluster.rewards.restarts - restarts)
        metrics["time/step_s"] = time.perf_counter() - start
        metrics["time/overhead_s"] = metrics["time/step_s"] - sum(produced.timer.times.values())
        self.finished = step
        return StepResult(metrics, produced.batch, produced.sampler_state)

    # ----- producer: 1 draw, 2 generate, 3 score, 4 filter ---------------------------------------
    def generate(self, sampler: PromptSampler, algo: StageAlgorithm, timer: Timer) -> Produced:
        """Steps 1–2: draw rows and generate. With dynamic sampling also 3–4 for every round, since whether to
        draw more depends on the scores (`Produced.scored`)."""
        plan = RolloutPlan.from_config(self.cfg.rollout, algo.algorithm.greedy_baseline, self.pad_id)

        def draw(round_index: int) -> RolloutBatch:
            engines = _Taking(self.cluster.engines, self._compute, lambda: self.finished)
            batch = rollout(engines, self.tokenizer, sampler, plan, timer, round_index * plan.prompts, self.finished)
            batch.policy_versions.fill_(engines.version)  # the version when generation got its turn
            return batch

        if not algo.config.dynamic_sampling:
            return Produced(draw(0), {}, timer)

        def draw_scored(round_index: int) -> RolloutBatch:
            batch = draw(round_index)
            score_batch(batch, self.cluster.rewards, timer)
            return batch

        batch, stats = collect_groups(draw_scored, plan.prompts, algo.config.max_sampling_rounds, self.pad_id)
        return Produced(batch, stats, timer, scored=True)

    def score(self, produced: Produced, algo: StageAlgorithm) -> Produced:
        """Steps 3–4 of a generated batch: rewards (unless dynamic sampling scored it already), then shaping."""
        if not produced.scored:
            score_batch(produced.batch, self.cluster.rewards, produced.timer)
        shape_rewards(produced.batch, algo.params, self.cfg.rollout.max_new_tokens)
        return produced

    def generate_with_retries(self, sampler: PromptSampler, algo: StageAlgorithm, step: int) -> Produced:
        """`generate` of the batch for `step`, redone on the same rows after a rollout engine died, hung or raised (the
        engine is restarted with the current weights first), at most `cluster.max_step_retries` times."""
        position = sampler.state()

        def recover() -> None:
            self.cluster.weights.push()
            sampler.load_state(position)

        produced, attempts = self.retry_engines(lambda: self.generate(sampler, algo, Timer()), recover, step)
        produced.stats["events/step_retries"] = float(attempts)
        produced.sampler_state = sampler.state()
        return produced

    def produce_with_retries(self, sampler: PromptSampler, algo: StageAlgorithm, step: int) -> Produced:
        """Steps 1–4 of the batch for `step` (engine failures retried as in `generate_with_retries`)."""
        return self.score(self.generate_with_retries(sampler, algo, step), algo)

    def retry_engines(self, action: Callable[[], T], recover: Callable[[], None], step: int) -> tuple[T, int]:
        """`action()` and the retries it took: after a rollout engine fails, the engine is restarted (and the
        event recorded at `step`), `recover()` runs and the action again, at most `cluster.max_step_retries` times.
        Any other failure, or one too many, propagates."""
        retries = self.cfg.cluster.max_step_retries
        for attempt in range(retries + 1):
            try:
                return action(), attempt
            except ActorFailure as failure:
                if failure.role != ENGINE_ROLE or attempt == retries:
                    raise
                self.on_event("restart", step=step, actor=f"{failure.role} {failure.index}", error=str(failure))
                with self._engines:
                    self.cluster.engines.restart(failure.index)
                    recover()
        raise AssertionError("unreachable")

    # ----- consumer: 5 logprobs, 6 advantages + optimizer steps, 7 weight sync, 8 metrics ----------
    def consume(self, produced: Produced, algo: StageAlgorithm, step: int) -> dict[str, float]:
        with self._compute:
            return self._consume(produced, algo, step)

    def _consume(self, produced: Produced, algo: StageAlgorithm, step: int) -> dict[str, float]:
        batch, timer, learners = produced.batch, produced.timer, self.cluster.learners
        if not self.on_policy or algo.kl_in_reward:
            with timer("old_logprobs"):
                batch.old_logprobs = learners.old_logprobs(batch)
        if learners.has_reference:
            with timer("ref"):
                batch.ref_logprobs = learners.ref_logprobs(batch)
        if learners.has_critic:
            with timer("values"):
                batch.values = learners.values(batch)
        adv = algo.algorithm.advantages(batch, algo.params)
        batch.advantages, batch.returns = adv.advantages, adv.returns
        train_policy = not learners.has_critic or step > self.cfg.critic.warmup_steps
        with timer("train"):
            stats = learners.train(batch, policy=train_policy)
        timer.times["time/weight_sync_s"] = 0.0
        sync_s = 0.0
        if train_policy:
            with timer("weight_sync"):
                sync_s = self.sync_weights(produced, step)
        metrics = step_metrics(batch, stats, sync_s)
        metrics.update(staleness_metrics(batch, step - 1))
        metrics.update(adv.stats)
        metrics.update(produced.stats)
        if "kl/mean" in metrics:
            metrics["kl/coef"] = algo.adapt_kl(metrics["kl/mean"], len(batch))
        else:
            metrics["kl/coef"] = algo.params["kl_coef"]
        metrics.update(timer.times)
        return metrics

    def sync_weights(self, produced: Produced, step: int) -> float:
        """Push the new weights; an engine failing the push is restarted and the push repeated: the optimizer
        step already taken is never redone."""
        def push() -> float:
            with self._engines:
                return self.cluster.weights.push()

        seconds, attempts = self.retry_engines(push, lambda: None, step)
        if attempts:
            produced.stats["events/step_retries"] = produced.stats.get("events/step_retries", 0.0) + attempts
        return seconds


class _Taking:
    """Rollout engines whose generate calls hold `turn` (the step's compute turn); `version` is the policy
    version (`current()`) when the first call got its turn, so a batch that waited for it is stamped with
    the weights it was really generated by."""

    def __init__(self, engines: RolloutEngines, turn: AbstractContextManager, current: Callable[[], int]):
        self.engines, self.turn, self.current = engines, turn, current
        self.version: int | None = None

    def generate(self, prompts: list[list[int]], spec: SamplingSpec) -> list[list[Completion]]:
        with self.turn:
            if self.version is None:
                self.version = self.current()
            return self.engines.generate(prompts, spec)
