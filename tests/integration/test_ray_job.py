"""`launch/submit.sh` against a real local Ray head: the job must reach SUCCEEDED."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


def _ray(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "ray"), *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_submit_quickstart_job(tmp_path):
    env = {
        **os.environ,
        "RAY_AUTH_MODE": "disabled",
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "RAY_ADDRESS": "http://127.0.0.1:8299",
        "RLPOST_RUN_ROOT": str(tmp_path / "runs"),
        "RLPOST_JOB_ID": f"rlpost-test-{int(time.time())}",
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    head_env = {k: v for k, v in env.items() if k != "RAY_ADDRESS"}
    temp = f"/tmp/ray-rlpost-{os.getpid()}"
    started = _ray(
        "start", "--head", "--num-cpus", "2", "--port", "6399", "--dashboard-host", "127.0.0.1",
        "--dashboard-port", "8299", "--temp-dir", temp, "--disable-usage-stats", env=head_env,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr[-2000:]
    try:
        done = subprocess.run(
            [str(ROOT / "launch" / "submit.sh"), "configs/quickstart.yaml",
             "warmup.steps=20", "stages.0.steps=2", "rollout.prompts_per_step=4", "learner.mini_batch_size=32",
             "learner.micro_batch_size=32", "run.name=job"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        from ray.job_submission import JobStatus, JobSubmissionClient

        status = JobSubmissionClient(env["RAY_ADDRESS"]).get_job_status(env["RLPOST_JOB_ID"])
        assert status == JobStatus.SUCCEEDED, (status, done.stdout[-3000:], done.stderr[-3000:])
        metrics = tmp_path / "runs" / "job" / "metrics.jsonl"
        steps = [json.loads(line)["step"] for line in metrics.read_text().splitlines()]
        assert steps == [1, 2]
        assert (tmp_path / "runs" / "job" / "checkpoints" / "final" / "COMPLETE").exists()
    finally:
        _ray("stop", "--force", env=head_env)
