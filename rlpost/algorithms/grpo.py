"""GRPO (DeepSeekMath 2024) with the options users expect: Dr. GRPO (no std), clip-higher."""

from __future__ import annotations

from rlpost.algorithms.advantages import group_normalized_advantages
from rlpost.algorithms.policy_loss import clipped_policy_loss
from rlpost.algorithms.registry import Algorithm, register_algorithm

GRPO = register_algorithm(
    Algorithm(
        name="grpo",
        description="group-normalised outcome advantage, clipped ratio loss, optional k3 KL in the loss",
        advantages=lambda rewards, group_ids, mask, p: group_normalized_advantages(
            rewards, group_ids, mask, norm_by_std=p["norm_by_std"], eps=p["adv_eps"]
        ),
        policy_loss=lambda lp, old, adv, mask, p: clipped_policy_loss(
            lp, old, adv, mask, clip_low=p["clip_low"], clip_high=p["clip_high"]
        ),
        min_samples_per_prompt=2,
    )
)
