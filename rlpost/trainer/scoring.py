"""Step 3: the reward scorer's results into the batch (task reward, components, errors, the greedy
baselines' rewards), then reward shaping (the overlong penalty), kept apart as its own component."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import torch

from rlpost.algorithms.shaping import overlong_penalty
from rlpost.batch import RolloutBatch
from rlpost.rewards import Sample
from rlpost.trainer.protocols import RewardScorer


def score_batch(batch: RolloutBatch, scorer: RewardScorer, timer) -> None:
    """batch.rewards [B], reward_components, reward_errors and, with greedy baselines, baseline_rewards [B]."""
    samples = [_sample(batch, i, batch.responses, batch.episodes) for i in range(len(batch))]
    keys = list(batch.bindings)
    firsts: list[int] = []
    if batch.baseline_responses:
        firsts = [int((batch.group_ids == g).nonzero()[0]) for g in batch.group_ids.unique()]
        samples += [_sample(batch, i, batch.baseline_responses, batch.baseline_episodes) for i in firsts]
        keys += [batch.bindings[i] for i in firsts]
    with timer("reward"):
        scored = scorer.score(samples, keys)
    scored, baseline = scored[: len(batch)], scored[len(batch) :]
    batch.rewards = torch.tensor([s.score for s in scored], dtype=torch.float32)
    batch.reward_errors = [s.error for s in scored]
    names = sorted({k for s in scored for k in s.components})
    batch.reward_components = {k: torch.tensor([s.components.get(k, float("nan")) for s in scored]) for k in names}
    if baseline:
        by_group = {int(batch.group_ids[i]): s.score for i, s in zip(firsts, baseline)}
        batch.baseline_rewards = torch.tensor([by_group[int(g)] for g in batch.group_ids], dtype=torch.float32)


def _sample(batch: RolloutBatch, i: int, responses: list[str], episodes: list[dict]) -> Sample:
    """Row `i` as a reward sample (with its turns and outcome in a multi-turn batch)."""
    sample = Sample(batch.prompts[i], responses[i], batch.references[i], batch.envs[i])
    if not episodes:
        return sample
    return replace(sample, turns=tuple(episodes[i]["turns"]), outcome=episodes[i]["outcome"])


def shape_rewards(batch: RolloutBatch, params: Mapping[str, Any], max_new_tokens: int) -> None:
    """Add the overlong penalty (DAPO) to batch.rewards when `overlong_buffer` is set; the penalty is
    also recorded as the `overlong_penalty` component."""
    if not params.get("overlong_buffer"):
        return
    penalty = overlong_penalty(
        batch.response_lengths.long(), max_len=max_new_tokens, buffer=params["overlong_buffer"],
        factor=params["overlong_penalty"],
    )  # fmt: skip
    batch.rewards = batch.rewards + penalty
    batch.reward_components["overlong_penalty"] = penalty
