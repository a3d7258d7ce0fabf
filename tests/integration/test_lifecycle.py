"""Run lifecycle on the real stack: SIGKILL and resume; in one run, a killed or hung rollout engine and a killed
reward worker recovered, then a dead learner that stops the run cleanly."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ray
import yaml

from rlpost.checkpoint import COMPLETE_MARKER, latest_checkpoint, read_state
from rlpost.config import build_config
from rlpost.trainer import Trainer, TrainingFailed
from tests.conftest import ROOT, TINY_EXPERIMENT

pytestmark = pytest.mark.slow


def experiment(run_dir: Path, steps: int, save_every: int) -> dict:
    data = copy.deepcopy(TINY_EXPERIMENT)
    data["run"]["dir"] = str(run_dir)
    data["stages"][0]["steps"] = steps
    data["checkpoint"] = {"save_every": save_every, "keep_last": 2}
    data["logging"]["console"] = True
    return data


def steps_logged(run_dir: Path) -> list[int]:
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["step"] for line in path.read_text().splitlines() if line.strip()]


def train(config: Path, *extra: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rlpost.cli", "train", str(config), *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, start_new_session=True,
    )  # fmt: skip


def kill_after(config: Path, run_dir: Path, steps: int, log: Path) -> None:
    """`rlpost train config` in a subprocess, SIGKILLed (with the Ray processes it started) once `steps`
    steps are logged."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rlpost.cli", "train", str(config)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 600
        while len(steps_logged(run_dir)) < steps:
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the first run made no progress"
            time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_sigkill_then_resume_continues_where_it_stopped(tmp_path, capsys):
    run_dir = tmp_path / "run"
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump(experiment(run_dir, steps=6, save_every=2)))
    kill_after(config, run_dir, 3, tmp_path / "first.log")  # step 2's checkpoint is written before step 3 starts
    killed_at = steps_logged(run_dir)
    assert killed_at[:3] == [1, 2, 3] and len(killed_at) < 6
    checkpoint = latest_checkpoint(run_dir)
    assert checkpoint is not None and checkpoint.name.startswith("step_")
    saved = read_state(checkpoint).step
    assert saved in (2, 4) and saved <= len(killed_at)

    resumed = train(config, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming from {checkpoint}" in resumed.stdout and f"(step {saved};" in resumed.stdout
    # every step exactly once, in order; the steps after the checkpoint were redone
    assert steps_logged(run_dir) == [1, 2, 3, 4, 5, 6]
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert all(m["time/step_s"] > 0 for m in lines)
    # the resumed learner's weights (loaded from the checkpoint) reach the vLLM engine: its logprobs are the learner's
    assert all(m["rollout/logprob_abs_diff"] < 1e-4 for m in lines)
    final = run_dir / "checkpoints" / "final"
    assert (final / COMPLETE_MARKER).exists() and read_state(final).step == 6

    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(final) is not None

    from rlpost.cli import main

    # the CLI on a finished run returns before starting anything, so it runs in this process
    assert main(["train", str(config), "--resume"]) == 0
    assert "run already finished at step 6; nothing to do" in capsys.readouterr().out
    assert steps_logged(run_dir) == [1, 2, 3, 4, 5, 6]


class FaultyTrainer(Trainer):
    """Runs `faults[step]` (a function of the trainer) just before that step."""

    def __init__(self, cfg, faults):
        super().__init__(cfg)
        self.faults = dict(faults)

    def setup(self):
        resumed = super().setup()
        generate = self.runner.generate_with_retries

        def generate_with_fault(sampler, algo, step):
            fault = self.faults.pop(step, None)
            if fault:
                fault(self)
            return generate(sampler, algo, step)

        self.runner.generate_with_retries = generate_with_fault
        return resumed


def kill(actor) -> None:
    ray.kill(actor, no_restart=True)


def hang(actor, seconds: float):
    """Keep `actor` busy: its next calls wait behind this one."""
    actor.__ray_call__.remote(lambda self: time.sleep(seconds))


def test_killed_and_hung_actors_are_recovered_and_a_dead_learner_stops_the_run_with_the_last_checkpoint_intact(tmp_path):
    """One run: a killed engine and a killed reward worker (step 2) and a hung engine (step 3) are recovered and the
    run goes on, checkpointing every step; the policy learner killed before step 5 stops it cleanly."""
    data = experiment(tmp_path / "run", steps=6, save_every=1)
    data["rollout"]["timeout_s"] = 30
    faults = {
        2: lambda t: (kill(t.cluster.engines.actors[0]), kill(t.cluster.rewards.workers[0])),
        3: lambda t: hang(t.cluster.engines.actors[0], 600),
        5: lambda t: kill(t.cluster.learners.policy[0]),
    }
    with pytest.raises(TrainingFailed) as info:
        FaultyTrainer(build_config(data), faults).run()
    run_dir = tmp_path / "run"
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2, 3, 4]
    by_step = {m["step"]: m for m in metrics}
    assert by_step[1]["events/step_retries"] == 0 and by_step[4]["events/step_retries"] == 0
    assert by_step[2]["events/step_retries"] == 1 and by_step[3]["events/step_retries"] == 1
    assert by_step[2]["events/reward_worker_restarts"] >= 1
    assert all(m["reward/error_rate"] == 0 for m in metrics)  # the killed worker's samples were rescored
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    restarts = [e for e in events if e["event"] == "restart"]
    assert [(e["step"], e["actor"]) for e in restarts] == [(2, "rollout engine 0"), (3, "rollout engine 0")]
    assert "GetTimeoutError" in restarts[1]["error"]

    message = str(info.value)
    assert "run stopped at step 5" in message and "policy learner 0 failed" in message
    assert "step_000004" in message
    last = latest_checkpoint(run_dir)
    assert last.name == "step_000004" and read_state(last).step == 4
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(last) is not None
    assert events[-1]["event"] == "stopped" and events[-1]["actor"] == "policy learner 0"
    assert not (run_dir / "checkpoints" / "final").exists()
