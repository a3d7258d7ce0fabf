"""Algorithms by name. The trainer asks the registered `Algorithm` what it needs and never
branches on names; a new algorithm is one module plus one `register_algorithm` call."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

AdvantageFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, Mapping[str, Any]], torch.Tensor]
PolicyLossFn = Callable[
    [torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, Mapping[str, Any]],
    tuple[torch.Tensor, dict[str, float]],
]


@dataclass(frozen=True)
class Algorithm:
    """What the trainer needs to know about an algorithm.

    advantages(rewards [B], group_ids [B], response_mask [B, T], params) -> [B, T]
    policy_loss(logprobs, old_logprobs, advantages, response_mask, params) -> (loss [B, T], stats)
    `params` is the `algorithm` section of the experiment config as a plain mapping.
    """

    name: str
    description: str
    advantages: AdvantageFn
    policy_loss: PolicyLossFn
    min_samples_per_prompt: int = 1


ALGORITHMS: dict[str, Algorithm] = {}


def register_algorithm(algorithm: Algorithm) -> Algorithm:
    if algorithm.name in ALGORITHMS:
        raise ValueError(f"algorithm {algorithm.name!r} is already registered")
    ALGORITHMS[algorithm.name] = algorithm
    return algorithm


def get_algorithm(name: str) -> Algorithm:
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise KeyError(f"unknown algorithm {name!r}; registered: {sorted(ALGORITHMS)}") from None
