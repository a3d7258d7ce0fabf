"""The parts several recipes share: the group estimator (GRPO's), PPO's clipped ratio loss, and the
KL-to-reference term of estimators that fold it into their rewards."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from rlpost.algorithms.advantages import group_normalized_advantages
from rlpost.algorithms.aggregation import masked_mean
from rlpost.algorithms.kl import kl_penalty
from rlpost.algorithms.policy_loss import clipped_policy_loss
from rlpost.algorithms.registry import Advantages, Estimator, PolicyLoss, register_estimator, register_loss


def group_advantages(batch, p: Mapping[str, Any]) -> Advantages:
    """Group-normalised outcome advantages of a batch (shared by the GRPO family)."""
    adv = group_normalized_advantages(
        batch.rewards, batch.group_ids, batch.response_mask, norm_by_std=p["norm_by_std"], eps=p["adv_eps"]
    )
    return Advantages(adv)


def reward_kl(batch, p: Mapping[str, Any]) -> tuple[torch.Tensor | None, float, dict[str, float]]:
    """With the KL in the rewards (`kl_in: reward`, `kl_coef` > 0): the k1 estimate log π_old − log π_ref
    per response token [B, T], its coefficient β and its mean as `kl/mean`; otherwise (None, 0.0, {})."""
    if not (p["kl_coef"] > 0 and p["kl_in"] == "reward"):
        return None, 0.0, {}
    mask = batch.response_mask
    kl = kl_penalty(batch.old_logprobs, batch.ref_logprobs, "k1") * mask
    return kl, p["kl_coef"], {"kl/mean": masked_mean(kl, mask).item()}


def clipped_loss(lp, old, adv, mask, p: Mapping[str, Any]):
    return clipped_policy_loss(lp, old, adv, mask, clip_low=p["clip_low"], clip_high=p["clip_high"], dual_clip=p["dual_clip"])


register_estimator(
    Estimator(
        name="group",
        description="group-normalised outcome reward (r − mean) / std, or r − mean with norm_by_std off (Dr. GRPO)",
        fn=group_advantages,
        min_samples_per_prompt=2,
        equal_rewards_no_signal=True,
    )
)
register_loss(
    PolicyLoss(name="clipped", description="PPO's clipped ratio loss, ε_low / ε_high, optional dual clip", fn=clipped_loss)
)
