"""The environment API and registry.

An environment is a named dataset (rows with a `prompt` and the reference fields its rewards
read), the reward bindings that score it, and optionally the reference completion of a row
for supervised warm-up. Built-ins live in the top-level `envs` package; third parties register
through the `rlpost.envs` entry-point group.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

ENTRY_POINT_GROUP = "rlpost.envs"


@dataclass(frozen=True)
class RewardSpec:
    """A reward plugin bound to an environment with a weight and parameters."""

    name: str
    weight: float = 1.0
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Environment:
    """`load(split, params)` returns a `datasets.Dataset` with a `prompt` column.

    `reference_fields` are the columns passed to rewards; `sft_target(row)` is the reference
    completion used by supervised warm-up (None when the environment has none).
    """

    name: str
    description: str
    load: Callable[[str, dict[str, Any]], Any]
    rewards: tuple[RewardSpec, ...]
    reference_fields: tuple[str, ...]
    sft_target: Callable[[dict[str, Any]], str] | None = None


ENVS: dict[str, Environment] = {}


def register_env(env: Environment) -> Environment:
    if env.name in ENVS and ENVS[env.name] is not env:
        raise ValueError(f"environment {env.name!r} is already registered")
    ENVS[env.name] = env
    return env


def load_builtins() -> None:
    """Import the built-in environments (the top-level `envs` package) so they are registered."""
    importlib.import_module("envs")


def get_env(name: str) -> Environment:
    load_builtins()
    if name in ENVS:
        return ENVS[name]
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            obj = ep.load()
            return register_env(obj) if isinstance(obj, Environment) else ENVS[name]
    raise KeyError(f"unknown environment {name!r}; registered: {sorted(ENVS)}")
