"""Every algorithm side by side (GRPO, ReMax, GPPO, PPO, RLOO, REINFORCE++, GSPO, CISPO): same environment,
warmed-up checkpoint, seed, workload and number of steps. Reward curves, seconds per step, and peak memory
of all processes.

    .venv/bin/python benchmarks/algorithms.py --steps 60

The tiny model is built and warmed up once (the configs' `warmup` section); every algorithm then
starts from that checkpoint with its own `configs/<algo>_arithmetic.yaml`, in a fresh process
(its own Ray), one after the other. Peak memory is sampled every 0.25 s over the process tree of
that run (driver, Ray's own processes, and every actor); "actors" counts only the Ray actor
processes (engines, learners, critic, reference model, reward workers). Writes
benchmarks/results/algorithms.json and docs/algorithms_reward.png.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
ALGORITHMS = ["grpo", "remax", "gppo", "ppo", "rloo", "reinforce_pp", "gspo", "cispo"]
SKIP = 2  # first steps left out of the timing (engine and learner warm-up)


def load_config(algo: str, model_dir: str, run_dir: str, steps: int, extra: list[str]):
    from rlpost.config import load_config as load

    return load(
        ROOT / "configs" / f"{algo}_arithmetic.yaml",
        [f"model.path={model_dir}", "warmup.enabled=false", f"run.dir={run_dir}", f"stages.0.steps={steps}",
         "logging.console=false", *extra],
    )  # fmt: skip


class MemoryWatch(threading.Thread):
    """Peak summed RSS (GiB) of a process and its descendants, all and Ray actors only."""

    def __init__(self, pid: int, period_s: float = 0.25):
        super().__init__(daemon=True)
        self.pid, self.period_s = pid, period_s
        self.peak_all = self.peak_actors = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                root = psutil.Process(self.pid)
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            total = actors = 0
            for p in procs:
                try:
                    rss = p.memory_info().rss
                    name = p.name()
                except psutil.Error:
                    continue
                total += rss
                if name.startswith("ray::"):
                    actors += rss
            self.peak_all = max(self.peak_all, total / 2**30)
            self.peak_actors = max(self.peak_actors, actors / 2**30)
            self.done.wait(self.period_s)


def run_one(algo: str, model_dir: str, workdir: Path, steps: int, extra: list[str]) -> dict:
    """Train one algorithm in a child process while watching its memory."""
    run_dir = workdir / algo
    log = (workdir / f"{algo}.log").open("w")
    cmd = [sys.executable, __file__, "--child", algo, "--model-dir", model_dir, "--run-dir", str(run_dir), "--steps", str(steps)]
    cmd += [f"--set={o}" for o in extra]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    watch = MemoryWatch(proc.pid)
    watch.start()
    rc = proc.wait()
    watch.done.set()
    wall = time.perf_counter() - start
    if rc != 0:
        return {"ok": False, "error": f"exit code {rc}; log: {log.name}"}
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    timed = metrics[SKIP:]
    rewards = [m["reward/mean"] for m in metrics]
    k = max(1, min(10, len(rewards) // 4))
    return {
        "ok": True,
        "wall_s": wall,
        "step_s_mean": statistics.mean(m["time/step_s"] for m in timed),
        "phases_s": {
            key[5:-2]: statistics.mean(m.get(key, 0.0) for m in timed)
            for key in sorted({k for m in timed for k in m if k.startswith("time/") and k != "time/step_s"})
        },
        "peak_rss_gib_all": watch.peak_all,
        "peak_rss_gib_actors": watch.peak_actors,
        "reward_curve": rewards,
        "reward_first": statistics.mean(rewards[:k]),
        "reward_last": statistics.mean(rewards[-k:]),
        "window": k,
        "log": log.name,
    }


def child(args: argparse.Namespace) -> None:
    from rlpost.trainer import Trainer

    Trainer(load_config(args.child, args.model_dir, args.run_dir, args.steps, args.set)).run()


def warm_checkpoint(workdir: Path) -> str:
    """The tiny model after the configs' supervised warm-up (identical in every algorithm config)."""
    from rlpost.config import load_config as load
    from rlpost.trainer.warmup import prepare_model

    cfg = load(ROOT / "configs" / "grpo_arithmetic.yaml", [f"run.dir={workdir / 'warmup'}"])
    (workdir / "warmup").mkdir(parents=True, exist_ok=True)
    return prepare_model(cfg, workdir / "warmup", print)


