"""GRPO through the real stack: Ray actors, vLLM (CPU) rollout, DeepSpeed learner, reward workers."""

from __future__ import annotations

import copy
import json
import math

import pytest
import ray
import torch

from rlpost.checkpoint import TrainerState, checkpoint_dir
from rlpost.config import build_config
from rlpost.data import PromptSampler
from rlpost.trainer import Trainer
from tests.conftest import TINY_EXPERIMENT

pytestmark = pytest.mark.slow

REQUIRED_METRICS = [
    "step", "reward/mean", "reward/std", "response_length/mean", "kl/mean",
    "time/step_s", "time/rollout_s", "time/reward_s", "time/train_s", "time/weight_sync_s",
]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Set up a trainer, take one rollout batch apart, then train 3 steps and save. The learner runs the memory
    options together: logprobs over chunks of 2 positions, gradient checkpointing, warm-up + cosine schedule."""
    data = copy.deepcopy(TINY_EXPERIMENT)
    data["run"]["dir"] = str(tmp_path_factory.mktemp("grpo") / "run")
    data["stages"][0]["steps"] = 3
    data["learner"].update(logprob_chunk=2, gradient_checkpointing=True, lr_schedule="cosine", lr_warmup_steps=1)
    trainer = Trainer(build_config(data))
    trainer.setup()
    sampler = PromptSampler(trainer.stages[0], seed=0)
    algo = trainer.begin_stage(0)
    batch = trainer.runner.produce_with_retries(sampler, algo, 1).batch
    learners = trainer.cluster.learners
    batch.old_logprobs, batch.ref_logprobs = learners.old_logprobs(batch), learners.ref_logprobs(batch)
    batch.advantages = algo.algorithm.advantages(batch, algo.params).advantages
    trainer.run_stage(0, algo, trainer.stages[0], total=3, first={})
    state = TrainerState(step=3, stage=1, stage_step=0, finished=True)
    final = trainer.save(checkpoint_dir(trainer.run_dir, None), state, with_state=False)
    after = trainer.runner.produce_with_retries(sampler, algo, 4).batch
    yield {"trainer": trainer, "batch": batch, "final": final, "after": after}
    trainer.shutdown()


def test_batch_contract(trained):
    b, cfg = trained["batch"], trained["trainer"].cfg
    rows = cfg.rollout.prompts_per_step * cfg.rollout.n
    assert b.input_ids.shape[0] == rows and b.input_ids.dim() == 2
    for name in ("attention_mask", "response_mask", "rollout_logprobs", "old_logprobs", "ref_logprobs", "advantages"):
        assert getattr(b, name).shape == b.input_ids.shape, name
    # responses sit after their prompt, inside the attention mask, within the token budget
    assert bool((b.response_mask <= b.attention_mask).all())
    assert bool((b.response_lengths >= 1).all()) and bool((b.response_lengths <= cfg.rollout.max_new_tokens).all())
    # every group has n samples of the same prompt
    for g in b.group_ids.unique():
        idx = (b.group_ids == g).nonzero().flatten().tolist()
        assert len(idx) == cfg.rollout.n and len({b.prompts[i] for i in idx}) == 1
    for t in (b.rollout_logprobs, b.old_logprobs, b.ref_logprobs, b.advantages, b.rewards):
        assert torch.isfinite(t).all()
    # nothing outside the response carries a value
    outside = b.response_mask == 0
    assert bool((b.old_logprobs[outside] == 0).all()) and bool((b.advantages[outside] == 0).all())
    # the YAML-bound file plugin scored every sample with its parameter (bonus 0.5) and varies
    assert float(b.rewards.min()) >= 0.5 and float(b.rewards.std()) > 0
    assert all(e is None for e in b.reward_errors)
    # logprobs of generated tokens are real log-probabilities
    assert bool((b.rollout_logprobs[b.response_mask.bool()] <= 0).all())


def test_vllm_logprobs_match_learner_before_training(trained):
    b = trained["batch"]
    mask = b.response_mask.bool()
    diff = (b.rollout_logprobs - b.old_logprobs)[mask].abs().max().item()
    assert diff < 1e-4, diff
    # the reference model is the initial policy, so it agrees too before any update
    assert (b.ref_logprobs - b.old_logprobs)[mask].abs().max().item() < 1e-4


def test_metrics_written_every_step(trained):
    run_dir = trained["trainer"].run_dir
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in lines] == [1, 2, 3]
    for m in lines:
        for key in REQUIRED_METRICS:
            assert key in m, key
            assert isinstance(m[key], int | float) and math.isfinite(m[key]), (key, m[key])
        assert m["actor/grad_norm"] > 0
    samples = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 3 * 4
    assert {"prompt", "response", "reward", "step"} <= set(samples[0])
    assert "algorithm:" in (run_dir / "config.yaml").read_text()


def test_engine_serves_updated_weights(trained):
    """After in-place weight sync, vLLM's logprobs match the trained checkpoint, not the initial model."""
    from transformers import AutoModelForCausalLM

    from rlpost.learner.logprobs import batched_logprobs

    after, trainer = trained["after"], trained["trainer"]
    mask = after.response_mask.bool()
    final = AutoModelForCausalLM.from_pretrained(trained["final"]).eval()
    base = AutoModelForCausalLM.from_pretrained(trainer.run_dir / "base_model").eval()
    lp_final = batched_logprobs(final, after.input_ids, after.attention_mask, 16)
    lp_base = batched_logprobs(base, after.input_ids, after.attention_mask, 16)
    assert (after.rollout_logprobs - lp_final)[mask].abs().max().item() < 1e-4
    assert (after.rollout_logprobs - lp_base)[mask].abs().max().item() > 1e-3
    # later steps' rollout logprobs (after a sync) agree with the learner's recomputation
    lines = [json.loads(line) for line in (trainer.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert lines[-1]["rollout/logprob_abs_diff"] < 1e-5


def test_final_checkpoint_loads_in_transformers_and_vllm(trained):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rlpost.cluster.actors import RolloutActor
    from rlpost.cluster.runtime import actor_options
    from rlpost.rollout import SamplingSpec
    from rlpost.rollout.vllm_engine import vllm_env

    path = str(trained["final"])
    assert (trained["final"] / "COMPLETE").exists()
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    ids = tok("3+4=", return_tensors="pt").input_ids
    out = model.generate(ids, max_new_tokens=3, do_sample=False, pad_token_id=tok.pad_token_id)
    assert out.shape[1] > ids.shape[1]
    engine = RolloutActor.options(**actor_options(vllm_env(2, 1))).remote("vllm", model_path=path, max_model_len=64)
    try:
        result = ray.get(
            engine.generate.remote([ids[0].tolist()], SamplingSpec(n=1, max_new_tokens=3, temperature=0)), timeout=300
        )
    finally:
        ray.kill(engine)
    assert len(result) == 1 and len(result[0]) == 1
    greedy = out[0, ids.shape[1] :].tolist()
    assert result[0][0].token_ids[: len(greedy)] == greedy[: len(result[0][0].token_ids)]


def test_hf_engine_fallback(tmp_path):
    data = copy.deepcopy(TINY_EXPERIMENT)
    data["run"]["dir"] = str(tmp_path / "hf")
    data["rollout"]["engine"] = "hf"
    data["stages"][0]["steps"] = 1
    data["algorithm"]["kl_coef"] = 0.0
    # one optimizer step per rollout batch: the on-policy path (no separate old-logprob pass)
    data["learner"].update(mini_batch_size=16, micro_batch_size=8)
    run_dir = Trainer(build_config(data)).run()
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) == 1
    assert "time/old_logprobs_s" not in lines[0] and "kl/mean" not in lines[0]
    assert lines[0]["actor/ratio_mean"] == pytest.approx(1.0) and lines[0]["actor/clipfrac"] == 0.0
    assert lines[0]["actor/grad_norm"] > 0
    assert lines[0]["rollout/logprob_abs_diff"] < 1e-4
    assert (run_dir / "checkpoints" / "final" / "model.safetensors").exists()


def test_chunked_head_checkpointing_and_a_cosine_schedule_on_the_real_learner(trained):
    """The memory options together on DeepSpeed: logprobs over chunks of 2 positions (still matching the engine's),
    gradient checkpointing, and the learning rate of each step's first update following warm-up + cosine."""
    trainer = trained["trainer"]
    learner = trainer.cfg.learner
    assert learner.logprob_chunk == 2 and learner.gradient_checkpointing and learner.lr_schedule == "cosine"
    lines = [json.loads(line) for line in (trainer.run_dir / "metrics.jsonl").read_text().splitlines()]
    # 16 sequences, mini-batches of 8: 6 updates; steps start at updates 0, 2, 4 (warm-up 1, then cosine over 5)
    lr = learner.lr
    assert [m["actor/lr"] for m in lines] == pytest.approx([0.5 * lr, 0.904508 * lr, 0.345492 * lr], rel=1e-5)
    assert all(m["rollout/logprob_abs_diff"] < 1e-4 and m["actor/grad_norm"] > 0 for m in lines[1:])
