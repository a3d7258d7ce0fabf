"""Multi-turn GRPO through the real stack (Ray, vLLM CPU, DeepSpeed, the sandbox): the two built-in
multi-turn environments in one stage, with the engine's and the learner's logprobs compared across turns."""

from __future__ import annotations

import copy
import json
import time

import pytest
import torch

from rlpost.config import build_config
from rlpost.data import PromptSampler
from rlpost.multiturn.tools import TOOLS, ToolSession
from rlpost.trainer import Trainer
from tests.conftest import ROOT, TINY_EXPERIMENT

pytestmark = pytest.mark.slow

DIGITS = {"name": f"{ROOT / 'tests/plugins/digit_reward.py'}:digit_fraction", "params": {"bonus": 0.5}}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One rollout batch taken apart before training, then 2 GRPO steps on both environments."""
    data = copy.deepcopy(TINY_EXPERIMENT)
    data["run"]["dir"] = str(tmp_path_factory.mktemp("multiturn") / "run")
    data["model"] = {"path": "tiny", "tiny": {"max_position": 1024}}
    data["rollout"].update(max_new_tokens=24, turns={"max_turns": 3, "max_tokens": 96, "max_observation_tokens": 48})
    data["stages"][0]["envs"] = [
        # an untrained model rarely writes a tool call: the digit reward gives its episodes a signal
        {"name": "tool_arithmetic", "params": {"train_size": 40, "test_size": 4}, "rewards": [DIGITS]},
        # an untrained model's text passes no test, so the feedback always asks again
        {"name": "mbpp_feedback", "chat": True, "rewards": [DIGITS, {"name": "code", "weight": 1.0}]},
    ]
    data["heldout"] = {"every": 2, "limit": 3, "samples": 2}
    trainer = Trainer(build_config(data))
    trainer.setup()
    algo = trainer.begin_stage(0)
    batch = trainer.runner.produce_with_retries(PromptSampler(trainer.stages[0], seed=1), algo, 1).batch
    batch.old_logprobs = trainer.cluster.learners.old_logprobs(batch)
    trainer.run_stage(0, algo, trainer.stages[0], total=2, first={})
    yield {"trainer": trainer, "batch": batch}
    trainer.shutdown()


def test_episodes_are_trained_on_the_tokens_the_engine_generated(run):
    b = run["batch"]
    turns = [sum(t["role"] == "assistant" for t in e["turns"]) for e in b.episodes]
    code = [i for i, env in enumerate(b.envs) if env == "mbpp_feedback"]
    assert code and all(turns[i] >= 2 for i in code)  # the feedback loop ran on the engine
    for i in code:
        mask, attn = b.response_mask[i], b.attention_mask[i]
        first = int(mask.nonzero()[0])  # the response's first token
        observed = b.input_ids[i][first:][(mask[first:] == 0) & (attn[first:] == 1)]
        shown = run["trainer"].tokenizer.decode(observed.tolist())  # the feedback is in the sequence, in the chat frame
        assert shown.startswith("<|im_end|>\n<|im_start|>user\n") and shown.endswith("<|im_end|>\n<|im_start|>assistant\n")
        assert "No code found" in shown or "tests failed" in shown
    # every policy token's engine logprob agrees with the learner's on the same ids, in every turn
    policy = b.response_mask.bool()
    diff = (b.rollout_logprobs - b.old_logprobs)[policy].abs().max().item()
    assert diff < 1e-4, diff
    assert bool((b.rollout_logprobs[~policy] == 0).all())


def test_steps_metrics_samples_and_heldout(run):
    run_dir = run["trainer"].run_dir
    metrics = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2]
    for m in metrics:
        assert m["episode/turns_mean"] > 1.0 and m["actor/grad_norm"] > 0
        assert torch.isfinite(torch.tensor(m["reward/mean"]))
        assert m["episode/reply_errors"] == 0
    samples = [json.loads(x) for x in (run_dir / "samples.jsonl").read_text().splitlines()]
    feedback = [s for s in samples if s["env"] == "mbpp_feedback"]
    assert feedback and all([t["role"] for t in s["turns"]][:3] == ["assistant", "user", "assistant"] for s in feedback)
    heldout = [json.loads(x) for x in (run_dir / "events.jsonl").read_text().splitlines() if '"heldout"' in x]
    assert heldout and heldout[-1]["problems"] == 6  # whole episodes of 3 problems per environment


def test_python_tool_runs_in_the_sandbox_and_its_failures_are_text():
    session = ToolSession({"python": TOOLS["python"]}, max_calls=1)

    def run(code: str) -> str:
        return session.reply(f"<tool_call>{json.dumps({'name': 'python', 'arguments': {'code': code}})}</tool_call>").text

    assert run("print(347 * 29)") == "10063\n"
    assert "ZeroDivisionError" in run("1 / 0")
    assert run("open('/etc/hostname', 'w')").count("Error") >= 1  # read-only outside its own /tmp
    start = time.perf_counter()
    spin = run("while True: pass")
    assert "[CPU time limit]" in spin or "[wall-clock timeout]" in spin
    assert time.perf_counter() - start < 30
    flood = run("print('x' * 10**6)")
    assert len(flood) < 2100 and flood.endswith("[cut at 2000 characters]")
