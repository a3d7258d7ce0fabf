"""rollout.mode sync, one_step and async side by side: the same warmed-up tiny model, seed, task (the
quickstart's carry-heavy addition) and number of steps, with a reward that waits like a remote judge
(`benchmarks/plugins/remote_judge.py`: `--latency-ms` of sleep per sample, no CPU), so that overlapping
it with training can pay off even on 2 cores.

    .venv/bin/python benchmarks/async_overlap.py --steps 40 --latency-ms 4

Per mode: seconds per step (after the first 2), samples per second, the learner's idle share (waiting
for a batch: `time/learner_idle_s` / step; in sync mode everything but the learner's own phases), the
engines' idle share (1 − generate seconds / step), the staleness seen, and the reward per step over the
same samples. Writes benchmarks/results/async_overlap.json and docs/async_overlap.png.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from algorithms import ROOT, SKIP, plot_curves, run_one, warm_checkpoint

MODES = ("sync", "one_step", "async")
LEARNER_PHASES = ("old_logprobs", "ref", "values", "train", "weight_sync")


def overrides(mode: str, latency_ms: float, workers: int) -> list[str]:
    judge = f"{ROOT / 'benchmarks' / 'plugins' / 'remote_judge.py'}:judge"
    return [
        f"rollout.mode={mode}",
        f"rewards.num_workers={workers}",
        f"stages.0.envs.0.rewards=[{{name: '{judge}', params: {{latency_s: {latency_ms / 1000}}}}}]",
        "checkpoint.save_every=0",
        "heldout.every=0",
    ]


def summarise(run: dict, metrics: list[dict], samples_per_step: int) -> dict:
    timed = metrics[SKIP:]
    step_s = statistics.mean(m["time/step_s"] for m in timed)
    learner_busy = statistics.mean(sum(m.get(f"time/{p}_s", 0.0) for p in LEARNER_PHASES) for m in timed)
    idle = statistics.mean(m.get("time/learner_idle_s", step_s - learner_busy) for m in timed)
    generate = statistics.mean(m.get("time/rollout_s", 0.0) for m in timed)
    return {
        "step_s": step_s,
        "samples_per_s": samples_per_step / step_s,
        "learner_idle_frac": idle / step_s,
        "engine_idle_frac": max(0.0, 1 - generate / step_s),
        "reward_s": statistics.mean(m.get("time/reward_s", 0.0) for m in timed),
        "learner_s": learner_busy,
        "staleness_max": max(m.get("staleness/max", 0.0) for m in metrics),
        "staleness_mean": statistics.mean(m.get("staleness/mean", 0.0) for m in metrics),
        "reward_curve": run["reward_curve"],
        "reward_first": run["reward_first"],
        "reward_last": run["reward_last"],
        "wall_s": run["wall_s"],
    }


def plot(results: dict, out: Path) -> None:
    curves = {f"{mode} ({r['samples_per_s']:.0f} samples/s)": r["reward_curve"] for mode, r in results.items()}
    plot_curves(curves, "reward per step over the same samples, by rollout mode (bold: 5-step mean)", out, window=5)


def markdown(results: dict) -> str:
    sync = results["sync"]
    lines = [
        "| mode | s/step | samples/s | vs sync | learner idle | engine idle | reward s/step | staleness max "
        "| reward first → last |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for mode, r in results.items():
        lines.append(
            f"| {mode} | {r['step_s']:.2f} | {r['samples_per_s']:.0f} | {r['samples_per_s'] / sync['samples_per_s']:.2f}× | "
            f"{r['learner_idle_frac']:.0%} | {r['engine_idle_frac']:.0%} | {r['reward_s']:.2f} | {r['staleness_max']:.0f} | "
            f"{r['reward_first']:.3f} → {r['reward_last']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--latency-ms", type=float, default=4.0, help="judge wait per sample")
    p.add_argument("--reward-workers", type=int, default=1)
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--workdir", default=None, help="reuses <workdir>/warmup/warmup_model when it exists")
    args = p.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench-async-"))
    existing = workdir / "warmup" / "warmup_model"
    start = time.perf_counter()
    model_dir = str(existing) if (existing / "config.json").exists() else warm_checkpoint(workdir)
    print(f"warmed-up checkpoint: {model_dir} ({time.perf_counter() - start:.0f}s)", flush=True)
    results = {}
    for mode in args.modes.split(","):
        print(f"[{mode}] {args.steps} steps (log: {workdir / mode}.log) ...", flush=True)
        extra = overrides(mode, args.latency_ms, args.reward_workers)
        (workdir / mode).mkdir(parents=True, exist_ok=True)
        run = run_one("grpo", model_dir, workdir / mode, args.steps, extra)
        if not run["ok"]:
            raise SystemExit(f"[{mode}] failed: {run['error']}")
        metrics = [json.loads(line) for line in (workdir / mode / "grpo" / "metrics.jsonl").read_text().splitlines()]
        results[mode] = summarise(run, metrics, 32 * 8)
        r = results[mode]
        print(
            f"[{mode}] {r['step_s']:.2f} s/step, {r['samples_per_s']:.0f} samples/s, learner idle "
            f"{r['learner_idle_frac']:.0%}, reward {r['reward_first']:.3f} -> {r['reward_last']:.3f}",
            flush=True,
        )
    out = ROOT / "benchmarks" / "results" / "async_overlap.json"
    out.write_text(json.dumps({"args": vars(args), "results": results}, indent=1) + "\n")
    plot(results, ROOT / "docs" / "async_overlap.png")
    print(markdown(results))


if __name__ == "__main__":
    main()
