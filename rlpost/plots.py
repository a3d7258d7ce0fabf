"""Plots of a run's metrics.jsonl / events.jsonl: one panel per quantity, registered by name.

A panel draws on a matplotlib axis from the metric rows (one dict per step) and the events, and
returns False when the run has none of its keys, so any algorithm's run and partial runs plot
what they have. `plot_run` puts the main panels in one PNG; `plot_panels` writes one PNG each.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

Rows = list[dict[str, Any]]
Panel = Callable[[Any, Rows, Rows], bool]  # (axis, metric rows, events) -> drew something
PANELS: dict[str, Panel] = {}
PHASE_ORDER = ("rollout", "baseline_rollout", "reward", "ref", "old_logprobs", "values", "train", "weight_sync", "overhead")
NOT_PHASES = ("time/step_s", "time/weight_sync_engine_s")  # the total, and a part of weight_sync
EVENT_COLOURS = {"restart": "tab:orange", "stopped": "tab:red"}


def read_jsonl(path: Path) -> Rows:
    """The objects of a JSONL file; a missing file is empty and a line a crash cut short is skipped."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def read_metrics(run_dir: Path) -> Rows:
    return read_jsonl(run_dir / "metrics.jsonl")


def number(value: Any) -> float | None:
    """A metric value as a float: numbers, and the "nan" / "inf" strings the jsonl sink writes; else None."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if value in ("nan", "inf", "-inf"):
        return float(value)
    return None


def series(rows: Rows, key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of the rows that have a numeric `key`."""
    pairs = [(r["step"], number(r.get(key))) for r in rows if "step" in r]
    pairs = [(s, v) for s, v in pairs if v is not None]
    return [s for s, _ in pairs], [v for _, v in pairs]


def phase_keys(rows: Rows) -> list[str]:
    """The `time/<phase>_s` keys present, in step order (known phases first)."""
    keys = {k for r in rows for k in r if k.startswith("time/") and k.endswith("_s") and k not in NOT_PHASES}
    known = [f"time/{p}_s" for p in PHASE_ORDER if f"time/{p}_s" in keys]
    return known + sorted(keys - set(known))


def register_panel(name: str):
    def wrap(fn: Panel) -> Panel:
        PANELS[name] = fn
        return fn

    return wrap


