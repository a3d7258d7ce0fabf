"""Rollout engines behind one protocol (`RolloutEngine`), registered by name."""

from rlpost.rollout.base import ENGINES, Completion, RolloutEngine, SamplingSpec, register_engine

__all__ = ["ENGINES", "Completion", "RolloutEngine", "SamplingSpec", "register_engine", "create_engine"]


def create_engine(name: str, **kwargs) -> RolloutEngine:
    """Build the engine registered as `name` (importing a built-in engine's module on demand)."""
    import importlib

    if name not in ENGINES:
        importlib.import_module(f"rlpost.rollout.{name}_engine")
    return ENGINES[name](**kwargs)
