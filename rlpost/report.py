"""`rlpost report RUN_DIR`: PNG plots and a short markdown summary in `<run>/report/`.

The summary is a list of sections, each a function of the run's files that returns markdown lines
(none when the run lacks what it needs), so a run of any algorithm, or one cut short, reports
what it has.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rlpost.checkpoint import is_complete, latest_checkpoint
from rlpost.plots import Rows, heldout_events, phase_keys, plot_panels, read_jsonl, series

EVENTS_LISTED = 20


@dataclass
class RunFiles:
    run_dir: Path
    config: dict[str, Any]  # config.yaml as written by the run (raw; {} when absent or unreadable)
    metrics: Rows
    events: Rows
    plots: list[Path]


def read_config(run_dir: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load((run_dir / "config.yaml").read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


def _get(data: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


CONFIG_ESSENTIALS = (
    "algorithm.name", "model.path", "rollout.engine", "rollout.prompts_per_step", "rollout.n", "rollout.max_new_tokens",
    "rollout.temperature", "learner.lr", "algorithm.kl_coef", "run.seed",
)  # fmt: skip


def config_section(run: RunFiles) -> list[str]:
    values = [(key, _get(run.config, key)) for key in CONFIG_ESSENTIALS]
    lines = [f"- `{key}`: {value}" for key, value in values if value is not None]
    for stage in run.config.get("stages") or []:
        envs = ", ".join(str(e.get("name")) for e in stage.get("envs") or [])
        lines.append(f"- stage `{stage.get('name')}`: {stage.get('steps')} steps on {envs}")
    return ["## Config", "", *lines] if lines else []


def planned_steps(run: RunFiles) -> int | None:
    stages = run.config.get("stages") or []
    steps = [s.get("steps") for s in stages]
    return sum(steps) if steps and all(isinstance(s, int) for s in steps) else None


def progress_section(run: RunFiles) -> list[str]:
    steps = sorted({r["step"] for r in run.metrics if isinstance(r.get("step"), int)})
    planned = planned_steps(run)
    if not steps:
        return ["## Progress", "", "No steps logged (metrics.jsonl is missing or empty)."]
    of = f" of {planned} planned" if planned is not None else ""
    partial = " (partial run)" if planned is not None and steps[-1] < planned else ""
    return ["## Progress", "", f"- steps logged: {len(steps)}, last step {steps[-1]}{of}{partial}"]


def reward_section(run: RunFiles) -> list[str]:
    """Mean reward over the first and the last window of steps (a tenth of the run, at least one step)."""
    _, rewards = series(run.metrics, "reward/mean")
    lines = []
    if rewards:
        w = max(1, len(rewards) // 10)
        first, last = mean(rewards[:w]), mean(rewards[-w:])
        lines.append(f"- reward/mean: first {w} step(s) {first:.4f}, last {w} step(s) {last:.4f} (change {last - first:+.4f})")
    for key in ("reward/greedy_mean", "reward/error_rate", "kl/mean", "response_length/mean"):
        _, values = series(run.metrics, key)
        if values:
            lines.append(f"- {key}: mean {mean(values):.4f}, last {values[-1]:.4f}")
    return ["## Reward", "", *lines] if lines else []


def time_section(run: RunFiles) -> list[str]:
    _, step_s = series(run.metrics, "time/step_s")
    if not step_s:
        return []
    total = sum(step_s)
    lines = ["## Time", "", f"- wall time of the steps: {total:.1f} s ({total / len(step_s):.2f} s per step)"]
    shares = [(key, sum(v for v in series(run.metrics, key)[1] if math.isfinite(v))) for key in phase_keys(run.metrics)]
    if shares and total > 0:
        lines += ["", "| phase | seconds | share |", "|---|---|---|"]
        lines += [f"| {key[len('time/') : -len('_s')]} | {s:.1f} | {s / total:.1%} |" for key, s in shares]
    return lines


def events_section(run: RunFiles) -> list[str]:
    counters = sorted({k for r in run.metrics for k in r if k.startswith("events/")})
    lines = [f"- {key}: {sum(series(run.metrics, key)[1]):g} in all" for key in counters]
    if run.events:
        kinds = collections.Counter(str(e.get("event")) for e in run.events)
        lines.append("- events.jsonl: " + ", ".join(f"{n} × {kind}" for kind, n in kinds.items()))
        lines += ["", "| step | event | details |", "|---|---|---|"]
        for e in run.events[:EVENTS_LISTED]:
            details = "; ".join(
                f"{k}={' '.join(str(v).split())[:120]}" for k, v in e.items() if k not in ("step", "event", "time")
            )
            lines.append(f"| {e.get('step')} | {e.get('event')} | {details.replace('|', '/')} |")
        if len(run.events) > EVENTS_LISTED:
            lines.append(f"\n({len(run.events) - EVENTS_LISTED} more in events.jsonl)")
    return ["## Events", "", *lines] if lines else []


def checkpoint_section(run: RunFiles) -> list[str]:
    final = run.run_dir / "checkpoints" / "final"
    if is_complete(final):
        text = f"- final checkpoint: `{final}`"
    elif (newest := latest_checkpoint(run.run_dir)) is not None:
        text = f"- no final checkpoint; newest complete one: `{newest}`"
    else:
        text = "- no complete checkpoint"
    return ["## Checkpoint", "", text]


def continual_section(run: RunFiles) -> list[str]:
    """The accuracy matrix of a continual run (rows: the start and each stage's end) and its summary."""
    from rlpost.continual.matrix import HEATMAP_FILE, LINES_FILE, MATRIX_FILE, ContinualMatrix, format_matrix

    if not (run.run_dir / MATRIX_FILE).exists():
        return []
    matrix = ContinualMatrix.load(run.run_dir / MATRIX_FILE)
    lines = ["## Continual evaluation (greedy accuracy)", "", *format_matrix(matrix), ""]
    return lines + [f"![{p.stem}](../{p})" for p in (HEATMAP_FILE, LINES_FILE) if (run.run_dir / p).exists()]


def plots_section(run: RunFiles) -> list[str]:
    return ["## Plots", "", *(f"![{p.stem}]({p.name})" for p in run.plots)] if run.plots else []


SECTIONS: tuple[Callable[[RunFiles], list[str]], ...] = (
    config_section, progress_section, reward_section, time_section, events_section, checkpoint_section, continual_section,
    plots_section,
)  # fmt: skip


def write_report(run_dir: Path) -> Path:
    """Write `<run>/report/<panel>.png` and `<run>/report/summary.md`; returns the summary's path."""
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory {str(run_dir)!r} not found")
    out = run_dir / "report"
    metrics, events = read_jsonl(run_dir / "metrics.jsonl"), read_jsonl(run_dir / "events.jsonl")
    panels = plot_panels(metrics, [*events, *heldout_events(run_dir)], out) if metrics else []
    run = RunFiles(run_dir, read_config(run_dir), metrics, events, panels)
    parts = [f"# Run report: {run_dir.name}", ""]
    for section in SECTIONS:
        lines = section(run)
        if lines:
            parts += [*lines, ""]
    summary = out / "summary.md"
    out.mkdir(parents=True, exist_ok=True)
    summary.write_text("\n".join(parts))
    return summary


def write_comparison(run_a: Path, run_b: Path, out: Path | None = None) -> Path:
    """`rlpost report --compare A B`: both runs' accuracy matrices and summary metrics side by side
    (`compare.md`) and drawn (`compare.png`: the two heatmaps and the per-task accuracy through the
    stages) in `out` (default `A/report/compare-<B's name>`); returns the markdown's path."""
    from rlpost.continual.matrix import MATRIX_FILE, ContinualMatrix, format_matrix

    matrices = []
    for run in (run_a, run_b):
        if not (run / MATRIX_FILE).exists():
            raise FileNotFoundError(f"{run / MATRIX_FILE} not found: compare needs two runs with continual.eval enabled")
        matrices.append(ContinualMatrix.load(run / MATRIX_FILE))
    a, b = matrices
    if a.tasks != b.tasks:
        raise ValueError(f"the runs evaluate different tasks: {a.tasks} vs {b.tasks}")
    out = out or run_a / "report" / f"compare-{run_b.name}"
    out.mkdir(parents=True, exist_ok=True)
    names = (f"{run_a.name} ({a.method})", f"{run_b.name} ({b.method})")
    sa, sb = a.summary(), b.summary()
    lines = [f"# {names[0]} vs {names[1]}", "", "| metric | " + " | ".join(names) + " | B − A |", "|---|---|---|---|"]
    for key in [k for k in sa if k in sb]:
        lines.append(f"| {key} | {sa[key]:+.3f} | {sb[key]:+.3f} | {sb[key] - sa[key]:+.3f} |")
    final_a, final_b = (m.accuracy[-1] if m.rows else [math.nan] * len(m.tasks) for m in (a, b))
    lines += ["", "Accuracy after the last stage:", "", "| task | " + " | ".join(names) + " |", "|---|---|---|"]
    lines += [f"| {t} | {x:.3f} | {y:.3f} |" for t, x, y in zip(a.tasks, final_a, final_b)]
    for name, matrix in zip(names, matrices):
        lines += ["", f"## {name}", "", *format_matrix(matrix)]
    plot_comparison(matrices, names, out / "compare.png")
    lines += ["", "![comparison](compare.png)", ""]
    path = out / "compare.md"
    path.write_text("\n".join(lines))
    return path


def plot_comparison(matrices: list, names: tuple[str, str], path: Path) -> Path:
    """Top: each run's heatmap; bottom: per-task greedy accuracy through the stages, one colour per task,
    solid for the first run and dashed for the second."""
    from rlpost.plots import pyplot

    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(12, 8), gridspec_kw={"height_ratios": [1, 1.1]})
    for ax, name, matrix in zip(axes[0], names, matrices):
        rows = ([matrix.initial["accuracy"]] if matrix.initial else []) + matrix.accuracy
        labels = (["start"] if matrix.initial else []) + [f"after {r['stage']}" for r in matrix.rows]
        ax.imshow(rows, vmin=0, vmax=1, cmap="viridis", aspect="auto")
        ax.set_xticks(range(len(matrix.tasks)), matrix.tasks, rotation=20, ha="right")
        ax.set_yticks(range(len(rows)), labels)
        for r, row in enumerate(rows):
            for c, v in enumerate(row):
                ax.text(c, r, f"{v:.2f}", ha="center", va="center", color="white" if v < 0.6 else "black", fontsize=8)
        ax.set_title(name)
    gs = axes[1, 0].get_gridspec()
    for ax in axes[1]:
        ax.remove()
    ax = fig.add_subplot(gs[1, :])
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for style, name, matrix in zip(("-", "--"), names, matrices):
        rows = ([matrix.initial["accuracy"]] if matrix.initial else []) + matrix.accuracy
        for i, task in enumerate(matrix.tasks):
            ax.plot(range(len(rows)), [row[i] for row in rows], style, marker="o", color=colours[i % len(colours)],
                    label=f"{task} ({name.split(' ')[0]})")  # fmt: skip
    points = (["start"] if matrices[0].initial else []) + [f"after {r['stage']}" for r in matrices[0].rows]
    ax.set_xticks(range(len(points)), points)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("evaluated at the start, then after each stage")
    ax.set_ylabel("greedy accuracy")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
