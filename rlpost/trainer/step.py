"""One training step, written against the protocols (`rlpost.trainer.protocols`).

`produce` is steps 1–4 of docs/architecture.md (draw rows, generate, score, filter), `consume`
steps 5–8 (logprobs, advantages, optimizer steps, weight sync, metrics). The synchronous step is
`consume(produce())`; an asynchronous mode runs them as producer and consumer joined by a queue
bounded by the samples' policy versions (`RolloutBatch.policy_versions`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from rlpost.batch import RolloutBatch
from rlpost.config import ExperimentConfig
from rlpost.data import PromptSampler
from rlpost.trainer.metrics import Timer, step_metrics
from rlpost.trainer.protocols import ENGINE_ROLE, ActorFailure, Cluster
from rlpost.trainer.rollout import RolloutPlan, rollout
from rlpost.trainer.sampling import collect_groups
from rlpost.trainer.scoring import score_batch, shape_rewards
from rlpost.trainer.settings import StageAlgorithm

T = TypeVar("T")
EventFn = Callable[..., None]  # (kind, **fields) -> None, e.g. Tracker.event with the step bound


@dataclass
class Produced:
    """A scored, filtered, shaped rollout batch and what producing it cost."""

    batch: RolloutBatch
    stats: dict[str, float] = field(default_factory=dict)  # sampling/*, events/step_retries
    timer: Timer = field(default_factory=Timer)


@dataclass
class StepResult:
    metrics: dict[str, float]
    batch: RolloutBatch


class Step:
    def __init__(self, cfg: ExperimentConfig, cluster: Cluster, tokenizer, pad_id: int, on_event: EventFn):
        self.cfg, self.cluster, self.tokenizer, self.pad_id, self.on_event = cfg, cluster, tokenizer, pad_id, on_event

    @property
    def on_policy(self) -> bool:
        """One optimizer step per rollout batch: the learner takes the old logprobs in the step itself."""
        return self.cfg.learner.epochs == 1 and self.cfg.mini_batch_size == self.cfg.batch_size

    def run(self, sampler: PromptSampler, algo: StageAlgorithm, step: int) -> StepResult:
        """1–8 in order; a rollout engine that fails is restarted and its part redone on the same rows."""
        start = time.perf_counter()
        restarts = self.cluster.rewards.restarts
        produced = self.produce_with_retries(sampler, algo)
        metrics = self.consume(produced, algo, step)
        metrics["events/reward_worker_restarts"] = float(self.cluster.rewards.restarts - restarts)
        metrics["time/step_s"] = time.perf_counter() - start
        metrics["time/overhead_s"] = metrics["time/step_s"] - sum(produced.timer.times.values())
        return StepResult(metrics, produced.batch)

    # ----- producer: 1 draw, 2 generate, 3 score, 4 filter ---------------------------------------
    def produce(self, sampler: PromptSampler, algo: StageAlgorithm, timer: Timer) -> Produced:
        plan = RolloutPlan.from_config(self.cfg.rollout, algo.algorithm.greedy_baseline, self.pad_id)
        version = self.cluster.weights.version

        def draw(round_index: int) -> RolloutBatch:
            batch = rollout(self.cluster.engines, self.tokenizer, sampler, plan, timer, round_index * plan.prompts, version)
            score_batch(batch, self.cluster.rewards, timer)
            return batch

        if algo.config.dynamic_sampling:
            batch, stats = collect_groups(draw, plan.prompts, algo.config.max_sampling_rounds, self.pad_id)
        else:
            batch, stats = draw(0), {}
        shape_rewards(batch, algo.params, self.cfg.rollout.max_new_tokens)
        return Produced(batch, stats, timer)

    def produce_with_retries(self, sampler: PromptSampler, algo: StageAlgorithm) -> Produced:
        """`produce`, redone on the same rows after a rollout engine died, hung or raised (the engine is
        restarted with the current weights first), at most `cluster.max_step_retries` times."""
        position = sampler.state()

        def recover() -> None:
            self.cluster.weights.push()
            sampler.load_state(position)

        produced, attempts = self.retry_engines(lambda: self.produce(sampler, algo, Timer()), recover)
        produced.stats["events/step_retries"] = float(attempts)
        return produced

    def retry_engines(self, action: Callable[[], T], recover: Callable[[], None]) -> tuple[T, int]:
        """`action()` and the retries it took: after a rollout engine fails, the engine is restarted (and the
        event recorded), `recover()` runs and the action again, at most `cluster.max_step_retries` times.
        Any other failure, or one too many, propagates."""
        retries = self.cfg.cluster.max_step_retries
        for attempt in range(retries + 1):
            try:
                return action(), attempt
            except ActorFailure as failure:
                if failure.role != ENGINE_ROLE or attempt == retries:
                    raise
                self.on_event("restart", actor=f"{failure.role} {failure.index}", error=str(failure))
                self.cluster.engines.restart(failure.index)
                recover()
        raise AssertionError("unreachable")

    # ----- consumer: 5 logprobs, 6 advantages + optimizer steps, 7 weight sync, 8 metrics ----------
    def consume(self, produced: Produced, algo: StageAlgorithm, step: int) -> dict[str, float]:
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
                sync_s = self.sync_weights(produced)
        metrics = step_metrics(batch, stats, sync_s)
        metrics.update(adv.stats)
        metrics.update(produced.stats)
        if "kl/mean" in metrics:
            metrics["kl/coef"] = algo.adapt_kl(metrics["kl/mean"], len(batch))
        else:
            metrics["kl/coef"] = algo.params["kl_coef"]
        metrics.update(timer.times)
        return metrics

    def sync_weights(self, produced: Produced) -> float:
        """Push the new weights; an engine failing the push is restarted and the push repeated: the optimizer
        step already taken is never redone."""
        seconds, attempts = self.retry_engines(self.cluster.weights.push, lambda: None)
        if attempts:
            produced.stats["events/step_retries"] = produced.stats.get("events/step_retries", 0.0) + attempts
        return seconds
