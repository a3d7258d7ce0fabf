"""Metric sinks through the Tracker: the files TensorBoard, W&B (offline) and MLflow (local store) leave behind,
read back with each tool's own reader. No network: W&B runs offline, MLflow writes a file store."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from rlpost.config import ConfigError, build_config
from rlpost.tracking import SINKS, Tracker, mlflow_key
from tests.conftest import TINY_EXPERIMENT

STEPS = {1: 0.25, 2: 0.5, 3: 0.75}
PLUGIN_KEY = "reward//opt/plugins/my_reward.py:score"  # what a reward loaded by file path is logged as


def _log_three_steps(tracker: Tracker) -> None:
    for step, reward in STEPS.items():
        tracker.log(step, {"reward/mean": reward, "time/step_s": 1.5, PLUGIN_KEY: reward / 2, "stage": "main"}, total=3)
    tracker.close()


def _metrics_jsonl(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_tensorboard_sink_scalars_read_back_with_event_accumulator(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _log_three_steps(Tracker(tmp_path, console=False, tensorboard=True))
    acc = EventAccumulator(str(tmp_path / "tensorboard"))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert "reward/mean" in tags and "time/step_s" in tags and "stage" not in tags
    assert [(e.step, e.value) for e in acc.Scalars("reward/mean")] == list(STEPS.items())
    assert [m["step"] for m in _metrics_jsonl(tmp_path)] == [1, 2, 3]  # jsonl is always written


def _wandb_records(path: Path):
    """Records of a `.wandb` file (W&B's LevelDB-style log: 7-byte file header, 32 KiB blocks, chunks of
    crc32 / length / type headers where type 1 is a whole record and 2-4 are its first / middle / last parts)."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, parts = 7, b""
    while pos + 7 <= len(data):
        left = 32768 - pos % 32768
        if left < 7:
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if length == kind == 0:
            pos += left
            continue
        parts += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(parts)
            parts = b""
            yield record


def test_wandb_sink_writes_an_offline_run_with_the_history(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    params = {"algorithm": {"name": "grpo", "kl_coef": 0.01}}
    _log_three_steps(Tracker(tmp_path, console=False, sinks=["wandb"], name="sinks-test", params=params))

    [run_dir] = (tmp_path / "wandb").glob("offline-run-*")
    [log] = run_dir.glob("run-*.wandb")
    records = list(_wandb_records(log))
    history = [
        {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in r.history.item}
        for r in records
        if r.WhichOneof("record_type") == "history"
    ]
    assert [(h["_step"], h["reward/mean"]) for h in history] == list(STEPS.items())
    assert all(h["time/step_s"] == 1.5 and "stage" not in h for h in history)
    [run] = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert run.display_name == "sinks-test" and run.project == "rlpost"
    config = {item.key: json.loads(item.value_json) for item in run.config.update}
    assert config["algorithm"] == params["algorithm"]
    assert any(r.WhichOneof("record_type") == "exit" for r in records)  # finished cleanly


def test_mlflow_sink_metrics_read_back_with_mlflow_client(tmp_path):
    from mlflow.tracking import MlflowClient

    params = {"algorithm": {"name": "grpo", "kl_coef": 0.01}, "stages": [{"name": "add"}]}
    _log_three_steps(Tracker(tmp_path, console=False, sinks=["mlflow"], name="sinks-test", project="proj", params=params))

    client = MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
    experiment = client.get_experiment_by_name("proj")
    [run] = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == "sinks-test" and run.info.status == "FINISHED"
    history = client.get_metric_history(run.info.run_id, "reward/mean")
    assert sorted((m.step, m.value) for m in history) == list(STEPS.items())
    plugin = client.get_metric_history(run.info.run_id, "reward/opt/plugins/my_reward.py_score")
    assert sorted((m.step, m.value) for m in plugin) == [(s, r / 2) for s, r in STEPS.items()]
    assert "stage" not in run.data.metrics
    assert run.data.params["algorithm.name"] == "grpo" and run.data.params["algorithm.kl_coef"] == "0.01"
    assert json.loads(run.data.params["stages"].replace("'", '"')) == [{"name": "add"}]


@pytest.mark.parametrize(
    ("key", "expected"),
    [("reward/mean", "reward/mean"), (PLUGIN_KEY, "reward/opt/plugins/my_reward.py_score"), ("../a/./b", "a/b"), (":", "_")],
)
def test_mlflow_key_is_a_valid_relative_name(key, expected):
    assert mlflow_key(key) == expected


def test_unknown_sink_is_an_error_naming_the_known_ones(tmp_path):
    with pytest.raises(ValueError, match=r"unknown tracking sink\(s\) \['nope'\].*tensorboard"):
        Tracker(tmp_path, sinks=["nope"])


class _BrokenSink:
    def __init__(self, ctx):
        pass

    def log(self, step, metrics):
        raise OSError("disk full")

    def close(self):
        pass


def test_a_failing_sink_is_dropped_with_an_event_and_jsonl_goes_on(tmp_path, monkeypatch):
    monkeypatch.setitem(SINKS, "test_broken", _BrokenSink)
    tracker = Tracker(tmp_path, console=False, sinks=["test_broken"])
    tracker.log(1, {"reward/mean": 0.1})
    tracker.log(2, {"reward/mean": 0.2})
    tracker.close()
    assert [m["step"] for m in _metrics_jsonl(tmp_path)] == [1, 2]
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [(e["step"], e["event"], e["sink"]) for e in events] == [(1, "sink_failed", "test_broken")]
    assert "disk full" in events[0]["error"]


def test_from_config_opens_the_sinks_the_logging_section_names(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    data = {**TINY_EXPERIMENT, "run": {"name": "cfg-run"}}
    data["logging"] = {"console": False, "tensorboard": True, "mlflow": True, "project": "p1"}
    cfg = build_config(data)
    assert cfg.logging.sinks == ["tensorboard", "mlflow"]
    tracker = Tracker.from_config(tmp_path, cfg)
    assert list(tracker.sinks) == ["jsonl", "tensorboard", "mlflow"] and tracker.console is None
    tracker.close()
    assert (tmp_path / "mlruns").is_dir() and any((tmp_path / "tensorboard").iterdir())


def test_logging_project_must_be_a_plain_name():
    with pytest.raises(ConfigError, match=r"logging\.project"):
        build_config({**TINY_EXPERIMENT, "logging": {"project": "a/b"}})
