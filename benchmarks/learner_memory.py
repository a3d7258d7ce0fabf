"""Peak memory and throughput of the learner's log-probability forward + backward, by vocabulary and length.

.venv/bin/python benchmarks/learner_memory.py --vocab 32768,151936 --length 256,1024 --batch 2 --threads 2

Each case runs in a fresh process (so its peak resident memory is its own) on a small random Qwen2 (the
backbone is tiny: the output head and its logits are what grows with the vocabulary):
  full      rlpost with the full float32 logits [B, T, V] (`learner.logprob_chunk: 0`)
  chunked   rlpost's chunked head (`AUTO_CHUNK` tokens, the default from a 32k vocabulary)
  trl       TRL's way: the model's logits, then `trl.trainer.utils.selective_log_softmax` (what
            GRPOTrainer calls for its per-token logprobs)
Peak = the process's maximum RSS during 3 forward + backward passes minus its RSS before them (MB);
tokens/s over those passes. Results go to benchmarks/results/learner_memory.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "learner_memory.json"
MODES = ("full", "chunked", "trl")


def one_case(mode: str, vocab: int, length: int, batch: int, threads: int) -> dict:
    """Runs in its own process: build the model, then measure the passes."""
    import resource

    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from rlpost.learner.logprobs import AUTO_CHUNK, model_logprobs

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=length + 8, tie_word_embeddings=True,
    )  # fmt: skip
    model = Qwen2ForCausalLM(config)
    ids = torch.randint(0, vocab, (batch, length))
    mask = torch.ones_like(ids)

    from trl.trainer.utils import selective_log_softmax  # imported by every mode, before the baseline

    def loss() -> torch.Tensor:
        if mode == "trl":
            logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits[:, :-1]
            return selective_log_softmax(logits / 1.0, ids[:, 1:]).sum()
        return model_logprobs(model, ids, mask, 1.0, AUTO_CHUNK if mode == "chunked" else 0)[0].sum()

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    for _ in range(3):
        model.zero_grad(set_to_none=True)
        loss().backward()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"mode": mode, "vocab": vocab, "length": length, "batch": batch, "peak_mb": round(peak - before, 1),
            "tokens_per_s": round(3 * batch * length / seconds, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vocab", default="32768,151936")
    parser.add_argument("--length", default="256,1024")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--case", help=argparse.SUPPRESS)  # mode:vocab:length, run by the parent
    args = parser.parse_args()
    if args.case:
        mode, vocab, length = args.case.split(":")
        print(json.dumps(one_case(mode, int(vocab), int(length), args.batch, args.threads)))
        return
    rows = []
    for vocab in map(int, args.vocab.split(",")):
        for length in map(int, args.length.split(",")):
            for mode in MODES:
                cmd = [sys.executable, __file__, "--case", f"{mode}:{vocab}:{length}", "--batch", str(args.batch),
                       "--threads", str(args.threads)]  # fmt: skip
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
                rows.append(json.loads(out))
                print(rows[-1], flush=True)
    table = ["| vocab | response tokens | mode | peak MB | tokens/s |", "|---|---|---|---|---|"]
    table += [f"| {r['vocab']} | {r['length']} | {r['mode']} | {r['peak_mb']} | {r['tokens_per_s']} |" for r in rows]
    command = " ".join(["benchmarks/learner_memory.py", *sys.argv[1:]])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"command": command, "rows": rows, "markdown": "\n".join(table)}, indent=2) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    main()
