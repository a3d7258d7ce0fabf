"""Advantage estimators: sequence rewards [B] -> token advantages [B, T]."""

from __future__ import annotations

import torch


def group_normalized_advantages(
    rewards: torch.Tensor,
    group_ids: torch.Tensor,
    response_mask: torch.Tensor,
    *,
    norm_by_std: bool = True,
    eps: float = 1e-6,
) -> torch.Tensor:
    """GRPO outcome advantage, broadcast to every response token.

    rewards [B] float, group_ids [B] int (same id = same prompt), response_mask [B, T].
    A_i = (r_i − mean_g) / (std_g + eps) with the unbiased std of the group, or r_i − mean_g when
    `norm_by_std` is off (Dr. GRPO). A group of one sample gets A = 0.
    """
    rewards = rewards.to(torch.float32)
    scores = torch.zeros_like(rewards)
    for gid in torch.unique(group_ids):
        idx = group_ids == gid
        group = rewards[idx]
        # Equal rewards -> A = 0 exactly (in float32 the mean of equal values can be off by an
        # ulp, and dividing that by std + eps = eps would give |A| up to ~1).
        if group.numel() < 2 or bool((group == group[0]).all()):
            continue
        centred = group - group.mean()
        if norm_by_std:
            centred = centred / (group.std(unbiased=True) + eps)
        scores[idx] = centred
    return scores.unsqueeze(-1) * response_mask.to(torch.float32)
