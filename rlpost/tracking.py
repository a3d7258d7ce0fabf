"""Run directory, metrics sinks (console, jsonl, TensorBoard) and the samples log."""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

from rich.console import Console


def prepare_run_dir(path: Path) -> Path | None:
    """Create `path`; an existing non-empty one is moved aside (never overwritten). Returns where it went."""
    moved = None
    if path.exists() and any(path.iterdir()):
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(path.stat().st_mtime))
        moved = path.with_name(f"{path.name}.{stamp}")
        n = 1
        while moved.exists():
            moved = path.with_name(f"{path.name}.{stamp}-{n}")
            n += 1
        shutil.move(str(path), str(moved))
    path.mkdir(parents=True, exist_ok=True)
    return moved


def truncate_after(path: Path, step: int) -> int:
    """Keep only the JSONL lines of `path` with "step" <= `step` (a resumed run redoes later
    steps, so each step stays in the log exactly once); returns how many lines were dropped."""
    if not path.exists():
        return 0
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    keep = []
    for line in lines:
        try:
            if json.loads(line).get("step", 0) <= step:
                keep.append(line)
        except json.JSONDecodeError:
            continue  # a line the crash cut in half
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("".join(keep), encoding="utf-8")
    tmp.replace(path)
    return len(lines) - len(keep)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


class JsonlWriter:
    """Append one JSON object per line, flushed at once so a crash loses nothing written."""

    def __init__(self, path: Path):
        self.file = path.open("a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        self.file.write(json.dumps({k: _clean(v) for k, v in record.items()}) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


class Tracker:
    def __init__(self, run_dir: Path, console: bool = True, tensorboard: bool = False):
        self.metrics = JsonlWriter(run_dir / "metrics.jsonl")
        self.samples = JsonlWriter(run_dir / "samples.jsonl")
        self.events = JsonlWriter(run_dir / "events.jsonl")
        self.console = Console(highlight=False, soft_wrap=True) if console else None
        self.tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(run_dir / "tensorboard"))

    def log(self, step: int, metrics: dict[str, float], total: int | None = None) -> None:
        self.metrics.write({"step": step, **metrics})
        if self.tb:
            for k, v in metrics.items():
                if isinstance(v, int | float):
                    self.tb.add_scalar(k, v, step)
        if self.console:
            self.console.print(format_step_line(step, metrics, total))

    def log_samples(self, step: int, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.samples.write({"step": step, **row})

    def event(self, step: int, kind: str, **fields: Any) -> None:
        """Something that happened to the run (an actor restarted, the run stopped): events.jsonl and console."""
        self.events.write({"step": step, "event": kind, "time": time.time(), **fields})
        if self.console:
            self.console.print(f"[bold yellow]{kind}[/] at step {step}: " + ", ".join(f"{k}={v}" for k, v in fields.items()))

    def info(self, text: str) -> None:
        if self.console:
            self.console.print(text)

    def close(self) -> None:
        self.metrics.close()
        self.samples.close()
        self.events.close()
        if self.tb:
            self.tb.close()


def format_step_line(step: int, m: dict[str, float], total: int | None) -> str:
    """One progress line per step: reward, KL, length and phase times."""
    parts = [f"[bold]step {step}{'/' + str(total) if total else ''}[/]"]
    if "reward/mean" in m:
        parts.append(f"reward {m['reward/mean']:.3f}±{m.get('reward/std', 0):.3f}")
    if "kl/mean" in m:
        parts.append(f"kl {m['kl/mean']:.4f}")
    if "response_length/mean" in m:
        parts.append(f"len {m['response_length/mean']:.1f}")
    if "reward/error_rate" in m and m["reward/error_rate"] > 0:
        parts.append(f"[red]reward errors {m['reward/error_rate']:.1%}[/]")
    times = " ".join(
        f"{k.split('/')[1][:-2]} {m[k]:.2f}"
        for k in ("time/rollout_s", "time/reward_s", "time/ref_s", "time/train_s", "time/weight_sync_s")
        if k in m
    )
    parts.append(f"{m.get('time/step_s', 0):.2f}s ({times})")
    return " | ".join(parts)