def moving_average(values: list[float], window: int) -> list[float]:
    """Trailing mean over the last `window` values (fewer at the start), so a point never looks ahead."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def smoothing_window(n: int) -> int:
    """Moving-average window for `n` steps: a tenth of the run, at least 1 and at most 25 steps."""
    return max(1, min(25, n // 10))


HELDOUT_STYLES = {"greedy": ("s", "tab:red"), "sampled": ("o", "tab:green")}


def heldout_points(rows: Rows, events: Rows) -> dict[str, tuple[list[int], list[float]]]:
    """Held-out accuracy by kind ("greedy", "sampled") and step: `heldout` events (`step`, `greedy`,
    `sampled`: the trainer's `heldout.every` evaluations, the one before the first step included, or
    `plot_run`'s from continual/matrix.json) and `heldout/<kind>_accuracy` metrics, merged by step."""
    points: dict[str, tuple[list[int], list[float]]] = {}
    for kind in HELDOUT_STYLES:
        by_step = {e["step"]: number(e.get(kind)) for e in events if e.get("event") == "heldout" and "step" in e}
        by_step.update(zip(*series(rows, f"heldout/{kind}_accuracy")))
        pairs = sorted((s, v) for s, v in by_step.items() if v is not None)
        if pairs:
            points[kind] = ([s for s, _ in pairs], [v for _, v in pairs])
    return points


def heldout_events(run_dir: Path) -> Rows:
    """`heldout` events from the run's continual/matrix.json: per evaluation (the start and after each stage)
    its step, greedy accuracy and sampled accuracy (pass@1, the mean over samples, only when k is 1),
    problem-weighted over the tasks trained on (general tasks left out)."""
    path = run_dir / "continual" / "matrix.json"
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return []
    trained = range(len(data.get("stages") or []))  # the tasks are the stages, then the general environments
    out = []
    for row in [data.get("initial")] + list(data.get("rows") or []):
        if not isinstance(row, dict) or "step" not in row:
            continue
        greedy = [row["accuracy"][i] for i in trained if i < len(row.get("accuracy", []))]
        event = {"event": "heldout", "step": row["step"]}
        if greedy:
            event["greedy"] = sum(greedy) / len(greedy)
        if data.get("k") == 1 and row.get("pass_at_k"):
            sampled = [row["pass_at_k"][i] for i in trained if i < len(row["pass_at_k"])]
            event["sampled"] = sum(sampled) / len(sampled)
        out.append(event)
    return out


@register_panel("reward")
def reward_panel(ax, rows: Rows, events: Rows) -> bool:
    """Mean reward per step, its trailing moving average, the greedy mean (ReMax) and held-out accuracy.
    No ± std band: the per-sample std of a 0/1 reward is sqrt(p(1-p)), a band that says nothing of the trend."""
    steps, mean = series(rows, "reward/mean")
    if not steps:
        return False
    window = smoothing_window(len(steps))
    ax.plot(steps, mean, color="tab:blue", alpha=0.3, linewidth=0.8, label="mean per step")
    ax.plot(steps, moving_average(mean, window), color="tab:blue", linewidth=2, label=f"moving average ({window} steps)")
    greedy_steps, greedy = series(rows, "reward/greedy_mean")
    if greedy_steps:
        ax.plot(greedy_steps, moving_average(greedy, window), label="greedy mean (moving average)", color="tab:purple")
    for kind, (h_steps, values) in heldout_points(rows, events).items():
        marker, colour = HELDOUT_STYLES[kind]
        line = ":" if len(h_steps) > 2 else "none"  # a trend through several evaluations; two points stand alone
        ax.plot(h_steps, values, marker=marker, linestyle=line, color=colour, markersize=7, label=f"held-out {kind} accuracy")
        for step, value in zip(h_steps, values):
            ax.annotate(f"{value:.2f}", (step, value), textcoords="offset points", xytext=(5, -10), fontsize=7, color=colour)
    ax.set_title("reward")
    ax.legend(fontsize=7)
    return True


@register_panel("sft_loss")
def sft_loss_panel(ax, rows: Rows, events: Rows) -> bool:
    """Supervised loss of `method: sft` runs, one colour per stage."""
    stages = list(dict.fromkeys(r.get("stage") for r in rows if "sft/loss" in r))
    for stage in stages:
        steps, loss = series([r for r in rows if r.get("stage") == stage], "sft/loss")
        ax.plot(steps, loss, marker=".", label=str(stage))
    if stages:
        ax.set_title("SFT loss")
        ax.set_yscale("log")
        ax.legend(fontsize=7)
    return bool(stages)


@register_panel("kl")
def kl_panel(ax, rows: Rows, events: Rows) -> bool:
    steps, kl = series(rows, "kl/mean")
    if not steps:
        return False
    ax.plot(steps, kl, color="tab:red")
    ax.set_title("KL to reference (mean per token)")
    return True


@register_panel("episodes")
def episodes_panel(ax, rows: Rows, events: Rows) -> bool:
    """Multi-turn runs: the share of episodes that called a tool, and policy turns per episode (right axis)."""
    steps, rate = series(rows, "episode/tool_use_rate")
    turn_steps, turns = series(rows, "episode/turns_mean")
    if not steps and not turn_steps:
        return False
    window = smoothing_window(max(len(steps), len(turn_steps)))
    if steps:
        ax.plot(steps, rate, color="tab:orange", alpha=0.3, linewidth=0.8)
        ax.plot(steps, moving_average(rate, window), color="tab:orange", linewidth=2, label="tool-use rate")
        ax.set_ylim(-0.02, 1.02)
    right = ax.twinx()
    right.plot(turn_steps, moving_average(turns, window), color="tab:gray", linestyle="--", label="turns per episode")
    right.set_ylabel("turns", fontsize=8)
    ax.set_title(f"episodes (moving average, {window} steps)")
    ax.legend(handles=ax.get_lines()[1:] + right.get_lines(), fontsize=7, loc="lower right")
    return True


@register_panel("response_length")
def length_panel(ax, rows: Rows, events: Rows) -> bool:
    drawn = False
    for key, style in (("response_length/mean", "-"), ("response_length/max", ":")):
        steps, values = series(rows, key)
        if steps:
            ax.plot(steps, values, style, color="tab:green", label=key.split("/")[1])
            drawn = True
    if drawn:
        ax.set_title("response length (tokens)")
        ax.legend(fontsize=7)
    return drawn


@register_panel("phase_times")
def phase_panel(ax, rows: Rows, events: Rows) -> bool:
    keys = phase_keys(rows)
    steps = [r["step"] for r in rows if "step" in r]
    if not keys or not steps:
        return False
    bottom = [0.0] * len(steps)
    for key in keys:
        values = [max(0.0, number(r.get(key)) or 0.0) for r in rows if "step" in r]
        ax.bar(steps, values, bottom=bottom, label=key[len("time/") : -len("_s")], width=1.0)
        bottom = [a + b for a, b in zip(bottom, values)]
    ax.set_title("seconds per step by phase")
    ax.legend(fontsize=7)
    return True


@register_panel("errors")
def errors_panel(ax, rows: Rows, events: Rows) -> bool:
    """Reward error rate, per-step retries / worker restarts (`events/*` metrics), and events as vertical lines."""
    drawn = False
    steps, rate = series(rows, "reward/error_rate")
    if steps:
        ax.plot(steps, rate, color="tab:red", label="reward error rate")
        ax.set_ylim(bottom=0)
        drawn = True
    counts = sorted({k for r in rows for k in r if k.startswith("events/")})
    twin = ax.twinx() if counts else None
    for key in counts:
        c_steps, values = series(rows, key)
        twin.plot(c_steps, values, "o--", markersize=3, label=key[len("events/") :])
        drawn = True
    if twin is not None:
        twin.set_ylabel("count per step")
        twin.legend(fontsize=7, loc="upper right")
    for e in events:
        if number(e.get("step")) is not None:
            ax.axvline(e["step"], color=EVENT_COLOURS.get(e.get("event"), "tab:gray"), alpha=0.6, linestyle="-.")
            drawn = True
    if drawn:
        ax.set_title("errors, retries, restarts (lines: events.jsonl)")
        if steps:
            ax.legend(fontsize=7, loc="upper left")
    return drawn


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_panels(rows: Rows, events: Rows, out_dir: Path, names: tuple[str, ...] | None = None) -> list[Path]:
    """One PNG per panel (all registered by default) that has data: `<out_dir>/<name>.png`."""
    plt = pyplot()
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names or tuple(PANELS):
        fig, ax = plt.subplots(figsize=(6.5, 4))
        if PANELS[name](ax, rows, events):
            ax.set_xlabel("step")
            fig.tight_layout()
            fig.savefig(out_dir / f"{name}.png", dpi=90)
            written.append(out_dir / f"{name}.png")
        plt.close(fig)
    return written


def plot_run(run_dir: Path, out: Path | None = None) -> Path | None:
    """Write `<run>/plots/training.png` (reward or SFT loss, KL, length, phase times; multi-turn runs: the episodes
    panel in place of KL or length); None when there is nothing to plot."""
    rows = read_metrics(run_dir)
    if not rows:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    main = ("reward", "kl", "response_length", "phase_times")
    if not series(rows, "reward/mean")[0]:
        main = ("sft_loss", "kl", "response_length", "phase_times")
    elif series(rows, "episode/turns_mean")[0]:
        main = ("reward", "episodes", "kl" if series(rows, "kl/mean")[0] else "response_length", "phase_times")
    events = [*read_jsonl(run_dir / "events.jsonl"), *heldout_events(run_dir)]
    for ax, name in zip(axes.flat, main):
        if PANELS[name](ax, rows, events):
            ax.set_xlabel("step")
        else:
            ax.set_title(f"{name} (not logged)")
            ax.axis("off")
    fig.suptitle(run_dir.name)
    fig.tight_layout()
    out = out or run_dir / "plots" / "training.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
