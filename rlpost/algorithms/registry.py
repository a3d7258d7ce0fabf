"""Two registries of pure functions and the recipes that combine them.

- An `Estimator` turns a scored batch into advantages and says what the trainer must provide for
  it (greedy baseline, critic, samples per prompt, where a KL term may go, whether a group of equal
  rewards carries no signal).
- A `PolicyLoss` turns logprobs, old logprobs and advantages into a token loss, and says when it
  needs one optimizer step per rollout batch (no importance ratio) or one advantage per sequence.
- An `Algorithm` is a named recipe: an estimator, a loss, defaults for shared config keys, and
  optionally a pydantic model of its own settings (validated under `algorithm.<key>`).

Any estimator combines with any loss from YAML (`algorithm.advantage`, `algorithm.loss`); the
config rejects combinations that cannot work. The trainer asks the resolved recipe what it needs
and never branches on names. Third-party recipes load like reward plugins: an entry point in the
`rlpost.algorithms` group, or `algorithm.name: pkg.module:attr` / `path/to/file.py:attr`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, NamedTuple

import torch

from rlpost.plugins import load_attr, load_entry_point, register_once

if TYPE_CHECKING:
    from pydantic import BaseModel

    from rlpost.batch import RolloutBatch

ENTRY_POINT_GROUP = "rlpost.algorithms"


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


def _never(params: Mapping[str, Any]) -> bool:
    return False


@dataclass(frozen=True)
class Estimator:
    """advantages(batch, params) -> Advantages. It reads the batch's rewards [B], group_ids [B],
    response_mask [B, T] and, as it needs them, baseline_rewards [B], values [B, T],
    old_logprobs / ref_logprobs [B, T]. kl_placements: where a KL-to-reference term may go, the
    first being the default ("reward" means this estimator folds it into its returns).
    token_level: its advantages may differ between the tokens of one sequence."""

    name: str
    description: str
    fn: AdvantageFn
    min_samples_per_prompt: int = 1
    greedy_baseline: bool = False
    critic: bool = False
    kl_placements: tuple[str, ...] = ("loss",)
    equal_rewards_no_signal: bool = False
    token_level: bool = False


@dataclass(frozen=True)
class PolicyLoss:
    """fn(logprobs, old_logprobs, advantages, response_mask, params) -> (loss [B, T], stats).
    one_update_only(params): no importance ratio under these settings. sequence_advantage: it reads one
    advantage per sequence (the mean over the sequence's tokens)."""

    name: str
    description: str
    fn: PolicyLossFn
    one_update_only: Callable[[Mapping[str, Any]], bool] = _never
    sequence_advantage: bool = False


ESTIMATORS: dict[str, Estimator] = {}
LOSSES: dict[str, PolicyLoss] = {}


def register_estimator(estimator: Estimator) -> Estimator:
    unknown = set(estimator.kl_placements) - set(KL_PLACEMENTS)
    if not estimator.kl_placements or unknown:
        raise ValueError(f"estimator {estimator.name!r}: kl_placements must be a non-empty subset of {KL_PLACEMENTS}")
    return register_once(ESTIMATORS, estimator.name, estimator, "estimator")


def register_loss(loss: PolicyLoss) -> PolicyLoss:
    return register_once(LOSSES, loss.name, loss, "policy loss")


@dataclass(frozen=True)
class Algorithm:
    """A recipe: `estimator` and `loss` name registered parts. defaults: values for the shared config keys
    left unset (None) under this recipe. settings: a pydantic model of the recipe's own keys, given as
    `algorithm.<key>` and passed to its functions in `params`."""

    name: str
    description: str
    estimator: str
    loss: str
    defaults: Mapping[str, Any] = field(default_factory=dict)
    settings: type[BaseModel] | None = None

    @property
    def parts(self) -> tuple[Estimator, PolicyLoss]:
        return _estimator(self.estimator), _loss(self.loss)

    def with_parts(self, estimator: str | None = None, loss: str | None = None) -> Algorithm:
        """The same recipe with its estimator and / or loss swapped (names checked)."""
        out = replace(self, estimator=estimator or self.estimator, loss=loss or self.loss)
        out.parts  # noqa: B018 - raises KeyError for an unregistered name
        return out

    # what the trainer asks
    def advantages(self, batch: RolloutBatch, params: Mapping[str, Any]) -> Advantages:
        return self.parts[0].fn(batch, params)

    def policy_loss(self, logprobs, old_logprobs, advantages, response_mask, params):
        return self.parts[1].fn(logprobs, old_logprobs, advantages, response_mask, params)

    @property
    def min_samples_per_prompt(self) -> int:
        return self.parts[0].min_samples_per_prompt

    @property
    def greedy_baseline(self) -> bool:
        return self.parts[0].greedy_baseline

    @property
    def critic(self) -> bool:
        return self.parts[0].critic

    @property
    def kl_placements(self) -> tuple[str, ...]:
        return self.parts[0].kl_placements

    @property
    def equal_rewards_no_signal(self) -> bool:
        return self.parts[0].equal_rewards_no_signal

    def one_update_only(self, params: Mapping[str, Any]) -> bool:
        return self.parts[1].one_update_only(params)

    def conflict(self) -> str | None:
        """Why this estimator cannot go with this loss, or None."""
        estimator, loss = self.parts
        if loss.sequence_advantage and estimator.token_level:
            return (
                f"the {loss.name} loss takes one advantage per sequence, but the {estimator.name} estimator gives "
                f"per-token advantages"
            )
        return None


def _estimator(name: str) -> Estimator:
    try:
        return ESTIMATORS[name]
    except KeyError:
        raise KeyError(f"unknown advantage estimator {name!r}; registered: {sorted(ESTIMATORS)}") from None


def _loss(name: str) -> PolicyLoss:
    try:
        return LOSSES[name]
    except KeyError:
        raise KeyError(f"unknown policy loss {name!r}; registered: {sorted(LOSSES)}") from None


ALGORITHMS: dict[str, Algorithm] = {}


def register_algorithm(algorithm: Algorithm) -> Algorithm:
    if algorithm.name in ALGORITHMS:
        raise ValueError(f"algorithm {algorithm.name!r} is already registered")
    algorithm.parts  # noqa: B018 - its estimator and loss must be registered first
    ALGORITHMS[algorithm.name] = algorithm
    return algorithm


def get_algorithm(name: str) -> Algorithm:
    """A registered recipe, one from the `rlpost.algorithms` entry points, or `pkg.module:attr` /
    `path/to/file.py:attr` (loading it registers it; it is then also known under that reference)."""
    if name in ALGORITHMS:
        return ALGORITHMS[name]
    obj = load_attr(name, "algorithm") if ":" in name else load_entry_point(ENTRY_POINT_GROUP, name)
    if obj is None:
        raise KeyError(f"unknown algorithm {name!r}; registered: {sorted(ALGORITHMS)} (or pkg.module:attr / file.py:attr)")
    if not isinstance(obj, Algorithm):
        raise TypeError(f"algorithm {name!r} is a {type(obj).__name__}, not an rlpost.algorithms.Algorithm")
    ALGORITHMS.setdefault(obj.name, obj)
    ALGORITHMS[name] = obj
    return obj


def resolve_algorithm(params: Mapping[str, Any]) -> Algorithm:
    """The recipe of a resolved `algorithm` config section: `name`, with `advantage` / `loss` overrides."""
    return get_algorithm(params["name"]).with_parts(params.get("advantage"), params.get("loss"))
