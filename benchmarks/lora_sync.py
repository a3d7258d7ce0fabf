"""LoRA weight sync to vLLM, both ways, on the 50M model: merged weights reloaded in place (what rlpost
does) versus the adapter as a vLLM LoRA request (a new adapter id per policy version).

    .venv/bin/python benchmarks/lora_sync.py --rank 16 --syncs 5

Per way: bytes moved per sync, seconds per sync (merged: W + ΔW for every adapted layer, then vLLM's
in-place reload; adapter: PEFT's save of the adapter, then vLLM loading it with the first request
that names it), and generation tokens/s afterwards (64 prompts x 32 new tokens, greedy), since an
engine serving LoRA requests runs the adapter in every forward. Each way runs in its own process
(its own engine); 2 threads each. Writes benchmarks/results/lora_sync.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vs_trl import MODELS

ROOT = Path(__file__).resolve().parents[1]
PROMPTS, NEW_TOKENS = 64, 32


def adapted_model(model_dir: Path, rank: int, version: int):
    """The 50M policy with rank-`rank` adapters whose B is drawn for `version` (as if trained)."""
    import torch
    from transformers import AutoModelForCausalLM

    from rlpost.learner.lora import LoraSpec, wrap

    model = wrap(AutoModelForCausalLM.from_pretrained(model_dir), LoraSpec(rank, 2.0 * rank))
    torch.manual_seed(version)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(std=0.01)
    return model


def generation_tokens_per_s(generate) -> float:
    start = time.perf_counter()
    outs = generate()
    tokens = sum(len(c.token_ids) for out in outs for c in out.outputs)
    return tokens / (time.perf_counter() - start)


def child(way: str, model_dir: Path, rank: int, syncs: int) -> dict:
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt
    from vllm.lora.request import LoRARequest

    from rlpost.learner.lora import adapter_bytes, merged_state_dict

    lora = way == "adapter"
    llm = LLM(model=str(model_dir), dtype="float32", enforce_eager=True, max_model_len=256, seed=0,
              enable_lora=lora, max_lora_rank=max(16, rank), max_loras=1)  # fmt: skip
    prompts = [TokensPrompt(prompt_token_ids=[5 + i % 40, 7, 9 + i % 13]) for i in range(PROMPTS)]
    params = SamplingParams(max_tokens=NEW_TOKENS, min_tokens=NEW_TOKENS, temperature=0, detokenize=False)
    seconds, nbytes = [], 0
    request = None
    workdir = Path(tempfile.mkdtemp(prefix="lora-sync-"))
    for version in range(1, syncs + 1):
        model = adapted_model(model_dir, rank, version)
        start = time.perf_counter()
        if lora:
            path = workdir / f"v{version}"
            model.save_pretrained(path)
            request = LoRARequest(f"v{version}", version, str(path))
            llm.generate(prompts[:1], SamplingParams(max_tokens=1), lora_request=request, use_tqdm=False)
            nbytes = sum(f.stat().st_size for f in path.iterdir())
        else:
            state = merged_state_dict(model)
            worker = llm.llm_engine.model_executor.driver_worker.worker
            worker.reload_weights(weights_iterator=list(state.items()))
            llm.reset_prefix_cache()
            nbytes = sum(t.numel() * t.element_size() for t in state.values())
        seconds.append(time.perf_counter() - start)
    tokens_per_s = statistics.median(
        generation_tokens_per_s(lambda: llm.generate(prompts, params, lora_request=request, use_tqdm=False)) for _ in range(3)
    )
    return {"bytes_per_sync": nbytes, "adapter_bytes": adapter_bytes(model), "sync_s": statistics.median(seconds[1:]),
            "first_sync_s": seconds[0], "generation_tokens_per_s": tokens_per_s}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--syncs", type=int, default=5)
    p.add_argument("--child", choices=("merged", "adapter"), help=argparse.SUPPRESS)
    p.add_argument("--model-dir", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(args.child, Path(args.model_dir), args.rank, args.syncs)), flush=True)
        return
    from rlpost.rollout.vllm_engine import vllm_env
    from rlpost.tinymodel import TinySpec, build_tiny_model

    model_dir = build_tiny_model(Path(tempfile.mkdtemp(prefix="lora-50m-")) / "model", TinySpec(**MODELS["50m"]))
    results = {}
    for way in ("merged", "adapter"):
        print(f"[{way}] {args.syncs} syncs, rank {args.rank} ...", flush=True)
        env = {**os.environ, **vllm_env(2, 1.0)}
        cmd = [sys.executable, __file__, "--child", way, "--model-dir", str(model_dir), "--rank", str(args.rank),
               "--syncs", str(args.syncs)]  # fmt: skip
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT / "benchmarks")
        line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            raise SystemExit(f"[{way}] failed:\n{out.stderr[-3000:]}")
        results[way] = json.loads(line[len("RESULT ") :])
        r = results[way]
        print(f"[{way}] {r['bytes_per_sync'] / 2**20:.1f} MiB, {r['sync_s'] * 1000:.0f} ms per sync, "
              f"generation {r['generation_tokens_per_s']:.0f} tokens/s", flush=True)  # fmt: skip
    out = ROOT / "benchmarks" / "results" / "lora_sync.json"
    out.write_text(json.dumps({"args": {"rank": args.rank, "syncs": args.syncs}, "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
