"""The multi-turn environment API: an interaction answers each policy turn with an observation or ends
the episode.

An interaction is a factory `start(row: dict, **params) -> Session`, called once per trajectory with the
task row (prompt and reference fields). The session's `reply(turn: str)` (a plain or an `async def`
method) gets the text of the policy's latest turn and returns an `Observation` (appended to the
trajectory as tokens the policy did not generate, then the policy speaks again) or a `Finish`. The
trainer enforces the limits (`rollout.turns`): turns, tokens per turn and in all, tokens per
observation, seconds per reply. A reply that raises or times out is shown to the policy as an `error`
observation; the run goes on.

Interactions are found by registered name (`register_interaction`; built-ins in the top-level `envs`
package), by entry point in the `rlpost.interactions` group, or by reference (`pkg.module:attr`,
`path/to/file.py:attr`), like reward plugins.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from rlpost.plugins import load_attr, load_entry_point, register_once

ENTRY_POINT_GROUP = "rlpost.interactions"


@dataclass(frozen=True)
class Observation:
    """What the environment shows the policy next; `role` is the chat role it is rendered with (tool, user)."""

    text: str
    role: str = "tool"


@dataclass(frozen=True)
class Finish:
    """The episode is over. `reward` (optional) reaches rewards as `sample.outcome["reward"]` (the
    `episode_reward` plugin reads it); `info` is kept with the sample."""

    reward: float | None = None
    info: dict[str, Any] = field(default_factory=dict)


Reply = Observation | Finish


class Session(Protocol):
    def reply(self, turn: str) -> Reply:
        """The answer to the policy's latest turn (may be an `async def`)."""


Interaction = Callable[..., Session]  # start(row, **params) -> Session

INTERACTIONS: dict[str, Interaction] = {}


def register_interaction(name: str):
    """Decorator: register an interaction factory under `name`."""

    def wrap(start: Interaction) -> Interaction:
        return register_once(INTERACTIONS, name, start, "interaction")

    return wrap


def resolve_interaction(spec: str) -> Interaction:
    """An interaction by registered name, entry point, `pkg.module:attr` or `file.py:attr`."""
    importlib.import_module("rlpost.multiturn.tools")
    importlib.import_module("envs")
    if spec in INTERACTIONS:
        return INTERACTIONS[spec]
    obj = load_attr(spec, "interaction") if ":" in spec else load_entry_point(ENTRY_POINT_GROUP, spec)
    if obj is None:
        known = sorted(INTERACTIONS)
        raise KeyError(f"unknown interaction {spec!r}; registered: {known} (or use pkg.module:attr / file.py:attr)")
    if not callable(obj):
        raise TypeError(f"interaction {spec!r} is a {type(obj).__name__}, not a callable start(row, **params)")
    return obj
