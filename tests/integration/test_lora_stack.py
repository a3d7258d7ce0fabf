"""LoRA on the real stack: only adapters train, the base is the reference (no reference actor), the
engines get merged weights whose logprobs match the learner's, checkpoints hold a PEFT adapter, resume."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from rlpost.checkpoint import latest_checkpoint
from rlpost.config import build_config
from rlpost.trainer import Trainer
from rlpost.trainer.loop import launch_on_ray

pytestmark = pytest.mark.slow


def test_lora_trains_adapters_against_the_base_and_resumes(tiny_experiment, tmp_path):
    data = tiny_experiment
    data["stages"][0]["steps"] = 4
    data["learner"]["lora"] = {"rank": 8}
    data["checkpoint"] = {"save_every": 2}
    clusters = []

    def launch(cfg, spec):
        clusters.append(launch_on_ray(cfg, spec))
        return clusters[-1]

    run_dir = Trainer(build_config(data), launcher=launch).run()
    (cluster,) = clusters
    assert "LoRA rank 8 (reference: the base)" in cluster.description and "a reference model" not in cluster.description
    assert cluster.learners.reference is None and cluster.learners.has_reference
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert all(m["rollout/logprob_abs_diff"] < 1e-4 for m in metrics[1:])  # merged weights reach the engines
    assert metrics[-1]["kl/mean"] > 0  # the adapted policy has moved away from the base

    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    final = run_dir / "checkpoints" / "final"
    base = AutoModelForCausalLM.from_pretrained(run_dir / "base_model")
    merged = PeftModel.from_pretrained(base, final / "adapter").merge_and_unload()
    saved = AutoModelForCausalLM.from_pretrained(final)
    for name, tensor in saved.state_dict().items():
        torch.testing.assert_close(merged.state_dict()[name], tensor, atol=1e-5, rtol=0)
    # only adapters trained: a layer LoRA does not touch (the embeddings) is the base's, bit for bit
    assert torch.equal(saved.state_dict()["model.embed_tokens.weight"], base.state_dict()["model.embed_tokens.weight"])

    shutil.rmtree(final)
    shutil.rmtree(run_dir / "checkpoints" / "step_000004")
    (run_dir / "metrics.jsonl").write_text("\n".join((run_dir / "metrics.jsonl").read_text().splitlines()[:2]) + "\n")
    assert latest_checkpoint(run_dir).name == "step_000002"
    data["checkpoint"]["resume"] = "auto"
    Trainer(build_config(data)).run()
    steps = [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4] and (final / "adapter" / "adapter_config.json").exists()
