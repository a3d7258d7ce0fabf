"""ReMax (Li et al. 2023): REINFORCE with the greedy response's reward as the baseline.

A = r(sample) − r(greedy), optionally clipped (official code: ±5). With KL in the reward the
token returns are those of the official code (liziniu/ReMax, `compute_returns`):
G_t = γ^(L−k)·A − β·(log π_old − log π_ref)_t for the k-th of L response tokens (the KL term is
the token's own, not a sum over later tokens). The update is the official one-step REINFORCE
loss, or (`remax_update: clipped`) the clipped ratio loss as in verl.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from rlpost.algorithms.advantages import remax_advantages
from rlpost.algorithms.common import clipped_loss, reward_kl
from rlpost.algorithms.policy_loss import reinforce_policy_loss
from rlpost.algorithms.registry import (
    Advantages,
    Algorithm,
    Estimator,
    PolicyLoss,
    register_algorithm,
    register_estimator,
    register_loss,
)


def remax_returns(
    advantages: torch.Tensor, kl: torch.Tensor, response_mask: torch.Tensor, *, gamma: float, kl_coef: float
) -> torch.Tensor:
    """Official ReMax token returns. advantages [B, T] (A broadcast to response tokens), kl [B, T]
    per-token log π_old − log π_ref, response_mask [B, T] -> [B, T]: γ^(L−k)·A − β·kl."""
    mask = response_mask.to(advantages.dtype)
    # tokens left in the response from each position on, the position itself included: L − k
    remaining = mask.flip(-1).cumsum(-1).flip(-1)
    return (advantages * gamma**remaining - kl_coef * kl) * mask


def remax_batch_advantages(batch, p: Mapping[str, Any]) -> Advantages:
    mask = batch.response_mask
    adv = remax_advantages(batch.rewards, batch.baseline_rewards, mask, clip=p["adv_clip"])
    kl, kl_coef, stats = reward_kl(batch, p)
    stats["reward/greedy_mean"] = batch.baseline_rewards.mean().item()
    if kl is None:
        kl = torch.zeros_like(adv)
    return Advantages(remax_returns(adv, kl, mask, gamma=p["gamma"], kl_coef=kl_coef), stats=stats)


def remax_policy_loss(lp, old, adv, mask, p: Mapping[str, Any]):
    if p["remax_update"] == "clipped":
        return clipped_loss(lp, old, adv, mask, p)
    return reinforce_policy_loss(lp, old, adv, mask)


register_estimator(
    Estimator(
        name="remax",
        description="r(sample) − r(greedy) of the same prompt, clipped to ±adv_clip; official returns with KL in the reward",
        fn=remax_batch_advantages,
        greedy_baseline=True,
        kl_placements=("reward", "loss"),
        token_level=True,
    )
)
register_loss(
    PolicyLoss(
        name="remax",
        description="ReMax's update: one-step REINFORCE (remax_update: reinforce) or the clipped ratio loss (clipped)",
        fn=remax_policy_loss,
        # plain REINFORCE has no ratio: a second optimizer step on the same batch would be off-policy, uncorrected
        one_update_only=lambda p: p["remax_update"] == "reinforce",
    )
)
REMAX = register_algorithm(
    Algorithm(
        name="remax",
        description="REINFORCE with a greedy-decoding reward baseline; no critic, no group",
        estimator="remax",
        loss="remax",
        defaults={"clip_high": 0.2, "adv_clip": 5.0},
    )
)
