"""Opening a run directory: a fresh one (an existing directory is moved aside, never overwritten),
or, with `checkpoint.resume: auto`, the same one continued from its newest complete checkpoint with
metrics.jsonl / samples.jsonl cut back to that checkpoint's step."""

from __future__ import annotations

from pathlib import Path

from rlpost.checkpoint import TrainerState, latest_checkpoint, read_state
from rlpost.config import ExperimentConfig, dump_config
from rlpost.tracking import Tracker, prepare_run_dir, truncate_after

LOGS_BY_STEP = ("metrics.jsonl", "samples.jsonl")


def open_run(cfg: ExperimentConfig) -> tuple[Tracker, TrainerState, Path | None]:
    """The run's tracker, where it stands, and the checkpoint it resumes from (None: a fresh start)."""
    run_dir = cfg.run.path
    resume_from = latest_checkpoint(run_dir) if cfg.checkpoint.resume == "auto" else None
    moved = None
    if resume_from is None:
        moved = prepare_run_dir(run_dir)
        state = TrainerState(step=0, stage=0, stage_step=0)
    else:
        state = read_state(resume_from)
        dropped = sum(truncate_after(run_dir / name, state.step) for name in LOGS_BY_STEP)
    (run_dir / "config.yaml").write_text(dump_config(cfg))
    tracker = Tracker.from_config(run_dir, cfg)
    if moved:
        tracker.info(f"previous run directory moved to {moved}")
    if resume_from is not None:
        tracker.info(f"resuming from {resume_from} (step {state.step}; {dropped} log lines after it dropped)")
        if state.finished:
            tracker.info(f"run already finished at step {state.step}; nothing to do")
    return tracker, state, resume_from