def plot_curves(curves: dict[str, list[float]], title: str, out: Path, window: int = 10) -> None:
    """Reward per step for each label: faint raw, bold `window`-step running mean."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for label, curve in curves.items():
        steps = range(1, len(curve) + 1)
        (line,) = ax.plot(steps, curve, alpha=0.25, linewidth=0.8)
        smooth = [statistics.mean(curve[max(0, i - window + 1) : i + 1]) for i in range(len(curve))]
        ax.plot(steps, smooth, color=line.get_color(), linewidth=2, label=label)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("step")
    ax.set_ylabel("mean reward (exact answer)")
    ax.legend()
    ax.grid(alpha=0.3)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def plot(results: dict, out: Path) -> None:
    curves = {f"{algo} ({r['step_s_mean']:.2f} s/step)": r["reward_curve"] for algo, r in results.items() if r.get("ok")}
    plot_curves(curves, "carry-heavy 2-digit addition, tiny model, same warmed-up start (bold: 10-step mean)", out)


def markdown(results: dict) -> str:
    ppo = results.get("ppo", {})
    lines = [
        "| algorithm | reward first → last | s/step | peak RSS all, GiB | peak RSS actors, GiB | vs PPO speed | vs PPO RSS |",
        "|---|---|---|---|---|---|---|",
    ]
    for algo, r in results.items():
        if not r.get("ok"):
            lines.append(f"| {algo} | failed: {r.get('error')} | | | | | |")
            continue
        speed = f"{ppo['step_s_mean'] / r['step_s_mean']:.2f}×" if ppo.get("ok") else "–"
        mem = f"{r['peak_rss_gib_actors'] / ppo['peak_rss_gib_actors']:.2f}" if ppo.get("ok") else "–"
        lines.append(
            f"| {algo} | {r['reward_first']:.3f} → {r['reward_last']:.3f} | {r['step_s_mean']:.2f} | "
            f"{r['peak_rss_gib_all']:.2f} | {r['peak_rss_gib_actors']:.2f} | {speed} | {mem} |"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--algorithms", default=",".join(ALGORITHMS))
    p.add_argument("--workdir", default=None, help="reuses <workdir>/warmup/warmup_model when it exists")
    p.add_argument("--set", action="append", default=[], help="an override for every algorithm's config (repeatable)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--model-dir", help=argparse.SUPPRESS)
    p.add_argument("--run-dir", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench-algos-"))
    start = time.perf_counter()
    existing = workdir / "warmup" / "warmup_model"
    model_dir = str(existing) if (existing / "config.json").exists() else warm_checkpoint(workdir)
    print(f"warmed-up checkpoint: {model_dir} ({time.perf_counter() - start:.0f}s)", flush=True)
    results = {}
    for algo in args.algorithms.split(","):
        print(f"[{algo}] running {args.steps} steps (log: {workdir / algo}.log) ...", flush=True)
        results[algo] = run_one(algo, model_dir, workdir, args.steps, args.set)
        r = results[algo]
        if r["ok"]:
            print(
                f"[{algo}] reward {r['reward_first']:.3f} -> {r['reward_last']:.3f}, {r['step_s_mean']:.2f} s/step, "
                f"peak RSS {r['peak_rss_gib_all']:.2f} GiB (actors {r['peak_rss_gib_actors']:.2f})",
                flush=True,
            )
        else:
            print(f"[{algo}] FAILED: {r['error']}", flush=True)
    report = {
        "benchmark": "algorithms",
        "command": "benchmarks/algorithms.py " + " ".join(sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "steps": args.steps,
        "overrides": args.set,
        "timing_skips_first_steps": SKIP,
        "results": results,
    }
    out = ROOT / "benchmarks" / "results" / "algorithms.json"
    out.write_text(json.dumps(report, indent=1))
    plot(results, ROOT / "docs" / "algorithms_reward.png")
    print(markdown(results))
    print(f"written to {out} and docs/algorithms_reward.png")


if __name__ == "__main__":
    main()
