"""GPU smoke run of the learner side without Ray or vLLM: a Qwen2-0.5B-shaped random-init model, a few
GRPO steps with the DeepSpeed policy learner, the reference model and the transformers engine all in
this process on one device, the same classes the Ray actors wrap.

    launch/gpu_smoke.sh                                        # one CUDA GPU, bf16 (see the wrapper)
    python benchmarks/gpu_smoke.py --device cpu --shape tiny   # the CPU dry run CI takes

Per step: generation (the HF engine, `n` samples per prompt), reference logprobs, the learner's
optimizer step (old logprobs taken in the step: one update per batch), then the weight sync into the
engine (the learner's full state dict loaded in place; in-process, so no transport). At the end the
engine's weights are compared with the learner's and the learner's with the starting ones. Printed and
written as JSON (`--out`): learner tokens/s (prompt + response tokens through forward + backward),
MFU (6 x parameters x tokens / time / the device's peak dense bf16 FLOP/s, `--peak-tflops`),
generation tokens/s (new tokens), weight sync seconds and peak device memory; means over the steps
after the first (warm-up), which is reported apart.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHAPES = {
    # Qwen2-0.5B: 494M parameters, 136M of them the tied embedding
    "qwen2-0.5b": {"vocab_size": 151936, "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
                   "num_attention_heads": 14, "num_key_value_heads": 2, "max_position_embeddings": 4096},
    "tiny": {"vocab_size": 128, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 256},
}  # fmt: skip
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0}  # dense bf16


def build_model(out: Path, shape: dict, dtype: str) -> Path:
    """A random-init Qwen2 of `shape` with the character tokenizer (ids beyond it decode to nothing)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from rlpost.tinymodel import build_tokenizer

    tok = build_tokenizer()
    config = Qwen2Config(**shape, tie_word_embeddings=True, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                         bos_token_id=tok.eos_token_id)  # fmt: skip
    torch.manual_seed(0)
    Qwen2ForCausalLM(config).to(getattr(torch, dtype)).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def experiment(model: Path, args) -> dict:
    return {
        "model": {"path": str(model), "dtype": args.dtype},
        "rollout": {"engine": "hf", "prompts_per_step": args.prompts, "n": args.n, "max_new_tokens": args.new_tokens},
        "algorithm": {"name": "grpo", "kl_coef": 0.001},
        "learner": {"lr": 1e-5, "micro_batch_size": args.micro_batch, "zero_stage": args.zero_stage,
                    "gradient_checkpointing": args.device != "cpu"},
        "stages": [{"steps": args.steps, "envs": [{"name": "arithmetic"}]}],
    }  # fmt: skip


def batch_of(prompts: list[list[int]], groups, pad_id: int):
    """A RolloutBatch of the completions, rewarded by the share of even token ids (so groups vary)."""
    import torch

    from rlpost.batch import RolloutBatch, pad_sequences, scatter_response_values

    rows = [(j, p, c) for j, (p, group) in enumerate(zip(prompts, groups)) for c in group]
    ids, attention, response = pad_sequences([p for _, p, _ in rows], [c.token_ids for _, _, c in rows], pad_id)
    batch = RolloutBatch(
        input_ids=ids, attention_mask=attention, response_mask=response,
        rollout_logprobs=scatter_response_values([c.logprobs for *_, c in rows], [len(p) for _, p, _ in rows], ids.shape[1]),
        group_ids=torch.tensor([j for j, _, _ in rows]), prompts=[""] * len(rows), responses=[c.text for *_, c in rows],
        envs=["smoke"] * len(rows), references=[{}] * len(rows), truncated=torch.tensor([c.truncated for *_, c in rows]),
    )  # fmt: skip
    batch.rewards = torch.tensor([sum(t % 2 == 0 for t in c.token_ids) / max(1, len(c.token_ids)) for *_, c in rows])
    return batch


