"""GRPO through the real stack (vLLM engine, DeepSpeed learner, reference model) on five architectures
with byte-level BPE tokenizers and chat templates with a system message; Llama and Mistral have no pad
token. Engine and learner logprobs agree on every family."""

from __future__ import annotations

import copy
import json

import pytest

from rlpost.config import build_config
from rlpost.trainer import Trainer
from tests.conftest import TINY_EXPERIMENT
from tests.model_zoo import FAMILIES, build_model

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_grpo_on_each_family(family, tmp_path):
    data = copy.deepcopy(TINY_EXPERIMENT)
    data["run"]["dir"] = str(tmp_path / "run")
    data["model"] = {"path": str(build_model(family, tmp_path / family))}
    env = data["stages"][0]["envs"][0]
    env.update(chat=True, system="You add numbers. Answer with the sum only.")
    run_dir = Trainer(build_config(data)).run()
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2]
    for m in metrics:  # the engine's logprobs (after temperature) are the learner's, before and after a weight sync
        assert m["rollout/logprob_abs_diff"] < 1e-4, (family, m["rollout/logprob_abs_diff"])
        assert m["actor/grad_norm"] > 0 and m["kl/mean"] >= 0
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(run_dir / "checkpoints" / "final") is not None
