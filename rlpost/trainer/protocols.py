"""The seams between the step loop and whatever runs the models.

The loop (`rlpost.trainer`) only talks to these: `RolloutEngines`, `Learners`, a `RewardScorer`
and a `WeightChannel`, bundled as a `Cluster` by a `Launcher`. `rlpost.cluster` implements them
with Ray actors; the unit tests implement them in-process. Any of their calls may raise
`ActorFailure`, naming the role and index of the actor that died, hung or raised.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from rlpost.batch import RolloutBatch
from rlpost.rewards import Sample, Scored
from rlpost.rollout import Completion, SamplingSpec


class ActorFailure(RuntimeError):
    """An actor died, did not answer in time or raised; `role` and `index` name it."""

    def __init__(self, role: str, index: int, error: BaseException | str):
        self.role, self.index = role, index
        text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        super().__init__(f"{role} {index} failed: {' '.join(str(text).split())[:400]}")


ENGINE_ROLE = "rollout engine"  # the only role whose actors are restarted (the step is retried)


class RolloutEngines(Protocol):
    def generate(self, prompts: list[list[int]], spec: SamplingSpec) -> list[list[Completion]]:
        """`spec.n` completions per prompt (token ids), the prompts spread over the engines."""

    def restart(self, index: int) -> None:
        """Replace engine `index` (it may hang or be dead); the caller pushes weights to it after."""


@dataclass(frozen=True)
class TrainStats:
    """Per-rank statistics of one `Learners.train` call (empty for a model that did not train)."""

    policy: list[dict[str, float]]
    critic: list[dict[str, float]]


class Learners(Protocol):
    """The policy learners (data-parallel ranks), and the critic and reference model when there are any."""

    has_critic: bool
    has_reference: bool

    def set_params(self, policy: Mapping[str, Any], critic: Mapping[str, Any] | None) -> None:
        """The algorithm settings of the stage about to run."""

    def old_logprobs(self, batch: RolloutBatch) -> torch.Tensor:
        """[B, T] the current policy's logprobs of the batch's tokens (response positions)."""

    def ref_logprobs(self, batch: RolloutBatch) -> torch.Tensor:
        """[B, T] the reference model's logprobs."""

    def values(self, batch: RolloutBatch) -> torch.Tensor:
        """[B, T] the critic's values before the update."""

    def train(self, batch: RolloutBatch, policy: bool = True) -> TrainStats:
        """The optimizer steps on `batch` (advantages set): the critic's, and the policy's when `policy`."""

    def save(self, path: Path, with_state: bool) -> None:
        """The policy (HF format) under `path`, the critic under `path/critic`; optimizer state when `with_state`."""

    def load(self, path: Path) -> None:
        """Weights and optimizer state of a checkpoint written by `save(path, True)`."""


class RewardScorer(Protocol):
    restarts: int  # reward workers replaced so far

    def score(self, samples: list[Sample], bindings: list[str]) -> list[Scored]:
        """One result per sample, scored by the rewards bound to `bindings[i]` (an environment's key
        path in the config); a failing or hanging plugin costs only its sample."""


class WeightChannel(Protocol):
    version: int  # policy versions pushed so far (0: the starting weights)

    def push(self) -> float:
        """The learners' current weights to every engine; returns the engines' load seconds."""


@dataclass
class Cluster:
    engines: RolloutEngines
    learners: Learners
    rewards: RewardScorer
    weights: WeightChannel
    close: Callable[[], None]
    description: str = ""  # what was started, for the log
    lost: Callable[[str], str] = lambda failure: ""  # after a failure (its text): the dead nodes and the actors they held


@dataclass(frozen=True)
class LaunchSpec:
    """What the launcher needs beyond the config."""

    model_path: str
    max_model_len: int  # prompt + response tokens the engines must hold
    bindings: dict[str, list[dict[str, Any]]]  # binding key -> reward plugins (name, weight, params)
    policy_params: dict[str, Any]  # the first stage's algorithm settings
    critic_params: dict[str, Any] | None  # None: no critic
    reference: bool


Launcher = Callable[[Any, LaunchSpec], Cluster]  # (ExperimentConfig, spec) -> Cluster
