"""Saving policies in Hugging Face format under `<run>/checkpoints/`."""

from __future__ import annotations

import shutil
from pathlib import Path

COMPLETE_MARKER = "COMPLETE"


def checkpoint_dir(run_dir: Path, step: int | None) -> Path:
    return run_dir / "checkpoints" / ("final" if step is None else f"step_{step:06d}")


def mark_complete(path: Path) -> None:
    """Written last, so a checkpoint without it (crash during save) is never used."""
    (path / COMPLETE_MARKER).write_text("ok\n")


def prune(run_dir: Path, keep_last: int) -> list[Path]:
    """Delete all but the newest `keep_last` complete step checkpoints; returns what was removed."""
    steps = sorted(p for p in (run_dir / "checkpoints").glob("step_*") if (p / COMPLETE_MARKER).exists())
    removed = steps[:-keep_last] if len(steps) > keep_last else []
    for p in removed:
        shutil.rmtree(p)
    return removed
