"""Run directories, the jsonl sinks, the console step line and checkpoint pruning."""

from __future__ import annotations

import json
import math
from pathlib import Path

from rlpost.checkpoint import COMPLETE_MARKER, TrainerState, checkpoint_dir, latest_checkpoint, mark_complete, prune, read_state
from rlpost.tracking import JsonlWriter, Tracker, format_step_line, prepare_run_dir, truncate_after

# --------------------------------------------------------------------------------------
# prepare_run_dir
# --------------------------------------------------------------------------------------


def test_prepare_run_dir_creates_a_missing_dir(tmp_path):
    path = tmp_path / "runs" / "new"
    assert prepare_run_dir(path) is None
    assert path.is_dir() and not any(path.iterdir())


def test_prepare_run_dir_leaves_an_empty_dir_alone(tmp_path):
    path = tmp_path / "empty"
    path.mkdir()
    assert prepare_run_dir(path) is None
    assert path.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_prepare_run_dir_moves_a_non_empty_dir_aside(tmp_path):
    path = tmp_path / "run"
    (path / "sub").mkdir(parents=True)
    (path / "metrics.jsonl").write_text("old\n")
    (path / "sub" / "x.txt").write_text("keep me")

    moved = prepare_run_dir(path)

    assert moved is not None and moved != path
    assert moved.parent == tmp_path and moved.name.startswith("run.")
    assert (moved / "metrics.jsonl").read_text() == "old\n"
    assert (moved / "sub" / "x.txt").read_text() == "keep me"
    assert path.is_dir() and not any(path.iterdir())


def test_prepare_run_dir_never_overwrites_an_earlier_move(tmp_path):
    path = tmp_path / "run"
    moved = []
    for i in range(3):
        path.mkdir(exist_ok=True)
        (path / "f.txt").write_text(str(i))
        moved.append(prepare_run_dir(path))
    assert len(set(moved)) == 3
    assert sorted((m / "f.txt").read_text() for m in moved) == ["0", "1", "2"]
    assert path.is_dir() and not any(path.iterdir())


# --------------------------------------------------------------------------------------
# JsonlWriter and Tracker
# --------------------------------------------------------------------------------------


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_jsonl_writer_one_object_per_line_flushed_immediately(tmp_path):
    path = tmp_path / "m.jsonl"
    writer = JsonlWriter(path)
    try:
        writer.write({"step": 1, "reward/mean": 0.5, "text": "line\nbreak"})
        # readable before close: the writer flushes every record
        assert _read_jsonl(path) == [{"step": 1, "reward/mean": 0.5, "text": "line\nbreak"}]
        writer.write({"step": 2, "reward/mean": 0.75})
        assert path.read_text().count("\n") == 2
        assert _read_jsonl(path)[1] == {"step": 2, "reward/mean": 0.75}
    finally:
        writer.close()


def _reject_constant(name: str):
    raise ValueError(f"non-standard JSON constant {name}")


def test_jsonl_writer_turns_non_finite_floats_into_strings(tmp_path):
    path = tmp_path / "m.jsonl"
    writer = JsonlWriter(path)
    writer.write({"a": math.nan, "b": math.inf, "c": -math.inf, "d": 1.5, "e": None})
    writer.close()
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text  # strict JSON
    [record] = [json.loads(line, parse_constant=_reject_constant) for line in text.splitlines()]
    assert record == {"a": "nan", "b": "inf", "c": "-inf", "d": 1.5, "e": None}


def test_jsonl_writer_appends(tmp_path):
    path = tmp_path / "m.jsonl"
    for step in range(2):
        writer = JsonlWriter(path)
        writer.write({"step": step})
        writer.close()
    assert _read_jsonl(path) == [{"step": 0}, {"step": 1}]


def test_tracker_writes_metrics_and_samples(tmp_path, capsys):
    tracker = Tracker(tmp_path, console=True)
    tracker.log(3, {"reward/mean": 0.5, "reward/std": 0.1, "time/step_s": 1.0}, total=10)
    tracker.log_samples(3, [{"prompt": "1+1=", "response": "2"}, {"prompt": "2+2=", "response": "5"}])
    tracker.close()
    assert _read_jsonl(tmp_path / "metrics.jsonl") == [{"step": 3, "reward/mean": 0.5, "reward/std": 0.1, "time/step_s": 1.0}]
    samples = _read_jsonl(tmp_path / "samples.jsonl")
    assert [s["step"] for s in samples] == [3, 3] and samples[1]["response"] == "5"
    assert "step 3/10" in capsys.readouterr().out


# --------------------------------------------------------------------------------------
# format_step_line
# --------------------------------------------------------------------------------------


