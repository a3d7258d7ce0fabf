"""GRPO for two steps on the real stack (vLLM rollout, DeepSpeed learner, Ray reward workers) with the reward
given by a tiny learned reward model bound in YAML."""

from __future__ import annotations

import copy
import json
import math

import pytest
import yaml

from rlpost.config import load_config
from rlpost.rewards import Sample, resolve_reward
from rlpost.trainer import Trainer
from tests.conftest import TINY_EXPERIMENT
from tests.model_zoo import build_model

pytestmark = pytest.mark.slow


def test_grpo_with_a_reward_model_bound_in_yaml(tmp_path):
    rm = build_model("qwen2", tmp_path / "rm", num_labels=1)
    data = copy.deepcopy(TINY_EXPERIMENT)
    data["run"]["dir"] = str(tmp_path / "run")
    params = {"model": str(rm), "chat": True, "transform": "sigmoid", "batch_size": 8}
    data["stages"][0]["envs"][0]["rewards"] = [{"name": "reward_model", "params": params}]
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(data))
    run_dir = Trainer(load_config(tmp_path / "exp.yaml")).run()
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    samples = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2]
    for m in metrics:
        assert m["reward/error_rate"] == 0.0 and 0.0 < m["reward/reward_model"] < 1.0 and m["reward/std"] > 0
        assert math.isfinite(m["reward/reward_model/logit"]) and math.isfinite(m["actor/grad_norm"])
    # the workers' scores are the model's: recomputed here from the logged prompt and response
    again = resolve_reward("reward_model")([Sample(s["prompt"], s["response"]) for s in samples], params)
    assert [s["reward"] for s in samples] == pytest.approx([r.score for r in again], abs=1e-5)
    assert all(s["error"] is None for s in samples) and len({round(s["reward"], 6) for s in samples}) > 1
