"""Run directory, the samples / events logs, and metric sinks (jsonl, console, TensorBoard, W&B offline, MLflow).

A sink is a class with `log(step, metrics)` and `close()`, registered by name in `SINKS`; `Tracker` composes the
ones a run switches on. Every sink writes inside the run directory; none uses the network.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.markup import escape


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


class MetricSink(Protocol):
    def log(self, step: int, metrics: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SinkContext:
    """What a sink is opened with: where the run lives, its name, the project, its hyper-parameters."""

    run_dir: Path
    name: str
    project: str = "rlpost"
    params: dict[str, Any] = field(default_factory=dict)
    console: Console | None = None


SINKS: dict[str, Callable[[SinkContext], MetricSink]] = {}


def register_sink(name: str):
    """Class decorator: make a sink selectable by `name`."""

    def wrap(factory: Callable[[SinkContext], MetricSink]):
        SINKS[name] = factory
        return factory

    return wrap


def scalars(metrics: dict[str, Any]) -> dict[str, float]:
    """The numeric entries of `metrics` as floats (strings such as a stage name are left out)."""
    return {k: float(v) for k, v in metrics.items() if isinstance(v, int | float)}


def flatten(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one level with dotted keys (lists kept as values)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


@register_sink("jsonl")
class JsonlSink:
    """`<run>/metrics.jsonl`: one object per step, the step first."""

    def __init__(self, ctx: SinkContext):
        self.writer = JsonlWriter(ctx.run_dir / "metrics.jsonl")

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        self.writer.write({"step": step, **metrics})

    def close(self) -> None:
        self.writer.close()


@register_sink("console")
class ConsoleSink:
    """One progress line per step; `total` (steps planned) is set by the tracker."""

    def __init__(self, ctx: SinkContext):
        self.console = ctx.console or Console(highlight=False, soft_wrap=True)
        self.total: int | None = None

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        self.console.print(format_step_line(step, metrics, self.total))

    def close(self) -> None:
        pass


@register_sink("tensorboard")
class TensorBoardSink:
    """Scalars in `<run>/tensorboard/events.out.tfevents.*`."""

    def __init__(self, ctx: SinkContext):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(ctx.run_dir / "tensorboard"))

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        for key, value in scalars(metrics).items():
            self.writer.add_scalar(key, value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


@register_sink("wandb")
class WandbSink:
    """A Weights & Biases run in offline mode under `<run>/wandb/offline-run-*` (`wandb sync` uploads it later)."""

    def __init__(self, ctx: SinkContext):
        import wandb

        self.wandb = wandb
        settings = wandb.Settings(
            console="off", silent=True, disable_git=True, save_code=False, x_disable_stats=True, x_save_requirements=False
        )
        self.run = wandb.init(
            mode="offline", dir=str(ctx.run_dir), project=ctx.project, name=ctx.name, config=ctx.params, settings=settings
        )

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        self.run.log(scalars(metrics), step=step)

    def close(self) -> None:
        self.run.finish()
        self.wandb.teardown()  # finish() returns before the run file is flushed; stopping the service waits for it


_MLFLOW_BAD_KEY = re.compile(r"[^\w\-. /]")
_MLFLOW_PARAM_MAX = 6000  # characters of a param value the store accepts


@register_sink("mlflow")
class MlflowSink:
    """An MLflow run in the local file store `<run>/mlruns` (read it with MlflowClient or `mlflow ui --backend-store-uri`)."""

    def __init__(self, ctx: SinkContext):
        # MLflow 3 keeps the file store but refuses it unless asked; it is the store that needs no server or database
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        self.uri = (ctx.run_dir / "mlruns").resolve().as_uri()
        self.client = MlflowClient(tracking_uri=self.uri)
        experiment = self.client.get_experiment_by_name(ctx.project)
        experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(ctx.project)
        self.run_id = self.client.create_run(experiment_id, run_name=ctx.name).info.run_id
        params = [Param(mlflow_key(k), str(v)[:_MLFLOW_PARAM_MAX]) for k, v in flatten(ctx.params).items()]
        for i in range(0, len(params), 100):  # the store takes at most 100 params per batch
            self.client.log_batch(self.run_id, params=params[i : i + 100])

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(mlflow_key(k), v, now, step) for k, v in scalars(metrics).items()]
        self.client.log_batch(self.run_id, metrics=batch)

    def close(self) -> None:
        self.client.set_terminated(self.run_id)


def mlflow_key(key: str) -> str:
    """A name MLflow accepts: letters, digits and `_-. /` (anything else becomes `_`), a normalised
    relative path (no empty, `.` or `..` parts), at most 250 characters."""
    parts = [part for part in _MLFLOW_BAD_KEY.sub("_", key).split("/") if part not in ("", ".", "..")]
    return "/".join(parts)[:250] or "_"


class Tracker:
    """metrics.jsonl, samples.jsonl and events.jsonl, plus the metric sinks switched on.

    `sinks` names entries of `SINKS` on top of `console` / `tensorboard`; a sink that fails while
    logging is dropped with a console note (the jsonl log is never dropped).
    """

    def __init__(
        self,
        run_dir: Path,
        console: bool = True,
        tensorboard: bool = False,
        sinks: Iterable[str] = (),
        *,
        name: str | None = None,
        project: str = "rlpost",
        params: dict[str, Any] | None = None,
    ):
        flags = {"console": console, "tensorboard": tensorboard}
        names = list(dict.fromkeys(["jsonl", *(n for n, on in flags.items() if on), *sinks]))
        unknown = [n for n in names if n not in SINKS]
        if unknown:
            raise ValueError(f"unknown tracking sink(s) {unknown}; known: {sorted(SINKS)}")
        self.console = Console(highlight=False, soft_wrap=True) if "console" in names else None
        ctx = SinkContext(run_dir, name or run_dir.name, project, params or {}, self.console)
        self.sinks: dict[str, MetricSink] = {}
        try:
            for n in names:
                self.sinks[n] = SINKS[n](ctx)
        except ImportError as e:
            self.close()
            raise ImportError(f"tracking sink {n!r} needs a package that is not installed ({e}); see requirements/") from e
        except Exception:
            self.close()
            raise
        self.samples = JsonlWriter(run_dir / "samples.jsonl")
        self.events = JsonlWriter(run_dir / "events.jsonl")

    @classmethod
    def from_config(cls, run_dir: Path, cfg) -> Tracker:
        """The tracker an `ExperimentConfig` asks for: its `logging` sinks, run name and hyper-parameters."""
        return cls(
            run_dir, console=False, sinks=cfg.logging.sinks, name=cfg.run.name, project=cfg.logging.project,
            params=cfg.model_dump(mode="json"),
        )  # fmt: skip

    def log(self, step: int, metrics: dict[str, Any], total: int | None = None) -> None:
        if "console" in self.sinks:
            self.sinks["console"].total = total
        for name, sink in list(self.sinks.items()):
            try:
                sink.log(step, metrics)
            except Exception as e:  # noqa: BLE001 - a broken optional sink must not stop the run
                if name == "jsonl":
                    raise
                del self.sinks[name]
                self.event(step, "sink_failed", sink=name, error=f"{type(e).__name__}: {e}"[:400])

    def log_samples(self, step: int, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.samples.write({"step": step, **row})

    def event(self, step: int, kind: str, **fields: Any) -> None:
        """Something that happened to the run (an actor restarted, the run stopped): events.jsonl and console."""
        self.events.write({"step": step, "event": kind, "time": time.time(), **fields})
        if self.console:
            details = escape(", ".join(f"{k}={v}" for k, v in fields.items()))  # error texts hold [brackets]
            self.console.print(f"[bold yellow]{kind}[/] at step {step}: {details}")

    def info(self, text: str) -> None:
        if self.console:
            self.console.print(text, markup=False)

    def close(self) -> None:
        for sink in self.sinks.values():
            sink.close()
        self.sinks = {}
        for writer in ("samples", "events"):
            if hasattr(self, writer):
                getattr(self, writer).close()


def format_step_line(step: int, m: dict[str, float], total: int | None) -> str:
    """One progress line per step: reward, KL, length and phase times."""
    parts = [f"[bold]step {step}{'/' + str(total) if total else ''}[/]"]
    if "reward/mean" in m:
        parts.append(f"reward {m['reward/mean']:.3f}±{m.get('reward/std', 0):.3f}")
    if "kl/mean" in m:
        parts.append(f"kl {m['kl/mean']:.4f}")
    if "response_length/mean" in m:
        parts.append(f"len {m['response_length/mean']:.1f}")
    if "sft/loss" in m:
        parts.append(f"sft loss {m['sft/loss']:.4f}")
    if "reward/error_rate" in m and m["reward/error_rate"] > 0:
        parts.append(f"[red]reward errors {m['reward/error_rate']:.1%}[/]")
    times = " ".join(
        f"{k.split('/')[1][:-2]} {m[k]:.2f}"
        for k in ("time/rollout_s", "time/reward_s", "time/ref_s", "time/train_s", "time/weight_sync_s")
        if k in m
    )
    parts.append(f"{m.get('time/step_s', 0):.2f}s ({times})")
    return " | ".join(parts)