def test_format_step_line_has_reward_kl_length_and_times():
    metrics = {
        "reward/mean": 0.4567,
        "reward/std": 0.1234,
        "kl/mean": 0.00123,
        "response_length/mean": 7.31,
        "time/step_s": 3.5,
        "time/rollout_s": 1.25,
        "time/reward_s": 0.5,
        "time/train_s": 1.5,
        "time/weight_sync_s": 0.25,
    }
    line = format_step_line(4, metrics, total=30)
    assert "\n" not in line
    assert "step 4/30" in line
    assert "reward 0.457±0.123" in line
    assert "kl 0.0012" in line
    assert "len 7.3" in line
    assert "3.50s" in line
    for part in ("rollout 1.25", "reward 0.50", "train 1.50", "weight_sync 0.25"):
        assert part in line
    assert "reward errors" not in line


def test_format_step_line_without_total_and_with_reward_errors():
    line = format_step_line(2, {"reward/mean": 1.0, "reward/error_rate": 0.25}, total=None)
    assert "step 2" in line and "step 2/" not in line
    assert "reward 1.000±0.000" in line
    assert "reward errors 25.0%" in line
    assert "kl" not in line and "len" not in line


# --------------------------------------------------------------------------------------
# checkpoints
# --------------------------------------------------------------------------------------


def _make_checkpoint(run_dir: Path, step: int | None, complete: bool = True) -> Path:
    path = checkpoint_dir(run_dir, step)
    path.mkdir(parents=True)
    (path / "model.safetensors").write_text("weights")
    if complete:
        mark_complete(path, TrainerState(step=step or 0, stage=0, stage_step=step or 0, finished=step is None))
    return path


def test_checkpoint_dir_names(tmp_path):
    assert checkpoint_dir(tmp_path, 12) == tmp_path / "checkpoints" / "step_000012"
    assert checkpoint_dir(tmp_path, None) == tmp_path / "checkpoints" / "final"


def test_mark_complete_writes_the_marker_and_the_state(tmp_path):
    state = TrainerState(step=7, stage=1, stage_step=3, sampler={"rng": [3, [1, 2], None], "orders": [[4, 5]]}, kl_coef=0.02)
    mark_complete(tmp_path, state)
    assert (tmp_path / COMPLETE_MARKER).is_file()
    assert read_state(tmp_path) == state


def test_latest_checkpoint_skips_incomplete_and_prefers_final(tmp_path):
    assert latest_checkpoint(tmp_path) is None
    _make_checkpoint(tmp_path, 2)
    newest = _make_checkpoint(tmp_path, 4)
    _make_checkpoint(tmp_path, 6, complete=False)  # a crash during save
    assert latest_checkpoint(tmp_path) == newest
    final = _make_checkpoint(tmp_path, None)
    assert latest_checkpoint(tmp_path) == final and read_state(final).finished


def test_truncate_after_keeps_each_step_once(tmp_path):
    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps({"step": s, "v": s}) for s in (1, 2, 3, 4)]
    path.write_text("\n".join(lines) + "\n" + '{"step": 5, "v"')  # the last line cut by a crash
    assert truncate_after(path, 2) == 3
    assert [json.loads(x)["step"] for x in path.read_text().splitlines()] == [1, 2]
    assert truncate_after(tmp_path / "missing.jsonl", 2) == 0


def test_prune_keeps_the_newest_complete_and_all_incomplete(tmp_path):
    complete = {step: _make_checkpoint(tmp_path, step) for step in (5, 10, 100, 20)}
    incomplete = _make_checkpoint(tmp_path, 1, complete=False)
    incomplete_new = _make_checkpoint(tmp_path, 200, complete=False)
    final = _make_checkpoint(tmp_path, None)

    removed = prune(tmp_path, keep_last=2)

    assert sorted(removed) == [complete[5], complete[10]]
    assert not complete[5].exists() and not complete[10].exists()
    assert complete[20].exists() and complete[100].exists()  # step 100 is newer than step 20
    assert incomplete.exists() and incomplete_new.exists()
    assert final.exists()


def test_prune_with_few_checkpoints_removes_nothing(tmp_path):
    paths = [_make_checkpoint(tmp_path, step) for step in (1, 2)]
    assert prune(tmp_path, keep_last=2) == []
    assert all(p.exists() for p in paths)
    assert prune(tmp_path / "no_such_run", keep_last=1) == []


def test_events_and_info_with_brackets_print_as_text(tmp_path, capsys):
    """Error texts (gloo's `[.../pair.cc:553]`, a tool's `[/tag]`) are printed, not read as console markup."""
    tracker = Tracker(tmp_path, console=True)
    tracker.event(2, "stopped", error="Connection closed [/__w/gloo/transport/tcp/pair.cc:553] by peer")
    tracker.info("run stopped: [/x] and [bold]")
    tracker.close()
    out = capsys.readouterr().out
    assert "[/__w/gloo/transport/tcp/pair.cc:553]" in out and "run stopped: [/x] and [bold]" in out
    assert _read_jsonl(tmp_path / "events.jsonl")[0]["error"].endswith("by peer")
