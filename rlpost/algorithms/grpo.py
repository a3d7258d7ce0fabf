"""GRPO (DeepSeekMath 2024) with the options users expect: Dr. GRPO (no std), clip-higher, dual clip."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rlpost.algorithms.advantages import group_normalized_advantages
from rlpost.algorithms.policy_loss import clipped_policy_loss
from rlpost.algorithms.registry import Advantages, Algorithm, register_algorithm


def group_advantages(batch, p: Mapping[str, Any]) -> Advantages:
    """Group-normalised outcome advantages of a batch (shared by the GRPO family)."""
    adv = group_normalized_advantages(
        batch.rewards, batch.group_ids, batch.response_mask, norm_by_std=p["norm_by_std"], eps=p["adv_eps"]
    )
    return Advantages(adv)


GRPO = register_algorithm(
    Algorithm(
        name="grpo",
        description="group-normalised outcome advantage, clipped ratio loss, optional KL to the reference in the loss",
        advantages=group_advantages,
        policy_loss=lambda lp, old, adv, mask, p: clipped_policy_loss(
            lp, old, adv, mask, clip_low=p["clip_low"], clip_high=p["clip_high"], dual_clip=p["dual_clip"]
        ),
        min_samples_per_prompt=2,
        equal_rewards_no_signal=True,
        defaults={"clip_high": 0.2},
    )
)
