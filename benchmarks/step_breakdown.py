"""Per-phase time of a GRPO step through the real stack, on the tiny and a ~50M-parameter model.

    .venv/bin/python benchmarks/step_breakdown.py --model tiny --steps 8
    .venv/bin/python benchmarks/step_breakdown.py --model 50m --steps 6

Prints a table of mean seconds per phase (first step excluded: it includes warm-up), the
orchestration overhead (step minus the sum of the phases) and each phase's share of the step,
and writes it to benchmarks/results/step_breakdown_<model>.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

SHAPES = {
    "tiny": {},
    "50m": {"hidden_size": 512, "num_layers": 12, "num_heads": 8, "num_kv_heads": 4, "intermediate_size": 2048},
}
PHASES = ["rollout", "reward", "ref", "old_logprobs", "train", "weight_sync", "overhead"]


def experiment(model: str, steps: int, prompts: int, n: int, max_new_tokens: int, run_dir: str) -> dict:
    batch = prompts * n
    return {
        "run": {"name": f"breakdown-{model}", "dir": run_dir, "seed": 0},
        "model": {"path": "tiny", "tiny": SHAPES[model]},
        "rollout": {"prompts_per_step": prompts, "n": n, "max_new_tokens": max_new_tokens},
        "algorithm": {"name": "grpo", "kl_coef": 0.001},
        "learner": {"lr": 1e-5, "mini_batch_size": batch, "micro_batch_size": min(batch, 32)},
        "stages": [{"name": "bench", "steps": steps, "envs": [{"name": "arithmetic", "params": {"digits": 2}}]}],
        "logging": {"console": False, "samples_per_step": 0},
    }


def summarize(metrics: list[dict]) -> dict:
    rows = metrics[1:] if len(metrics) > 1 else metrics
    step = statistics.mean(m["time/step_s"] for m in rows)
    out = {
        "step_s": step,
        "steps_measured": len(rows),
        "response_length_mean": statistics.mean(m["response_length/mean"] for m in rows),
    }
    for phase in PHASES:
        key = f"time/{phase}_s"
        if key in rows[0]:
            value = statistics.mean(m[key] for m in rows)
            out[f"{phase}_s"] = value
            out[f"{phase}_share"] = value / step
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(SHAPES), default="tiny")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    args = parser.parse_args()

    from rlpost.config import build_config
    from rlpost.trainer import Trainer

    with tempfile.TemporaryDirectory() as tmp:
        cfg = build_config(experiment(args.model, args.steps, args.prompts, args.n, args.max_new_tokens, f"{tmp}/run"))
        trainer = Trainer(cfg)
        run_dir = trainer.run()
        metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        from transformers import AutoConfig, AutoModelForCausalLM

        params = sum(
            p.numel() for p in AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(run_dir / "base_model")).parameters()
        )
    result = {"model": args.model, "parameters": params, "workload": vars(args), **summarize(metrics)}
    print(f"\n{args.model}: {params / 1e6:.1f}M parameters, {args.prompts}x{args.n} samples, <= {args.max_new_tokens} tokens")
    print("| phase | seconds | share of step |\n|---|---|---|")
    for phase in PHASES:
        if f"{phase}_s" in result:
            print(f"| {phase} | {result[f'{phase}_s']:.3f} | {result[f'{phase}_share']:.1%} |")
    print(f"| **step** | {result['step_s']:.3f} | 100% |")
    out = Path(__file__).parent / "results" / f"step_breakdown_{args.model}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
