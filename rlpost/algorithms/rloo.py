"""RLOO (Ahmadian et al. 2024, "Back to basics"): the leave-one-out group baseline with the clipped ratio loss."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rlpost.algorithms.advantages import rloo_advantages
from rlpost.algorithms.policy_loss import clipped_policy_loss
from rlpost.algorithms.registry import Advantages, Algorithm, register_algorithm


def rloo_batch_advantages(batch, p: Mapping[str, Any]) -> Advantages:
    return Advantages(rloo_advantages(batch.rewards, batch.group_ids, batch.response_mask))


register_algorithm(
    Algorithm(
        name="rloo",
        description="leave-one-out group baseline r_i − mean of the others, clipped ratio loss",
        advantages=rloo_batch_advantages,
        policy_loss=lambda lp, old, adv, mask, p: clipped_policy_loss(
            lp, old, adv, mask, clip_low=p["clip_low"], clip_high=p["clip_high"], dual_clip=p["dual_clip"]
        ),
        min_samples_per_prompt=2,
        equal_rewards_no_signal=True,
    )
)
