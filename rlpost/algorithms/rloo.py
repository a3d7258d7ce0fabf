"""RLOO (Ahmadian et al. 2024, "Back to basics"): the leave-one-out group baseline with the clipped ratio loss."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import rlpost.algorithms.common  # noqa: F401  (the clipped loss)
from rlpost.algorithms.advantages import rloo_advantages
from rlpost.algorithms.registry import Advantages, Algorithm, Estimator, register_algorithm, register_estimator


def rloo_batch_advantages(batch, p: Mapping[str, Any]) -> Advantages:
    return Advantages(rloo_advantages(batch.rewards, batch.group_ids, batch.response_mask))


register_estimator(
    Estimator(
        name="rloo",
        description="leave-one-out group baseline: r_i − mean of the prompt's other samples",
        fn=rloo_batch_advantages,
        min_samples_per_prompt=2,
        equal_rewards_no_signal=True,
    )
)
register_algorithm(
    Algorithm(
        name="rloo",
        description="leave-one-out group baseline r_i − mean of the others, clipped ratio loss",
        estimator="rloo",
        loss="clipped",
    )
)
