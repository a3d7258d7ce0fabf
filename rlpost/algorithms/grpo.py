"""GRPO (DeepSeekMath 2024) with the options users expect: Dr. GRPO (no std), clip-higher, dual clip."""

from __future__ import annotations

import rlpost.algorithms.common  # noqa: F401  (the group estimator and the clipped loss)
from rlpost.algorithms.registry import Algorithm, register_algorithm

GRPO = register_algorithm(
    Algorithm(
        name="grpo",
        description="group-normalised outcome advantage, clipped ratio loss, optional KL to the reference in the loss",
        estimator="group",
        loss="clipped",
        defaults={"clip_high": 0.2},
    )
)
