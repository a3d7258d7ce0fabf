"""The reward plugin API and registry.

A plugin is a callable `fn(sample: Sample, **params) -> float | RewardResult`, or, when
registered with `batched=True`, `fn(samples: list[Sample], **params) -> list[...]`. Plugins are
found by registered name (built-ins in the top-level `rewards` package, third parties through
the `rlpost.rewards` entry-point group), or by reference: `pkg.module:attr` or
`path/to/file.py:attr`. Timeouts and isolation are the reward worker pool's job; a plugin's
`warmup(**params)` runs as each worker starts, before any sample's time bound (e.g. a model load).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rlpost.plugins import load_attr, load_entry_point

ENTRY_POINT_GROUP = "rlpost.rewards"


@dataclass(frozen=True)
class Sample:
    """One response to score. `reference` holds the task's reference fields (e.g. `answer`). In a multi-turn
    environment `response` is the policy's last turn, `turns` the whole episode ({role, text, tokens} per
    turn, observations included) and `outcome` how it ended (`ended`, the environment's `reward`, `info`)."""

    prompt: str
    response: str
    reference: dict[str, Any] = field(default_factory=dict)
    env: str = ""
    turns: tuple[dict[str, Any], ...] = ()
    outcome: dict[str, Any] = field(default_factory=dict)


@dataclass
class RewardResult:
    """A score plus optional named components and a free-text note."""

    score: float
    components: dict[str, float] = field(default_factory=dict)
    info: str = ""


@dataclass(frozen=True)
class RewardPlugin:
    name: str
    fn: Callable[..., Any]
    description: str = ""
    batched: bool = False
    warmup: Callable[..., Any] | None = None  # warmup(**params): load what scoring needs (e.g. a model)

    def warm_up(self, params: dict[str, Any]) -> None:
        """Run `warmup(**params)` if there is one. Its errors are dropped here: scoring meets them again and records
        them per sample, so a bad binding costs its samples the fallback score, not the run."""
        if self.warmup is None:
            return
        try:
            self.warmup(**params)
        except Exception:  # noqa: BLE001, S110 - reported by the scoring call that fails the same way
            pass

    def __call__(self, samples: list[Sample], params: dict[str, Any]) -> list[RewardResult]:
        """Score `samples`; always returns one validated `RewardResult` per sample."""
        raw = self.fn(samples, **params) if self.batched else [self.fn(s, **params) for s in samples]
        if len(raw) != len(samples):
            raise ValueError(f"reward {self.name!r} returned {len(raw)} results for {len(samples)} samples")
        return [as_result(r, self.name) for r in raw]


REWARDS: dict[str, RewardPlugin] = {}


def register_reward(
    name: str, *, description: str | None = None, batched: bool = False, warmup: Callable[..., Any] | None = None
):
    """Decorator: register `fn` under `name` (the first docstring line is its description). `warmup(**params)`, when
    given, runs once per binding as a reward worker starts, before any sample's time bound runs (a model load)."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in REWARDS and REWARDS[name].fn is not fn:
            raise ValueError(f"reward {name!r} is already registered")
        REWARDS[name] = RewardPlugin(name, fn, description or first_line(fn.__doc__), batched, warmup)
        return fn

    return wrap


def first_line(doc: str | None) -> str:
    lines = (doc or "").strip().splitlines()
    return lines[0] if lines else ""


def as_result(value: Any, name: str) -> RewardResult:
    """Normalise a plugin's return value; a non-finite or non-numeric score is an error."""
    if isinstance(value, RewardResult):
        result = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        result = RewardResult(float(value))
    else:
        raise TypeError(f"reward {name!r} returned {type(value).__name__}; expected a float or RewardResult")
    if not math.isfinite(result.score):
        raise ValueError(f"reward {name!r} returned a non-finite score {result.score}")
    return result


def load_builtins() -> None:
    """Import the built-in plugins (the top-level `rewards` package) so they are registered."""
    importlib.import_module("rewards")


def _as_plugin(spec: str, obj: Any) -> RewardPlugin:
    """A loaded object as a plugin: itself, its registration (loading may register it), or a wrapper."""
    if isinstance(obj, RewardPlugin):
        return obj
    if not callable(obj):
        raise TypeError(f"reward {spec!r} is a {type(obj).__name__}, not a callable")
    registered = next((p for p in REWARDS.values() if p.fn is obj), None)
    return registered or RewardPlugin(spec, obj, first_line(obj.__doc__))


def resolve_reward(spec: str) -> RewardPlugin:
    """Find a plugin by registered name, entry point, `pkg.module:attr` or `file.py:attr`."""
    load_builtins()
    if spec in REWARDS:
        return REWARDS[spec]
    if ":" in spec:
        return _as_plugin(spec, load_attr(spec, "reward"))
    obj = load_entry_point(ENTRY_POINT_GROUP, spec)
    if obj is not None:
        return _as_plugin(spec, obj)
    raise KeyError(f"unknown reward {spec!r}; registered: {sorted(REWARDS)} (or use pkg.module:attr / file.py:attr)")


@dataclass
class Scored:
    """What the worker pool returns per sample."""

    score: float
    components: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    info: str = ""


def score_with_bindings(
    bindings: list[tuple[RewardPlugin, float, dict[str, Any]]], samples: list[Sample], fallback: float
) -> list[Scored]:
    """Weighted sum of several plugins over `samples` (all of one environment).

    Components are `<plugin>` (its score) and `<plugin>/<component>`. A plugin error on a sample
    gives that sample the `fallback` score and the error text; other samples are unaffected.
    """
    out = [Scored(0.0) for _ in samples]
    for plugin, weight, params in bindings:
        try:
            results: list[RewardResult | Exception] = list(plugin(samples, params))
        except Exception:  # isolate the failing sample(s) by scoring one at a time
            results = []
            for s in samples:
                try:
                    results.append(plugin([s], params)[0])
                except Exception as e:  # noqa: BLE001 - any plugin failure is recorded, not raised
                    results.append(e)
        for scored, res in zip(out, results):
            if isinstance(res, Exception):
                scored.error = scored.error or f"{plugin.name}: {type(res).__name__}: {res}"[:500]
                continue
            scored.score += weight * res.score
            scored.components[plugin.name] = res.score
            scored.components.update({f"{plugin.name}/{k}": float(v) for k, v in res.components.items()})
            if res.info:
                scored.info = f"{scored.info}; {res.info}" if scored.info else res.info
    for scored in out:
        if scored.error:
            scored.score = fallback
    return out
