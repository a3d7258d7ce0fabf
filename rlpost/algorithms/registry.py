"""Algorithms by name. The trainer asks the registered `Algorithm` what it needs (greedy
baseline, critic, reference placement, group size) and never branches on names; a new algorithm
is one module plus one `register_algorithm` call."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import torch

if TYPE_CHECKING:
    from rlpost.batch import RolloutBatch


class Advantages(NamedTuple):
    """advantages [B, T]; returns [B, T] (value targets) when the algorithm has a critic; scalar
    stats under their metric names (e.g. `kl/mean` for KL in the reward)."""

    advantages: torch.Tensor
    returns: torch.Tensor | None = None
    stats: dict[str, float] = {}


AdvantageFn = Callable[["RolloutBatch", Mapping[str, Any]], Advantages]
PolicyLossFn = Callable[
    [torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, Mapping[str, Any]],
    tuple[torch.Tensor, dict[str, float]],
]

KL_PLACEMENTS = ("loss", "reward")


@dataclass(frozen=True)
class Algorithm:
    """What the trainer needs to know about an algorithm.

    advantages(batch, params) -> Advantages. It reads the batch's rewards [B], group_ids [B],
        response_mask [B, T] and, as the algorithm needs them, baseline_rewards [B],
        values [B, T], old_logprobs / ref_logprobs [B, T].
    policy_loss(logprobs, old_logprobs, advantages, response_mask, params) -> (loss [B, T], stats)
    `params` is the resolved `algorithm` section of the experiment config as a plain mapping.
    greedy_baseline: the rollout also decodes one greedy response per prompt and scores it
        (batch.baseline_rewards). critic: a value model is trained next to the policy
        (batch.values before advantages, returns as its targets). kl_placements: where the
        KL-to-reference term may go, the first being the default. defaults: values for the
        config keys left unset (None) under this algorithm.
    equal_rewards_no_signal: a group whose rewards are all equal gets zero advantage (group-centred
        estimators), so dynamic sampling may drop such groups without biasing the update.
    one_update_only(params): the loss has no importance ratio under these settings, so it is only
        right with one optimizer step per rollout batch (a config error otherwise).
    """

    name: str
    description: str
    advantages: AdvantageFn
    policy_loss: PolicyLossFn
    min_samples_per_prompt: int = 1
    greedy_baseline: bool = False
    critic: bool = False
    kl_placements: tuple[str, ...] = ("loss",)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    equal_rewards_no_signal: bool = False
    one_update_only: Callable[[Mapping[str, Any]], bool] = lambda params: False


ALGORITHMS: dict[str, Algorithm] = {}


def register_algorithm(algorithm: Algorithm) -> Algorithm:
    if algorithm.name in ALGORITHMS:
        raise ValueError(f"algorithm {algorithm.name!r} is already registered")
    unknown = set(algorithm.kl_placements) - set(KL_PLACEMENTS)
    if not algorithm.kl_placements or unknown:
        raise ValueError(f"algorithm {algorithm.name!r}: kl_placements must be a non-empty subset of {KL_PLACEMENTS}")
    ALGORITHMS[algorithm.name] = algorithm
    return algorithm


def get_algorithm(name: str) -> Algorithm:
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise KeyError(f"unknown algorithm {name!r}; registered: {sorted(ALGORITHMS)}") from None
