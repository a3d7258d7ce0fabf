"""GSPO (Zheng et al. 2025): group advantages with a sequence-level, length-normalised importance ratio and
sequence clipping. The paper's clip range is tiny (ε_low 3e-4, ε_high 4e-4: the defaults here) and its
mean is over sequences (`loss_agg: seq-mean-token-mean`, set in configs/gspo_arithmetic.yaml)."""

from __future__ import annotations

import rlpost.algorithms.common  # noqa: F401  (the group estimator)
from rlpost.algorithms.policy_loss import gspo_policy_loss
from rlpost.algorithms.registry import Algorithm, PolicyLoss, register_algorithm, register_loss

register_loss(
    PolicyLoss(
        name="gspo",
        description="sequence-level length-normalised importance ratio, clipped per sequence",
        fn=lambda lp, old, adv, mask, p: gspo_policy_loss(lp, old, adv, mask, clip_low=p["clip_low"], clip_high=p["clip_high"]),
        sequence_advantage=True,
    )
)
register_algorithm(
    Algorithm(
        name="gspo",
        description="group advantages, sequence-level length-normalised ratio, sequence clipping",
        estimator="group",
        loss="gspo",
        defaults={"clip_low": 3e-4, "clip_high": 4e-4},
    )
)
