"""Plots of a run's metrics.jsonl (reward, KL, response length, phase times) as one PNG."""

from __future__ import annotations

import json
from pathlib import Path


def read_metrics(run_dir: Path) -> list[dict]:
    path = run_dir / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def plot_run(run_dir: Path, out: Path | None = None) -> Path | None:
    """Write `<run>/plots/training.png`; returns its path (None when there is nothing to plot)."""
    metrics = read_metrics(run_dir)
    if not metrics:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [m["step"] for m in metrics]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    ax = axes[0][0]
    mean = [m["reward/mean"] for m in metrics]
    std = [m.get("reward/std", 0.0) for m in metrics]
    ax.plot(steps, mean, label="mean")
    ax.fill_between(steps, [a - b for a, b in zip(mean, std)], [a + b for a, b in zip(mean, std)], alpha=0.2, label="± std")
    ax.set_title("reward")
    ax.legend()
    ax = axes[0][1]
    if any("kl/mean" in m for m in metrics):
        ax.plot(steps, [m.get("kl/mean", float("nan")) for m in metrics], color="tab:red")
    ax.set_title("KL to reference (k3, mean per token)")
    ax = axes[1][0]
    ax.plot(steps, [m["response_length/mean"] for m in metrics], color="tab:green")
    ax.set_title("response length (tokens)")
    ax = axes[1][1]
    bottom = [0.0] * len(steps)
    for phase in ("rollout", "reward", "ref", "old_logprobs", "train", "weight_sync", "overhead"):
        key = f"time/{phase}_s"
        if key in metrics[0]:
            values = [m.get(key, 0.0) for m in metrics]
            ax.bar(steps, values, bottom=bottom, label=phase, width=1.0)
            bottom = [a + b for a, b in zip(bottom, values)]
    ax.set_title("seconds per step by phase")
    ax.legend(fontsize=7)
    for a in axes.flat:
        a.set_xlabel("step")
    fig.suptitle(run_dir.name)
    fig.tight_layout()
    out = out or run_dir / "plots" / "training.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