def run(args) -> dict:
    import torch

    from rlpost.cluster.launch import learner_spec
    from rlpost.config import build_config
    from rlpost.learner.distributed import free_port
    from rlpost.learner.policy import PolicyLearner, ReferenceModel
    from rlpost.rollout import SamplingSpec
    from rlpost.rollout.hf_engine import HFEngine
    from rlpost.trainer.settings import StageAlgorithm

    cuda = args.device.startswith("cuda")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        model = build_model(Path(tmp) / "model", SHAPES[args.shape], args.dtype)
        cfg = build_config(experiment(model, args))
        algo = StageAlgorithm.for_stage(cfg, 0)
        spec = learner_spec(cfg, str(model), cfg.learner.lr, cfg.learner.micro_batch_size)
        learner = PolicyLearner(spec, algo.params, 0, "127.0.0.1", free_port())
        reference = ReferenceModel(str(model), args.dtype, args.micro_batch, 1.0, None, None, args.device)
        engine = HFEngine(str(model), args.dtype, seed=0, device=args.device)
        params = sum(p.numel() for p in reference.model.parameters())
        setup_s = time.perf_counter() - started
        generator = torch.Generator().manual_seed(0)
        sampling = SamplingSpec(n=args.n, max_new_tokens=args.new_tokens, temperature=1.0, seed=0)
        steps = []
        for _ in range(args.steps):
            prompts = torch.randint(5, 100, (args.prompts, args.prompt_len), generator=generator).tolist()
            step = {}
            sync(cuda)
            start = time.perf_counter()
            groups = engine.generate(prompts, sampling)
            sync(cuda)
            step["generate_s"] = time.perf_counter() - start
            batch = batch_of(prompts, groups, engine.tokenizer.pad_token_id)
            step["new_tokens"] = int(batch.response_mask.sum())
            start = time.perf_counter()
            batch.ref_logprobs = reference.compute_logprobs(batch)
            step["reference_s"] = time.perf_counter() - start
            batch.advantages = algo.algorithm.advantages(batch, algo.params).advantages
            start = time.perf_counter()
            stats = learner.train(batch)
            sync(cuda)
            step["train_s"] = time.perf_counter() - start
            step["train_tokens"] = int(batch.attention_mask.sum())
            step["pg_loss"] = stats["pg_loss"]
            start = time.perf_counter()
            engine.update_weights(learner.full_state_dict(copy=False, on_cpu=False))
            sync(cuda)
            step["weight_sync_s"] = time.perf_counter() - start
            steps.append(step)
        trained = learner.full_state_dict(on_cpu=False)
        engine_state, initial = engine.model.state_dict(), reference.model.state_dict()
        engine_gap = max(float((engine_state[k] - v).abs().max()) for k, v in trained.items())
        change = max(float((initial[k] - v).abs().max()) for k, v in trained.items())
    later = steps[1:] or steps
    mean = {k: sum(s[k] for s in later) / len(later) for k in later[0]}
    peak = PEAK_TFLOPS.get(next((k for k in PEAK_TFLOPS if cuda and k in torch.cuda.get_device_name()), ""), args.peak_tflops)
    learner_tps = mean["train_tokens"] / mean["train_s"]
    return {
        "device": torch.cuda.get_device_name() if cuda else "cpu", "shape": args.shape, "dtype": args.dtype,
        "params": params, "setup_s": round(setup_s, 2), "first_step": steps[0],
        "learner_tokens_per_s": round(learner_tps, 1),
        "mfu": round(6 * params * learner_tps / (peak * 1e12), 4) if peak else None,
        "generation_tokens_per_s": round(mean["new_tokens"] / mean["generate_s"], 1),
        "reference_s": round(mean["reference_s"], 3), "weight_sync_s": round(mean["weight_sync_s"], 3),
        "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
        "steps": len(steps), "finite_loss": all(abs(s["pg_loss"]) < float("inf") for s in steps),
        "engine_vs_learner_max_abs": engine_gap, "weights_moved_max_abs": change,
        "total_s": round(time.perf_counter() - started, 1),
    }  # fmt: skip


def sync(cuda: bool) -> None:
    if cuda:
        import torch

        torch.cuda.synchronize()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="qwen2-0.5b")
    parser.add_argument("--dtype", default=None, help="default: bfloat16 on cuda, float32 on cpu")
    parser.add_argument("--steps", type=int, default=4)
    # the HF engine generates prompt by prompt (n samples each): 8 prompts x 96 tokens keep a step near 15 s
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--prompt-len", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=96)
    parser.add_argument("--micro-batch", type=int, default=8)
    parser.add_argument("--zero-stage", type=int, default=2)
    parser.add_argument("--peak-tflops", type=float, default=0.0, help="peak dense FLOP/s of an unlisted device (TFLOP/s)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    args.dtype = args.dtype or ("bfloat16" if args.device.startswith("cuda") else "float32")
    os.environ.setdefault("DS_ACCELERATOR", "cuda" if args.device.startswith("cuda") else "cpu")
    result = run(args)
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
