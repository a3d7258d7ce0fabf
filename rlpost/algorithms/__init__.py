"""Pure torch math of the RL algorithms: advantages, policy losses, KL, aggregation.

Importing this package registers the built-in algorithms."""

from rlpost.algorithms import cispo, gppo, grpo, gspo, ppo, reinforce_pp, remax, rloo  # noqa: F401  (registers them)
from rlpost.algorithms.aggregation import LOSS_AGG_MODES, aggregate_token_loss, masked_mean
from rlpost.algorithms.kl import KL_ESTIMATORS, kl_penalty
from rlpost.algorithms.registry import (
    ALGORITHMS,
    ESTIMATORS,
    KL_PLACEMENTS,
    LOSSES,
    Advantages,
    Algorithm,
    Estimator,
    PolicyLoss,
    get_algorithm,
    register_algorithm,
    register_estimator,
    register_loss,
    resolve_algorithm,
)

__all__ = [
    "ALGORITHMS",
    "ESTIMATORS",
    "LOSSES",
    "Advantages",
    "Algorithm",
    "Estimator",
    "PolicyLoss",
    "KL_PLACEMENTS",
    "KL_ESTIMATORS",
    "LOSS_AGG_MODES",
    "aggregate_token_loss",
    "get_algorithm",
    "kl_penalty",
    "masked_mean",
    "register_algorithm",
    "register_estimator",
    "register_loss",
    "resolve_algorithm",
]
