"""`rlpost report`: plots and summary.md of a finished run, a partial run of another algorithm, an empty one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from matplotlib.image import imread

from rlpost.checkpoint import TrainerState, checkpoint_dir, mark_complete
from rlpost.cli import main
from rlpost.plots import PANELS, plot_run
from tests.conftest import TINY_EXPERIMENT

PHASES = {
    "time/rollout_s": 1.0,
    "time/reward_s": 0.25,
    "time/train_s": 0.5,
    "time/weight_sync_s": 0.125,
    "time/overhead_s": 0.125,
}


def _write_jsonl(path: Path, rows: list[dict], tail: str = "") -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + tail)


def _config(run_dir: Path, steps: int, algorithm: str = "grpo") -> None:
    data = json.loads(json.dumps(TINY_EXPERIMENT))
    data["stages"][0]["steps"] = steps
    data["algorithm"]["name"] = algorithm
    (run_dir / "config.yaml").write_text(yaml.safe_dump(data))


def _step(step: int) -> dict:
    return {
        "step": step, "reward/mean": step / 10, "reward/std": 0.1, "reward/error_rate": 0.25 if step == 4 else 0.0,
        "kl/mean": 0.001 * step, "response_length/mean": 5.0, "response_length/max": 6.0, "time/step_s": 2.0,
        "time/weight_sync_engine_s": 0.1, "events/step_retries": 1.0 if step == 4 else 0.0,
        "events/reward_worker_restarts": 0.0, "stage": "add", **PHASES,
    }  # fmt: skip


def _png_ok(path: Path) -> None:
    image = imread(path)
    assert image.shape[0] > 100 and image.shape[1] > 100


def test_report_of_a_finished_run(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    _config(run, steps=10)
    _write_jsonl(run / "metrics.jsonl", [_step(s) for s in range(1, 11)])
    _write_jsonl(
        run / "events.jsonl", [{"step": 4, "event": "restart", "time": 1.0, "actor": "rollout engine 0", "error": "a|b"}]
    )
    final = checkpoint_dir(run, None)
    final.mkdir(parents=True)
    mark_complete(final, TrainerState(step=10, stage=1, stage_step=0, finished=True))

    assert main(["report", str(run)]) == 0
    out = capsys.readouterr().out
    assert f"report: {run / 'report' / 'summary.md'}" in out
    pngs = sorted(p.name for p in (run / "report").glob("*.png"))
    assert pngs == sorted(f"{name}.png" for name in PANELS if name not in ("sft_loss", "episodes"))  # RL, single-turn
    for name in pngs:
        _png_ok(run / "report" / name)
        assert f"plot: {run / 'report' / name}" in out
    summary = (run / "report" / "summary.md").read_text()
    assert "- `algorithm.name`: grpo" in summary and "- `rollout.n`: 4" in summary
    assert "- stage `add`: 10 steps on arithmetic" in summary
    assert "- steps logged: 10, last step 10 of 10 planned\n" in summary
    assert "first 1 step(s) 0.1000, last 1 step(s) 1.0000 (change +0.9000)" in summary
    assert "- reward/error_rate: mean 0.0250" in summary
    assert "- wall time of the steps: 20.0 s (2.00 s per step)" in summary
    assert "| rollout | 10.0 | 50.0% |" in summary and "| train | 5.0 | 25.0% |" in summary
    assert "weight_sync_engine" not in summary  # a part of weight_sync, not a phase of its own
    assert "- events/step_retries: 1 in all" in summary and "1 × restart" in summary
    assert "| 4 | restart | actor=rollout engine 0; error=a/b |" in summary
    assert f"- final checkpoint: `{final}`" in summary
    assert "![reward](reward.png)" in summary


def test_report_of_a_partial_run_of_another_algorithm(tmp_path):
    """PPO-like keys (critic, no KL), a line cut by a crash, "nan" values, one step checkpoint: no crash."""
    run = tmp_path / "partial"
    run.mkdir()
    _config(run, steps=20, algorithm="remax")
    rows = [
        {"step": s, "reward/mean": 0.5, "reward/greedy_mean": 0.4, "critic/value_loss": 1.0, "time/step_s": 1.0,
         "time/rollout_s": 0.5, "time/baseline_rollout_s": 0.25, "time/values_s": "nan"}
        for s in (1, 2, 3)
    ]  # fmt: skip
    _write_jsonl(run / "metrics.jsonl", rows, tail='{"step": 4, "rew')
    step_ckpt = checkpoint_dir(run, 2)
    step_ckpt.mkdir(parents=True)
    mark_complete(step_ckpt, TrainerState(step=2, stage=0, stage_step=2))

    assert main(["report", str(run)]) == 0
    pngs = sorted(p.stem for p in (run / "report").glob("*.png"))
    assert pngs == ["phase_times", "reward"]
    summary = (run / "report" / "summary.md").read_text()
    assert "- steps logged: 3, last step 3 of 20 planned (partial run)" in summary
    assert "- `algorithm.name`: remax" in summary
    assert "| baseline_rollout | 0.8 | 25.0% |" in summary
    assert f"no final checkpoint; newest complete one: `{step_ckpt}`" in summary
    assert "kl/mean" not in summary and "## Events" not in summary


def test_report_of_a_run_with_nothing_logged(tmp_path):
    assert main(["report", str(tmp_path)]) == 0
    assert not list((tmp_path / "report").glob("*.png"))
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "No steps logged" in summary and "- no complete checkpoint" in summary


def test_report_of_a_missing_directory_exits_2(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "not found" in capsys.readouterr().err


@pytest.mark.parametrize("keys", [{"reward/mean": 0.5}, {"time/step_s": 1.0, "time/train_s": 1.0}, {"stage": "x"}])
def test_plot_run_draws_whatever_a_run_logged(tmp_path, keys):
    _write_jsonl(tmp_path / "metrics.jsonl", [{"step": s, **keys} for s in (1, 2)])
    out = plot_run(tmp_path)
    assert out == tmp_path / "plots" / "training.png"
    _png_ok(out)
    assert plot_run(tmp_path / "empty") is None
