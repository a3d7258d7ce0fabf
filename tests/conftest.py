"""Shared test helpers: the repository root and a small experiment config on the tiny model."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Every Ray cluster of the test session runs without token auth. Ray fixes a process's auth mode at its first
# `ray.init` (a local start picks `token`); a driver left in token mode rejects the calls of a cluster started
# without it (tests/integration/test_multinode.py), which then cancels every actor the driver creates there.
os.environ["RAY_AUTH_MODE"] = "disabled"

TINY_EXPERIMENT: dict[str, Any] = {
    "run": {"name": "test", "seed": 0},
    "model": {"path": "tiny"},
    "rollout": {"engine": "vllm", "prompts_per_step": 4, "n": 4, "max_new_tokens": 6, "kv_cache_gib": 1},
    "algorithm": {"name": "grpo", "kl_coef": 0.01, "clip_high": 0.28},
    "learner": {"lr": 1e-3, "mini_batch_size": 8, "micro_batch_size": 4, "zero_stage": 2},
    "stages": [
        {
            "name": "add",
            "steps": 2,
            "envs": [
                {
                    "name": "arithmetic",
                    "params": {"digits": 1, "train_size": 60, "test_size": 10},
                    # the untrained tiny model never answers right; this reward still varies
                    "rewards": [{"name": f"{ROOT / 'tests/plugins/digit_reward.py'}:digit_fraction", "params": {"bonus": 0.5}}],
                }
            ],
        }
    ],
    "logging": {"console": False, "samples_per_step": 4},
}


def processes_with(marker: str) -> list[int]:
    """PIDs of live processes whose command line contains `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.fixture
def tiny_experiment(tmp_path) -> dict[str, Any]:
    data = copy.deepcopy(TINY_EXPERIMENT)
    data["run"]["dir"] = str(tmp_path / "run")
    return data


@pytest.fixture(scope="session", autouse=True)
def _ray_shutdown():
    yield
    import sys

    if "ray" in sys.modules:
        import ray

        ray.shutdown()
