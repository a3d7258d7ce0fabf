"""REINFORCE++ (Hu 2025): token-level KL in the rewards, returns, and a global batch normalisation of
the advantage instead of a critic; `reinforce_pp_baseline` subtracts the group's mean reward first."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rlpost.algorithms.advantages import reinforce_pp_advantages
from rlpost.algorithms.aggregation import masked_mean
from rlpost.algorithms.kl import kl_penalty
from rlpost.algorithms.policy_loss import clipped_policy_loss
from rlpost.algorithms.registry import Advantages, Algorithm, register_algorithm


def _advantages(batch, p: Mapping[str, Any], grouped: bool) -> Advantages:
    mask = batch.response_mask
    kl, kl_coef, stats = None, 0.0, {}
    if p["kl_coef"] > 0 and p["kl_in"] == "reward":
        kl, kl_coef = kl_penalty(batch.old_logprobs, batch.ref_logprobs, "k1") * mask, p["kl_coef"]
        stats["kl/mean"] = masked_mean(kl, mask).item()
    adv = reinforce_pp_advantages(
        batch.rewards, mask, kl=kl, kl_coef=kl_coef, gamma=p["gamma"], group_ids=batch.group_ids if grouped else None
    )
    stats["advantage/token_std"] = adv[mask.bool()].std().item() if int(mask.sum()) > 1 else 0.0
    return Advantages(adv, stats=stats)


def _loss(lp, old, adv, mask, p):
    return clipped_policy_loss(lp, old, adv, mask, clip_low=p["clip_low"], clip_high=p["clip_high"], dual_clip=p["dual_clip"])


register_algorithm(
    Algorithm(
        name="reinforce_pp",
        description="REINFORCE++: token KL in the reward, returns whitened over the batch, clipped ratio loss",
        advantages=lambda batch, p: _advantages(batch, p, grouped=False),
        policy_loss=_loss,
        kl_placements=("reward", "loss"),
    )
)
register_algorithm(
    Algorithm(
        name="reinforce_pp_baseline",
        description="REINFORCE++ with the group's mean reward subtracted before the batch normalisation",
        advantages=lambda batch, p: _advantages(batch, p, grouped=True),
        policy_loss=_loss,
        min_samples_per_prompt=2,
        kl_placements=("reward", "loss"),
    )
)
