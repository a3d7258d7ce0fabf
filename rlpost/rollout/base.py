"""The rollout engine protocol: token ids in, sampled token ids + logprobs out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch


@dataclass(frozen=True)
class SamplingSpec:
    n: int = 1  # responses per prompt
    max_new_tokens: int = 32
    temperature: float = 1.0  # 0 = greedy
    top_p: float = 1.0
    seed: int | None = None


@dataclass
class Completion:
    token_ids: list[int]  # generated tokens, EOS included when generation stopped on it
    logprobs: list[float]  # engine logprob of each generated token (same length)
    text: str  # decoded response, special tokens removed
    truncated: bool  # stopped by max_new_tokens


class RolloutEngine(Protocol):
    def generate(self, prompts: list[list[int]], spec: SamplingSpec) -> list[list[Completion]]:
        """For each prompt (token ids) return `spec.n` completions."""

    def update_weights(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load new policy weights in place (names as in the Hugging Face state dict)."""

    def join_weight_group(self, group: dict, rank_offset: int) -> None:
        """Join the process group the weights are broadcast over (`rlpost.collective`; `cluster.weight_sync: collective`)."""

    def receive_weights(self, metas: list[list]) -> None:
        """Load one broadcast of the weights ([name, dtype, shape] per tensor, in broadcast order) in place."""


ENGINES: dict[str, Callable[..., RolloutEngine]] = {}


def register_engine(name: str):
    def wrap(factory: Callable[..., RolloutEngine]):
        ENGINES[name] = factory
        return factory

    return wrap
