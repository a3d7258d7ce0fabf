"""What a step reports: phase timings, the metrics line and the samples written to samples.jsonl."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from rlpost.algorithms import masked_mean
from rlpost.algorithms.aggregation import combine_stats
from rlpost.algorithms.shaping import all_equal_groups
from rlpost.batch import RolloutBatch
from rlpost.trainer.protocols import TrainStats


class Timer:
    """Accumulates wall seconds per phase as `time/<phase>_s`."""

    def __init__(self):
        self.times: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            key = f"time/{name}_s"
            self.times[key] = self.times.get(key, 0.0) + time.perf_counter() - start


def mean_stats(stats: list[dict[str, float]], prefix: str) -> dict[str, float]:
    """Per-rank stats combined (`combine_stats`), each key under `prefix`."""
    return {f"{prefix}/{k}": v for k, v in combine_stats(stats).items()}


def step_metrics(batch: RolloutBatch, stats: TrainStats, sync_engine_s: float) -> dict[str, float]:
    """Step metrics from the batch (rewards, lengths, advantages) and the learners' stats."""
    mask = batch.response_mask
    lengths = batch.response_lengths
    m: dict[str, float] = {
        "reward/mean": batch.rewards.mean().item(),
        "reward/std": batch.rewards.std().item() if len(batch) > 1 else 0.0,
        "reward/max": batch.rewards.max().item(),
        "reward/min": batch.rewards.min().item(),
        "reward/error_rate": sum(e is not None for e in batch.reward_errors) / len(batch),
        "response_length/mean": lengths.mean().item(),
        "response_length/max": lengths.max().item(),
        "response_length/truncated_frac": batch.truncated.float().mean().item(),
        "advantage/mean_abs": masked_mean(batch.advantages.abs(), mask).item(),
        "time/weight_sync_engine_s": sync_engine_s,
    }
    equal = all_equal_groups(batch.rewards, batch.group_ids)
    m["groups/all_equal_frac"] = len(batch.group_ids[equal].unique()) / len(batch.group_ids.unique())
    for name, values in batch.reward_components.items():
        finite = values[~values.isnan()]
        if finite.numel():
            m[f"reward/{name}"] = finite.mean().item()
    m.update(mean_stats(stats.policy, "actor"))
    m.update(mean_stats(stats.critic, "critic"))
    if batch.old_logprobs is not None:
        m["rollout/logprob_abs_diff"] = masked_mean((batch.rollout_logprobs - batch.old_logprobs).abs(), mask).item()
    elif "actor/rollout_logprob_abs_diff" in m:
        m["rollout/logprob_abs_diff"] = m.pop("actor/rollout_logprob_abs_diff")
    if "actor/kl" in m:
        m["kl/mean"] = m.pop("actor/kl")
    for key in [k for k in m if k.startswith("actor/is/")]:
        m[key.removeprefix("actor/")] = m.pop(key)
    m.update(episode_metrics(batch.episodes))
    return m


def episode_metrics(episodes: list[dict[str, Any]]) -> dict[str, float]:
    """Multi-turn batches: policy turns and tool calls per episode, the share of episodes that called a
    tool, observation tokens, reply errors, and how episodes ended (`episode/ended/<reason>` shares)."""
    if not episodes:
        return {}
    count = len(episodes)
    tools = [sum(t["role"] == "tool" for t in e["turns"]) for e in episodes]
    m = {
        "episode/turns_mean": sum(sum(t["role"] == "assistant" for t in e["turns"]) for e in episodes) / count,
        "episode/tool_calls_mean": sum(tools) / count,
        "episode/tool_use_rate": sum(n > 0 for n in tools) / count,
        "episode/observation_tokens_mean": sum(t["tokens"] for e in episodes for t in e["turns"] if t["role"] != "assistant")
        / count,
        "episode/reply_errors": float(sum(e["outcome"].get("reply_errors", 0) for e in episodes)),
    }
    for reason in sorted({e["outcome"].get("ended", "single_turn") for e in episodes}):
        m[f"episode/ended/{reason}"] = sum(e["outcome"].get("ended", "single_turn") == reason for e in episodes) / count
    return m


def staleness_metrics(batch: RolloutBatch, version: int) -> dict[str, float]:
    """How many steps older than `version` (the weights being trained) the batch's generating weights are."""
    lag = (version - batch.policy_versions).float()
    return {"staleness/mean": lag.mean().item(), "staleness/max": lag.max().item()}


def sample_records(batch: RolloutBatch, count: int, seed: int) -> list[dict[str, Any]]:
    """`count` samples of the batch (drawn with `seed`) as samples.jsonl records."""
    k = min(count, len(batch))
    rows = torch.randperm(len(batch), generator=torch.Generator().manual_seed(seed))[:k].tolist()
    records = []
    for i in rows:
        record = {
            "env": batch.envs[i],
            "prompt": batch.prompts[i],
            "response": batch.responses[i],
            "reward": batch.rewards[i].item(),
            "components": {n: v[i].item() for n, v in batch.reward_components.items()},
            "error": batch.reward_errors[i],
        }
        if batch.baseline_responses:
            record.update(baseline_response=batch.baseline_responses[i], baseline_reward=batch.baseline_rewards[i].item())
        if batch.episodes:
            record.update(turns=batch.episodes[i]["turns"], outcome=batch.episodes[i]["outcome"])
        records.append(record)
    return records
