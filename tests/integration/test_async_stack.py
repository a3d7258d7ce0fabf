"""rollout.mode one_step / async on the real stack (Ray, vLLM, DeepSpeed): the staleness bound and the
importance-weight metrics, SIGKILL and resume with every step once, and a rollout engine killed while the
producer generates."""

from __future__ import annotations

import json

import pytest
import yaml

from rlpost.checkpoint import COMPLETE_MARKER, latest_checkpoint, read_state
from rlpost.config import build_config
from tests.integration.test_lifecycle import FaultyTrainer, experiment, kill, kill_after, steps_logged, train

pytestmark = pytest.mark.slow


def metrics_of(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_async_run_holds_the_bound_and_resumes_after_sigkill_with_every_step_once(tmp_path):
    run_dir = tmp_path / "run"
    data = experiment(run_dir, steps=6, save_every=2)
    data["rollout"].update(mode="async", max_staleness=2)
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump(data))
    kill_after(config, run_dir, 3, tmp_path / "first.log")
    saved = read_state(latest_checkpoint(run_dir)).step
    assert saved in (2, 4)

    resumed = train(config, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert steps_logged(run_dir) == [1, 2, 3, 4, 5, 6]
    metrics = metrics_of(run_dir)
    assert all(m["staleness/max"] <= 2 for m in metrics) and max(m["staleness/max"] for m in metrics) >= 1
    # two optimizer steps per batch: the learner's proximal logprobs differ from the engine's behaviour ones
    assert all(0.5 < m["is/ratio_mean"] < 2.0 and 0 <= m["is/truncated_frac"] <= 1 for m in metrics)
    assert all(m["time/learner_idle_s"] >= 0 for m in metrics)
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert any(e["event"] == "checkpoint" and e["in_flight"] >= 1 for e in events)
    assert (run_dir / "checkpoints" / "final" / COMPLETE_MARKER).exists()


def test_one_step_run_survives_an_engine_killed_while_the_producer_generates(tmp_path):
    data = experiment(tmp_path / "run", steps=4, save_every=0)
    data["rollout"].update(mode="one_step", timeout_s=60)
    run_dir = FaultyTrainer(build_config(data), {3: lambda t: kill(t.cluster.engines.actors[0])}).run()
    metrics = metrics_of(run_dir)
    assert [m["step"] for m in metrics] == [1, 2, 3, 4]
    # step 2's batch is generated while step 1 trains. The producer runs ahead, so the dead engine is met by
    # whichever call reaches it first: a weight push (restarted, the push repeated) or a generate (restarted,
    # that batch redone on the same rows); either way the step it belongs to counts the retry
    assert metrics[1]["staleness/max"] == 1 and all(m["staleness/max"] <= 1 for m in metrics)
    assert sum(m["events/step_retries"] for m in metrics[1:]) >= 1
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    restarts = [(e["step"], e["actor"]) for e in events if e["event"] == "restart"]
    assert restarts and {actor for _, actor in restarts} == {"rollout engine 0"} and min(s for s, _ in restarts) >= 2
    assert (run_dir / "checkpoints" / "final" / COMPLETE_MARKER).exists()
