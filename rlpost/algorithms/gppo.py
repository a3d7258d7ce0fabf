"""GPPO (Klear-Reasoner 2025): GRPO's group advantages with the gradient-preserving clipped loss."""

from __future__ import annotations

import rlpost.algorithms.common  # noqa: F401  (the group estimator)
from rlpost.algorithms.policy_loss import gppo_policy_loss
from rlpost.algorithms.registry import Algorithm, PolicyLoss, register_algorithm, register_loss

register_loss(
    PolicyLoss(
        name="gppo",
        description="PPO forward value, bounded gradients kept on clipped tokens (β1, β2), optional dual clip",
        fn=lambda lp, old, adv, mask, p: gppo_policy_loss(
            lp, old, adv, mask, clip_low=p["clip_low"], clip_high=p["clip_high"], beta1=p["beta1"], beta2=p["beta2"],
            dual_clip=p["dual_clip"],
        ),  # fmt: skip
    )
)
GPPO = register_algorithm(
    Algorithm(
        name="gppo",
        description="group advantages, PPO forward value, bounded gradients kept on clipped tokens (β1, β2, dual clip)",
        estimator="group",
        loss="gppo",
        # the Klear-Reasoner recipe: ε_l 0.2, ε_h 0.28, dual clip c 10, no KL, token-mean
        defaults={"clip_high": 0.28, "dual_clip": 10.0},
    )
)
