"""Learning parity: rlpost and TRL's GRPOTrainer from the same warmed-up checkpoint, same workload.

    .venv/bin/python benchmarks/learning_parity.py --steps 150 --seeds 0,1

The checkpoint is the quickstart's warm-up (`configs/quickstart.yaml`: tiny model, supervised
warm-up on the mixed demonstrations), built once. Each side then trains on the quickstart's
task (its first stage's environment) with the quickstart's RL settings, each (side, seed) in its
own subprocess, one after the other:

  rlpost  rlpost.trainer.Trainer (vLLM rollout actor, DeepSpeed learner, reference model, reward worker)
  trl     TRL GRPOTrainer, use_cpu, generation with transformers `generate` (stock TRL; its vLLM
          colocate mode cannot sync weights on vLLM's CPU backend, see benchmarks/vs_trl.py)

The same prompts in the same order (rlpost's own `PromptSampler`, seeded like the trainer) and the
same exact-answer reward (`vs_trl.exact_answer_reward`). Settings, rlpost -> TRL:

  rollout.prompts_per_step x rollout.n (64 x 8)  -> generation_batch_size = per_device_train_batch_size
                                                    x steps_per_generation = 64 x 8, num_generations 8
  learner.mini_batch_size 64 (8 optimizer steps per rollout batch), learner.epochs 1
                                                 -> per_device_train_batch_size 64, gradient_accumulation_steps 1,
                                                    steps_per_generation 8, num_iterations 1
  stages[0].steps rollout batches               -> max_steps = steps x 8 optimizer steps
  rollout.temperature 1, top_p 1, max_new_tokens -> temperature, top_p, max_completion_length
  learner.lr, constant, AdamW, weight_decay 0, grad_clip 1 -> learning_rate, lr_scheduler_type constant,
                                                    weight_decay 0, max_grad_norm 1
  algorithm.clip_low / clip_high (0.2 / 0.28)    -> epsilon / epsilon_high
  algorithm.kl_coef (0.001), kl_in loss, k3      -> beta (TRL's KL term is k3 in the loss)
  algorithm.loss_agg token-mean (over the mini-batch) -> loss_type "dapo" (token mean over the global batch)
  advantage: group mean / unbiased std (eps 1e-6) -> scale_rewards "group" (std, eps 1e-4)
  run.seed                                       -> seed; the prompt order is rlpost's for that seed

After training, each final model and the warm-up checkpoint are scored on the environment's
held-out test split with `rlpost.evaluation.evaluate` (the same engine for all, transformers by
default: one vLLM actor per model would start a Ray each time): greedy accuracy and sampled
accuracy (pass@1 from 8 samples per problem at temperature 1). Reward gain = mean reward of the
last tenth of the steps minus that of the first tenth (TRL's reward per rollout batch is the mean
of its 8 optimizer steps' logged rewards).

Writes benchmarks/results/learning_parity.json and docs/learning_parity.png.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import benchmarks.vs_trl as vs_trl  # noqa: E402
from benchmarks.vs_trl import ROOT, exact_answer_reward, side_env, write_result  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DOCS = ROOT / "docs"
CONFIG = ROOT / "configs" / "quickstart.yaml"
SIDES = ("rlpost", "trl")


def quickstart(config: Path, steps: int):
    """The quickstart config with one stage of `steps` steps on its first stage's environment, no evaluation."""
    import yaml

    from rlpost.config import build_config

    data = yaml.safe_load(config.read_text())
    first = data["stages"][0]
    data["stages"] = [{"name": "parity", "steps": steps, "envs": first["envs"]}]
    data.setdefault("continual", {})["eval"] = {"enabled": False}
    return data, build_config(data)


def env_params(cfg) -> dict:
    return dict(cfg.stages[0].envs[0].params)


def use_env(cfg) -> None:
    """vs_trl's helpers (prompts, engine context) read its ENV_PARAMS: point them at this task."""
    vs_trl.ENV_PARAMS = env_params(cfg)


