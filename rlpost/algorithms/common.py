"""The parts several recipes share: the group estimator (GRPO's) and PPO's clipped ratio loss."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rlpost.algorithms.advantages import group_normalized_advantages
from rlpost.algorithms.policy_loss import clipped_policy_loss
from rlpost.algorithms.registry import Advantages, Estimator, PolicyLoss, register_estimator, register_loss


def group_advantages(batch, p: Mapping[str, Any]) -> Advantages:
    """Group-normalised outcome advantages of a batch (shared by the GRPO family)."""
    adv = group_normalized_advantages(
        batch.rewards, batch.group_ids, batch.response_mask, norm_by_std=p["norm_by_std"], eps=p["adv_eps"]
    )
    return Advantages(adv)


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
