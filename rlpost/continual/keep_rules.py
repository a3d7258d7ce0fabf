"""Keep-rules of rollout-based instance filtering: which training instances a continual stage
keeps, from the rewards of k rollouts per instance. Pure torch, no I/O; registered by name."""

from __future__ import annotations

from collections.abc import Callable

import torch

KeepRule = Callable[[torch.Tensor, torch.Tensor, float], tuple[torch.Tensor, dict[str, torch.Tensor]]]
KEEP_RULES: dict[str, KeepRule] = {}


def register_keep_rule(name: str):
    def wrap(fn: KeepRule) -> KeepRule:
        KEEP_RULES[name] = fn
        return fn

    return wrap


@register_keep_rule("any_correct")
def keep_any_correct(rewards: torch.Tensor, correct: torch.Tensor, min_variance: float) -> tuple[torch.Tensor, dict]:
    """rewards, correct [N, k] (k rollouts per instance). Keep instances with at least one correct
    rollout (the default: the paper drops what the model cannot learn from)."""
    none = ~correct.any(-1)
    return ~none, {"no_correct": none}


@register_keep_rule("partially_correct")
def keep_partially_correct(rewards: torch.Tensor, correct: torch.Tensor, min_variance: float) -> tuple[torch.Tensor, dict]:
    """Also drop instances every rollout solves (nothing left to learn, zero group advantage)."""
    none, every = ~correct.any(-1), correct.all(-1)
    return ~(none | every), {"no_correct": none, "all_correct": every & ~none}


@register_keep_rule("reward_variance")
def keep_reward_variance(rewards: torch.Tensor, correct: torch.Tensor, min_variance: float) -> tuple[torch.Tensor, dict]:
    """Keep instances whose rollout rewards vary more than `min_variance` (population variance)."""
    low = rewards.var(-1, unbiased=False) <= min_variance
    return ~low, {"low_variance": low}


def filter_instances(
    rewards: torch.Tensor, *, rule: str = "any_correct", threshold: float = 1.0, min_variance: float = 0.0
) -> tuple[torch.Tensor, dict[str, int]]:
    """rewards [N, k] -> (keep [N] bool, dropped count per reason). A rollout is correct when its
    reward >= `threshold`."""
    if rewards.dim() != 2:
        raise ValueError(f"rewards must be [instances, rollouts], got shape {tuple(rewards.shape)}")
    if rule not in KEEP_RULES:
        raise KeyError(f"unknown keep rule {rule!r}; registered: {sorted(KEEP_RULES)}")
    keep, reasons = KEEP_RULES[rule](rewards, rewards >= threshold, min_variance)
    return keep, {name: int(mask.sum()) for name, mask in reasons.items()}
