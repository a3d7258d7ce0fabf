"""One whole learner step, rlpost's DeepSpeed policy learner beside TRL's GRPOTrainer: the same model, batch
of mixed response lengths and micro-batch, peak memory and tokens per second, with each of rlpost's memory
settings switched on in turn.

    .venv/bin/python benchmarks/learner_step.py --vocab 151936 --length 1024 --rows 8 --micro 2 --threads 2

The model is a small random Qwen2 (hidden 64, 2 layers, tied head: what grows with the vocabulary is the
head and its logits). The batch: `--rows` responses to 32-token prompts, their lengths spread evenly from
`length / rows` to `length`, in two groups (random rewards, group-normalised advantages), GRPO with one
optimizer step per batch, KL 0, float32. A step is every micro-batch's forward + backward and the
optimizer step. Sides, each in a fresh process:

  before     rlpost with the full float32 logits (`learner.logprob_chunk: 0`), `--micro` rows per micro-batch
  chunked    + the head over chunks of response tokens (the default)
  chunked+gc + gradient checkpointing
  budget     + micro-batches packed to a token budget (`learner.micro_token_budget`: `--micro` x `length`)
  trl        TRL GRPOTrainer's loss (`compute_loss`) and backward per micro-batch of `--micro` rows (the completions padded to the
             batch's longest, as its generation step leaves them), then its optimizer step
  trl+gc     the same with TRL's gradient checkpointing

Both sides compute the entropy (TRL's loss always does). Peak = the highest resident memory sampled every
2 ms during steps 2 and 3, minus the resident memory before step 2 (step 1 allocates the optimizer state);
tokens/s = prompt + response tokens of steps 2 and 3 over their seconds. Results:
benchmarks/results/learner_step.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "learner_step.json"
PROMPT_LEN = 32
RLPOST = {
    "before": {"logprob_chunk": 0},
    "chunked": {},
    "chunked+gc": {"gradient_checkpointing": True},
    "budget": {"gradient_checkpointing": True, "micro_token_budget": "budget"},
}
TRL = {"trl": False, "trl+gc": True}
SIDES = (*RLPOST, *TRL)


class PeakRSS:
    """The highest resident set size (MB) seen by a thread sampling /proc/self/statm while inside the block."""

    def __init__(self, every_s: float = 0.002):
        self.every_s, self.peak, self._stop = every_s, 0.0, threading.Event()

    @staticmethod
    def now() -> float:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.now())
            time.sleep(self.every_s)

    def __enter__(self) -> PeakRSS:
        self.peak = self.now()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.now())


def build_model(out: Path, vocab: int, length: int) -> Path:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from rlpost.tinymodel import build_tokenizer

    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=PROMPT_LEN + length + 8, tie_word_embeddings=True,
    )  # fmt: skip
    Qwen2ForCausalLM(config).save_pretrained(out)
    build_tokenizer().save_pretrained(out)
    return out


def rows_of(vocab: int, length: int, rows: int):
    """Prompts, responses (lengths length/rows ... length), random rewards [B], group ids [B] (two groups) and
    their GRPO advantages [B]."""
    import torch

    from rlpost.algorithms.advantages import group_normalized_advantages

    gen = torch.Generator().manual_seed(1)
    prompts = torch.randint(5, vocab, (rows, PROMPT_LEN), generator=gen).tolist()
    lengths = [length * (i + 1) // rows for i in range(rows)]
    responses = [torch.randint(5, vocab, (n,), generator=gen).tolist() for n in lengths]
    rewards = torch.rand(rows, generator=gen)
    groups = torch.tensor([i * 2 // rows for i in range(rows)])
    advantages = group_normalized_advantages(rewards, groups, torch.ones(rows, 1))[:, 0]
    return prompts, responses, rewards, groups, advantages


def rlpost_side(side: str, model: Path, args) -> tuple[Callable[[], object], int]:
    """A step function over the batch and the tokens it trains on."""
    import torch

    from rlpost.batch import RolloutBatch, pad_sequences, scatter_response_values
    from rlpost.cluster.launch import learner_spec
    from rlpost.config import build_config
    from rlpost.learner.distributed import free_port
    from rlpost.learner.policy import PolicyLearner
    from rlpost.trainer.settings import StageAlgorithm

    learner = {"lr": 1e-5, "micro_batch_size": args.micro, "mini_batch_size": args.rows, "zero_stage": 0,
               "threads": args.threads}  # fmt: skip
    learner.update({k: (args.micro * args.length if v == "budget" else v) for k, v in RLPOST[side].items()})
    cfg = build_config({
        "model": {"path": str(model)},
        "rollout": {"engine": "hf", "prompts_per_step": 2, "n": args.rows // 2, "max_new_tokens": args.length},
        "algorithm": {"name": "grpo", "kl_coef": 0.0},
        "learner": learner,
        "stages": [{"steps": 3, "envs": [{"name": "arithmetic"}]}],
    })  # fmt: skip
    algo = StageAlgorithm.for_stage(cfg, 0)
    policy = PolicyLearner(learner_spec(cfg, str(model), 1e-5, args.micro), algo.params, 0, "127.0.0.1", free_port())
    prompts, responses, rewards, groups, advantages = rows_of(args.vocab, args.length, args.rows)
    ids, attention, response = pad_sequences(prompts, responses, 0)
    batch = RolloutBatch(
        input_ids=ids, attention_mask=attention, response_mask=response,
        rollout_logprobs=scatter_response_values([[0.0] * len(r) for r in responses], [PROMPT_LEN] * args.rows, ids.shape[1]),
        group_ids=groups, prompts=[""] * args.rows,
        responses=[""] * args.rows, envs=["bench"] * args.rows, references=[{}] * args.rows,
        truncated=torch.zeros(args.rows, dtype=torch.bool),
    )  # fmt: skip
    batch.rewards, batch.advantages = rewards, advantages[:, None] * response
    return (lambda: policy.train(batch)), int(attention.sum())


def trl_side(side: str, model: Path, args) -> tuple[Callable[[], object], int]:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    net = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
    config = GRPOConfig(
        output_dir=tempfile.mkdtemp(), use_cpu=True, bf16=False, fp16=False, gradient_checkpointing=TRL[side],
        per_device_train_batch_size=args.micro, gradient_accumulation_steps=args.rows // args.micro,
        num_generations=args.rows // 2, max_completion_length=args.length, learning_rate=1e-5, beta=0.0,
        lr_scheduler_type="constant", weight_decay=0.0, max_grad_norm=1.0, report_to=[], seed=0,
    )  # fmt: skip
    trainer = GRPOTrainer(
        model=net, reward_funcs=lambda completions, **kw: [0.0] * len(completions), args=config,
        train_dataset=Dataset.from_dict({"prompt": ["x"] * args.rows}), processing_class=AutoTokenizer.from_pretrained(model),
    )  # fmt: skip
    trainer.create_optimizer_and_scheduler(num_training_steps=3)
    prompts, responses, _, _, advantages = rows_of(args.vocab, args.length, args.rows)
    width = max(len(r) for r in responses)
    completion = torch.tensor([r + [0] * (width - len(r)) for r in responses])
    completion_mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in responses])
    prompt_mask = torch.ones(args.micro, PROMPT_LEN, dtype=torch.long)
    micros = [
        {"prompt_ids": torch.tensor(prompts[i : i + args.micro]), "prompt_mask": prompt_mask,
         "completion_ids": completion[i : i + args.micro], "completion_mask": completion_mask[i : i + args.micro],
         "advantages": advantages[i : i + args.micro], "old_per_token_logps": None,
         "num_items_in_batch": completion_mask.sum()}
        for i in range(0, args.rows, args.micro)
    ]  # fmt: skip
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = len(micros)  # set by Trainer's own loop

    def step() -> None:
        for inputs in micros:
            # Trainer.training_step after GRPOTrainer._prepare_inputs (which would generate): loss, backward
            trainer.accelerator.backward(trainer.compute_loss(trainer.model, inputs))
        trainer.accelerator.clip_grad_norm_(trainer.model.parameters(), 1.0)
        trainer.optimizer.step()
        trainer.optimizer.zero_grad(set_to_none=True)

    return step, int(completion_mask.sum()) + args.rows * PROMPT_LEN


def one_side(side: str, args) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        model = build_model(Path(tmp) / "model", args.vocab, args.length)
        step, tokens = (trl_side if side in TRL else rlpost_side)(side, model, args)
        step()  # the optimizer state is allocated here
        before = PeakRSS.now()
        start = time.perf_counter()
        with PeakRSS() as rss:
            step()
            step()
        seconds = time.perf_counter() - start
    return {"side": side, "vocab": args.vocab, "length": args.length, "rows": args.rows, "micro": args.micro,
            "peak_mb": round(rss.peak - before, 1), "resident_mb": round(rss.peak, 1), "step_s": round(seconds / 2, 2),
            "tokens_per_s": round(2 * tokens / seconds, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vocab", type=int, default=151936)
    parser.add_argument("--length", type=int, default=1024, help="the longest response, tokens")
    parser.add_argument("--rows", type=int, default=8, help="responses per batch (two groups)")
    parser.add_argument("--micro", type=int, default=2, help="rows per micro-batch")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sides", default=",".join(SIDES))
    parser.add_argument("--side", help=argparse.SUPPRESS)  # run by the parent, in a fresh process
    args = parser.parse_args()
    if args.side:
        print(json.dumps(one_side(args.side, args)))
        return
    rows = []
    for side in args.sides.split(","):
        cmd = [sys.executable, __file__, *sys.argv[1:], "--side", side]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(f"side {side} failed:\n{out.stderr[-3000:]}")
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    table = ["| side | step peak MB | resident MB | s/step | tokens/s |", "|---|---|---|---|---|"]
    table += [f"| {r['side']} | {r['peak_mb']:.0f} | {r['resident_mb']:.0f} | {r['step_s']} | {r['tokens_per_s']:.0f} |"
              for r in rows]  # fmt: skip
    command = " ".join([".venv/bin/python", "benchmarks/learner_step.py", *sys.argv[1:]])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"command": command, "rows": rows, "markdown": "\n".join(table)}, indent=2) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    main()
