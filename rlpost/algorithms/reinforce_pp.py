"""REINFORCE++ (Hu 2025): token-level KL in the rewards, returns, and a global batch normalisation of
the advantage instead of a critic; `reinforce_pp_baseline` subtracts the group's mean reward first."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rlpost.algorithms.advantages import reinforce_pp_advantages
from rlpost.algorithms.common import reward_kl  # (registers the clipped loss too)
from rlpost.algorithms.registry import Advantages, Algorithm, Estimator, register_algorithm, register_estimator


def _advantages(batch, p: Mapping[str, Any], grouped: bool) -> Advantages:
    mask = batch.response_mask
    kl, kl_coef, stats = reward_kl(batch, p)
    adv = reinforce_pp_advantages(
        batch.rewards, mask, kl=kl, kl_coef=kl_coef, gamma=p["gamma"], group_ids=batch.group_ids if grouped else None
    )
    stats["advantage/token_std"] = adv[mask.bool()].std().item() if int(mask.sum()) > 1 else 0.0
    return Advantages(adv, stats=stats)


for name, grouped, doc in (
    ("reinforce_pp", False, "REINFORCE++: token KL in the reward, returns whitened over the batch"),
    ("reinforce_pp_baseline", True, "REINFORCE++ with the prompt's mean reward subtracted before the batch whitening"),
):
    register_estimator(
        Estimator(
            name=name,
            description=doc,
            fn=lambda batch, p, grouped=grouped: _advantages(batch, p, grouped),
            min_samples_per_prompt=2 if grouped else 1,
            kl_placements=("reward", "loss"),
            token_level=True,
        )
    )
    register_algorithm(Algorithm(name=name, description=f"{doc}; clipped ratio loss", estimator=name, loss="clipped"))
