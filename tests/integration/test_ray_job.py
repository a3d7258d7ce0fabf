"""`launch/submit.sh` against a real local Ray head: the job must reach SUCCEEDED."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ray

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


def _wait_for_dashboard(address: str, head: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if head.poll() is not None:
            raise AssertionError(f"ray start exited with {head.returncode}: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(f"{address}/api/version", timeout=2)
            return
        except OSError:
            time.sleep(1)
    raise AssertionError("the Ray dashboard did not come up")


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
    # Job submission goes through the head's dashboard agent: a Ray started earlier in this
    # process holds the default ports, so stop it and give this head ports and a temp dir of its own.
    ray.shutdown()
    temp_dir = f"/tmp/rlpost-ray-{os.getpid()}"
    head_log = (tmp_path / "head.log").open("w")
    # A head of our own, in its own session, so that stopping it leaves any other Ray alone.
    head = subprocess.Popen(
        [str(BIN / "ray"), "start", "--head", "--block", "--num-cpus", "2", "--port", "6399",
         "--dashboard-host", "127.0.0.1", "--dashboard-port", "8299", "--dashboard-agent-listen-port", "52399",
         "--metrics-export-port", "8399", "--temp-dir", temp_dir,
         "--disable-usage-stats"],
        env=head_env, start_new_session=True, stdout=head_log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    _wait_for_dashboard(env["RAY_ADDRESS"], head, tmp_path / "head.log")
    try:
        done = subprocess.run(
            [str(ROOT / "launch" / "submit.sh"), "configs/quickstart.yaml",
             "warmup.steps=2", "warmup.batch_size=8", "warmup.examples=16", "heldout.limit=8", "heldout.samples=2",
             "stages.0.steps=2", "rollout.prompts_per_step=4", "learner.mini_batch_size=32",
             "learner.micro_batch_size=32", "run.name=job"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
        from ray.job_submission import JobStatus, JobSubmissionClient

        status = JobSubmissionClient(env["RAY_ADDRESS"]).get_job_status(env["RLPOST_JOB_ID"])
        assert status == JobStatus.SUCCEEDED, (status, done.stdout[-3000:], done.stderr[-3000:])
        job = tmp_path / "runs" / "job"
        steps = [json.loads(line)["step"] for line in (job / "metrics.jsonl").read_text().splitlines()]
        assert steps == [1, 2]
        assert (job / "checkpoints" / "final" / "COMPLETE").exists()
        # the quickstart's supervised warm-up and its held-out evaluations (before the first step, after the last) ran
        assert (job / "warmup_model" / "COMPLETE").exists()
        events = [json.loads(line) for line in (job / "events.jsonl").read_text().splitlines()]
        assert [e["problems"] for e in events if e["event"] == "heldout"] == [8, 8]
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
        shutil.rmtree(temp_dir, ignore_errors=True)
