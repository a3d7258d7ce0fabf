"""GSPO (Zheng et al. 2025): group advantages with a sequence-level, length-normalised importance ratio and
sequence clipping. The paper's clip range is tiny (ε_low 3e-4, ε_high 4e-4: the defaults here) and its
mean is over sequences (`loss_agg: seq-mean-token-mean`, set in configs/gspo_arithmetic.yaml)."""

from __future__ import annotations

from rlpost.algorithms.grpo import group_advantages
from rlpost.algorithms.policy_loss import gspo_policy_loss
from rlpost.algorithms.registry import Algorithm, register_algorithm

register_algorithm(
    Algorithm(
        name="gspo",
        description="group advantages, sequence-level length-normalised ratio, sequence clipping",
        advantages=group_advantages,
        policy_loss=lambda lp, old, adv, mask, p: gspo_policy_loss(
            lp, old, adv, mask, clip_low=p["clip_low"], clip_high=p["clip_high"]
        ),
        min_samples_per_prompt=2,
        equal_rewards_no_signal=True,
        defaults={"clip_low": 3e-4, "clip_high": 4e-4},
    )
)
