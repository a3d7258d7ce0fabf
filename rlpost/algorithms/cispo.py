"""CISPO (MiniMax-M1, 2025): group advantages, REINFORCE weighted by a clipped, stop-gradient importance
ratio, so clipped tokens keep their gradient. MiniMax clips only from above: ε_low defaults to 0.99
(weights down to 0.01, in effect unbounded), ε_high to 0.28."""

from __future__ import annotations

import rlpost.algorithms.common  # noqa: F401  (the group estimator)
from rlpost.algorithms.policy_loss import cispo_policy_loss
from rlpost.algorithms.registry import Algorithm, PolicyLoss, register_algorithm, register_loss

register_loss(
    PolicyLoss(
        name="cispo",
        description="REINFORCE weighted by a clipped, stop-gradient importance ratio (no token loses its gradient)",
        fn=lambda lp, old, adv, mask, p: cispo_policy_loss(lp, old, adv, mask, clip_low=p["clip_low"], clip_high=p["clip_high"]),
    )
)
register_algorithm(
    Algorithm(
        name="cispo",
        description="group advantages, REINFORCE with a clipped stop-gradient importance weight",
        estimator="group",
        loss="cispo",
        defaults={"clip_low": 0.99, "clip_high": 0.28},
    )
)
