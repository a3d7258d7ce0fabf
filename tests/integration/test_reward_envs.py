"""configs/grpo_math.yaml and configs/gppo_code.yaml for two steps on the real stack (tiny settings).

Both start from the shipped YAML with small overrides (a short warm-up through the
environment's reference answers, 2 prompts x 4 samples, few new tokens) and check the metrics
and the reward components of the math / sandboxed code rewards.
"""

from __future__ import annotations

import json
import math

import pytest

from rlpost.config import load_config
from rlpost.trainer import Trainer
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

TINY = [
    "warmup.steps=3", "warmup.batch_size=8", "warmup.examples=16",
    "stages.0.steps=2", "rollout.prompts_per_step=2", "rollout.n=4", "rollout.max_new_tokens=24",
    "learner.micro_batch_size=8", "learner.mini_batch_size=8", "logging.console=false", "logging.samples_per_step=4",
]  # fmt: skip
FINITE = [
    "reward/mean", "reward/std", "reward/error_rate", "response_length/mean", "time/step_s", "time/reward_s", "actor/grad_norm",
]  # fmt: skip


def _run(config: str, tmp_path, extra: list[str]) -> tuple[list[dict], list[dict]]:
    cfg = load_config(ROOT / config, [f"run.dir={tmp_path / 'run'}", *TINY, *extra])
    run_dir = Trainer(cfg).run()
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    samples = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2]
    for m in metrics:
        for key in FINITE:
            assert isinstance(m[key], int | float) and math.isfinite(m[key]), (key, m.get(key))
        assert m["reward/error_rate"] == 0.0
    assert len(samples) == 8 and all(s["error"] is None for s in samples)
    return metrics, samples


def test_grpo_math_runs_with_the_math_reward(tmp_path):
    metrics, samples = _run("configs/grpo_math.yaml", tmp_path, [])
    for m in metrics:
        for key in ("reward/math", "reward/math/correct", "reward/math/format", "kl/mean"):
            assert math.isfinite(m[key]), key
        assert 0.0 <= m["reward/math/correct"] <= 1.0
    assert all({"math", "math/correct", "math/format"} <= set(s["components"]) for s in samples)


def test_gppo_code_runs_with_the_sandboxed_code_reward(tmp_path):
    metrics, samples = _run("configs/gppo_code.yaml", tmp_path, [])
    for m in metrics:
        for key in ("reward/code", "reward/code/passed", "reward/code/total", "reward/code/timeouts"):
            assert math.isfinite(m[key]), key
        # signed scale: every score lies in [-1, 1]
        assert -1.0 <= m["reward/min"] <= m["reward/max"] <= 1.0
        assert m["reward/code/total"] == 3.0
    assert all({"code", "code/passed", "code/total"} <= set(s["components"]) for s in samples)