# ----- the warm-up checkpoint -----------------------------------------------------------------
def warm_model(args: argparse.Namespace) -> Path:
    from rlpost.trainer.warmup import prepare_model

    _, cfg = quickstart(Path(args.config), args.steps)
    out = Path(args.workdir) / "warm"
    out.mkdir(parents=True, exist_ok=True)
    return Path(prepare_model(cfg, out, print))


# ----- the sides ------------------------------------------------------------------------------
def run_rlpost(args: argparse.Namespace) -> dict:
    from rlpost.config import build_config
    from rlpost.trainer import Trainer

    data, _ = quickstart(Path(args.config), args.steps)
    data["run"] = {"name": "parity", "dir": str(Path(args.workdir) / f"rlpost-{args.seed}"), "seed": args.seed}
    data["model"] = {"path": args.model_dir, "dtype": "float32"}
    data["warmup"] = {"enabled": False}
    data["logging"] = {"console": False, "samples_per_step": 0}
    data["checkpoint"] = {"save_every": 0}
    try:
        run_dir = Trainer(build_config(data)).run()
    finally:
        import ray

        ray.shutdown()
    metrics = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return {"reward_mean": [m["reward/mean"] for m in metrics], "model": str(Path(run_dir) / "checkpoints" / "final")}


def run_trl(args: argparse.Namespace) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    _, cfg = quickstart(Path(args.config), args.steps)
    use_env(cfg)
    r, a, learner = cfg.rollout, cfg.stage_algorithm(0), cfg.learner
    if a.loss_agg != "token-mean" or a.kl_in != "loss" or a.kl_estimator != "k3" or learner.epochs != 1:
        sys.exit("learning_parity maps token-mean, KL k3 in the loss and one epoch only")
    batch = r.prompts_per_step * r.n
    per_rollout = batch // learner.mini_batch_size  # optimizer steps per rollout batch
    rows = vs_trl.bench_prompts(args.steps, r.prompts_per_step, args.seed)
    logged: list[dict] = []

    class Logs(TrainerCallback):
        def on_log(self, args_, state, control, logs=None, **kwargs):
            if logs and "reward" in logs:
                logged.append({"step": state.global_step, **logs})

    out = Path(args.workdir) / f"trl-{args.seed}"
    config = GRPOConfig(
        output_dir=str(out),
        use_cpu=True,
        bf16=False,
        fp16=False,
        model_init_kwargs={"dtype": "float32"},
        seed=args.seed,
        max_steps=args.steps * per_rollout,
        per_device_train_batch_size=learner.mini_batch_size,
        gradient_accumulation_steps=1,
        steps_per_generation=per_rollout,
        num_generations=r.n,
        num_iterations=1,
        shuffle_dataset=False,  # rlpost's prompt order
        max_completion_length=r.max_new_tokens,
        temperature=r.temperature,
        top_p=r.top_p,
        learning_rate=learner.lr,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=learner.weight_decay,
        max_grad_norm=learner.grad_clip,
        beta=a.kl_coef,
        epsilon=a.clip_low,
        epsilon_high=a.clip_high,
        loss_type="dapo",
        scale_rewards="group",
        use_vllm=False,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    trainer = GRPOTrainer(
        model=args.model_dir, reward_funcs=[exact_answer_reward], args=config, train_dataset=Dataset.from_list(rows),
        callbacks=[Logs()],
    )  # fmt: skip
    trainer.train()
    trainer.save_model(str(out / "final"))
    trainer.processing_class.save_pretrained(str(out / "final"))
    by_step = {e["step"]: e["reward"] for e in logged}
    # one rollout batch = per_rollout optimizer steps; TRL logs the reward of each step's mini-batch
    rewards = [
        statistics.fmean(by_step[s] for s in range(i * per_rollout + 1, (i + 1) * per_rollout + 1) if s in by_step)
        for i in range(args.steps)
    ]
    return {"reward_mean": rewards, "model": str(out / "final")}


def run_side(args: argparse.Namespace) -> int:
    result: dict = {"side": args.side, "seed": args.seed, "ok": False}
    start = time.time()
    try:
        result.update(run_rlpost(args) if args.side == "rlpost" else run_trl(args))
        result["ok"] = len(result["reward_mean"]) == args.steps
    except Exception as e:  # a failure is a result to record
        traceback.print_exc()
        result["error"] = f"{type(e).__name__}: {' '.join(str(e).split())}"[:600]
    result["wall_s"] = time.time() - start
    write_result(args.result, result)
    return 0 if result["ok"] else 1


# ----- held-out evaluation and the report -----------------------------------------------------
def heldout(model: str, cfg, samples: int, engine: str) -> dict:
    from rlpost.data import load_env
    from rlpost.evaluation import evaluate

    env = load_env(cfg.stages[0].envs[0], "test")
    tokens = cfg.rollout.max_new_tokens
    res = next(iter(evaluate(model, [env], k=1, engine=engine, n=samples, max_new_tokens=tokens, seed=cfg.run.seed).values()))
    return {"greedy": res["greedy_accuracy"], "sampled": res["pass@1"], "n": res["n"]}


def tenth_gain(rewards: list[float]) -> tuple[float, float, float]:
    k = max(1, len(rewards) // 10)
    first, last = statistics.fmean(rewards[:k]), statistics.fmean(rewards[-k:])
    return first, last, last - first


def plot(results: list[dict], warm: dict, out: Path) -> None:
    from rlpost.plots import moving_average, pyplot, smoothing_window

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    colours = {"rlpost": "tab:blue", "trl": "tab:orange"}
    styles = ["-", "--", ":", "-."]
    for r in results:
        if not r.get("ok"):
            continue
        steps = list(range(1, len(r["reward_mean"]) + 1))
        style = styles[r["seed"] % len(styles)]
        ax.plot(steps, r["reward_mean"], color=colours[r["side"]], alpha=0.2, linewidth=0.7)
        window = smoothing_window(len(steps))
        label = f"{r['side']} seed {r['seed']} (moving average, {window} steps)"
        ax.plot(steps, moving_average(r["reward_mean"], window), style, color=colours[r["side"]], linewidth=1.8, label=label)
    ax.axhline(warm["sampled"], color="gray", linestyle=":", label=f"warm-up held-out sampled accuracy {warm['sampled']:.3f}")
    ax.set_xlabel("rollout batch (step)")
    ax.set_ylabel("mean reward (exact answer)")
    ax.set_title("rlpost vs TRL GRPOTrainer from the same warmed-up checkpoint")
    ax.legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)


def markdown(report: dict) -> str:
    lines = [
        "| side | seed | first-tenth reward | last-tenth reward | gain | held-out greedy | held-out sampled | wall s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    w = report["warm"]
    lines.append(f"| warm-up checkpoint | – | – | – | – | {w['greedy']:.3f} | {w['sampled']:.3f} | – |")
    for r in report["runs"]:
        if not r.get("ok"):
            lines.append(f"| {r['side']} | {r['seed']} | failed: {r.get('error', '?')[:100]} | | | | | |")
            continue
        h = r["heldout"]
        lines.append(
            f"| {r['side']} | {r['seed']} | {r['first']:.3f} | {r['last']:.3f} | {r['gain']:+.3f} "
            f"| {h['greedy']:.3f} | {h['sampled']:.3f} | {r['wall_s']:.0f} |"
        )
    lines.append("")
    for side, s in report["summary"].items():
        lines.append(
            f"- {side}: gain {s['gain_mean']:+.3f} (seeds {', '.join(f'{g:+.3f}' for g in s['gains'])}), "
            f"held-out greedy {s['greedy_mean']:.3f}, sampled {s['sampled_mean']:.3f}"
        )
    return "\n".join(lines)


def run_all(args: argparse.Namespace) -> int:
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    _, cfg = quickstart(Path(args.config), args.steps)
    use_env(cfg)
    model_dir = warm_model(args)
    print(f"warm-up checkpoint: {model_dir}", flush=True)
    runs = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        for side in args.sides.split(","):
            result_path = workdir / f"{side}-{seed}.json"
            log_path = workdir / f"{side}-{seed}.log"
            cmd = [sys.executable, str(Path(__file__).resolve()), "--side", side, "--seed", str(seed)]
            cmd += ["--model-dir", str(model_dir), "--workdir", str(workdir), "--result", str(result_path)]
            cmd += ["--steps", str(args.steps), "--config", args.config, "--threads", str(args.threads)]
            print(f"[{side} seed {seed}] running (log {log_path}) ...", flush=True)
            env = side_env("trl-hf" if side == "trl" else "rlpost", args.threads, 1.0)
            with log_path.open("w") as log:
                rc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
            result = json.loads(result_path.read_text()) if result_path.exists() else {"side": side, "seed": seed, "ok": False}
            if not result.get("ok"):
                result.setdefault("error", f"exited with code {rc}")
                print(f"[{side} seed {seed}] FAILED: {result['error']}", flush=True)
            else:
                result["first"], result["last"], result["gain"] = tenth_gain(result["reward_mean"])
                print(f"[{side} seed {seed}] reward {result['first']:.3f} -> {result['last']:.3f} in {result['wall_s']:.0f}s")
            runs.append(result)
    warm = heldout(str(model_dir), cfg, args.samples, args.eval_engine)
    for r in runs:
        if r.get("ok"):
            r["heldout"] = heldout(r["model"], cfg, args.samples, args.eval_engine)
            print(f"[{r['side']} seed {r['seed']}] held-out {r['heldout']}", flush=True)
    summary = {}
    for side in args.sides.split(","):
        ok = [r for r in runs if r["side"] == side and r.get("ok")]
        if ok:
            summary[side] = {
                "gains": [r["gain"] for r in ok],
                "gain_mean": statistics.fmean(r["gain"] for r in ok),
                "greedy_mean": statistics.fmean(r["heldout"]["greedy"] for r in ok),
                "sampled_mean": statistics.fmean(r["heldout"]["sampled"] for r in ok),
            }
    report = {
        "benchmark": "learning_parity",
        "command": f".venv/bin/python benchmarks/learning_parity.py --steps {args.steps} --seeds {args.seeds}",
        "eval_engine": args.eval_engine,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {"cpus": os.cpu_count(), "threads": args.threads},
        "config": args.config,
        "env": {"name": cfg.stages[0].envs[0].name, "params": env_params(cfg)},
        "warm": warm,
        "runs": runs,
        "summary": summary,
    }
    report["markdown"] = markdown(report)
    plot(runs, warm, DOCS / "learning_parity.png")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "learning_parity.json").write_text(json.dumps(report, indent=1) + "\n")
    print("\n" + report["markdown"])
    return 0 if all(r.get("ok") for r in runs) else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=str(CONFIG), help="the quickstart config: model, warm-up, task, RL settings")
    p.add_argument("--steps", type=int, default=150, help="rollout batches per side")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--sides", default=",".join(SIDES))
    p.add_argument("--samples", type=int, default=8, help="samples per held-out problem for the sampled accuracy")
    p.add_argument("--eval-engine", choices=("hf", "vllm"), default="hf", help="engine of the held-out evaluation")
    p.add_argument("--threads", type=int, default=2, help="torch / OMP threads of the TRL side and the engines")
    p.add_argument("--workdir", default="/tmp/learning_parity")
    p.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--model-dir", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_side(args) if args.side else run_all(args)


if __name__ == "__main__":
    sys.exit(main())
