"""Supervised fine-tuning on (prompt, completion) pairs with TRL's SFTTrainer: the tiny model's
warm-up and the stages of the continual SFT baseline.

The run goes in a fresh Python process with a pinned numeric environment (`PINNED_ENV`), so its
weights are the same bits on any x86 machine with AVX2 and any core count: torch picks its CPU
kernels by the vector ISA it finds (measured here: the same warm-up on AVX-512 and on AVX2 kernels
gives different weights, and a caller's process has chosen its kernels before it gets here), while
the thread count does not change the weights (1, 2, 3 and 8 threads measured bit-identical;
tests/unit/test_warmup_determinism.py). One thread also keeps the warm-up's speed independent of the
cores: on 2 busy cores two OpenMP threads spin-waited and ran 15x slower than one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

LogFn = Callable[[int, dict[str, float]], None]  # (optimizer step, {"sft/loss": ..., ...})

SFT_THREADS = 1
PINNED_ENV = {
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's own CPU kernels (else AVX-512 where the CPU has it)
    "MKL_CBWR": "AVX2",  # MKL's conditional numerical reproducibility: the AVX2 code path everywhere
}  # not ONEDNN_MAX_CPU_ISA=AVX2: it made this warm-up 4x slower (measured)
_LOG_PREFIX = "rlpost-sft-log "


@dataclass(frozen=True)
class SFTSettings:
    steps: int  # optimizer steps
    batch_size: int
    lr: float
    seed: int = 0


def sft_train(
    model_dir: str | Path, pairs: list[tuple[str, str]], settings: SFTSettings, out_dir: Path, log: LogFn | None = None
) -> Path:
    """Train the model in `model_dir` on `pairs` with the loss on completions only (cosine schedule,
    5 % warm-up) and save it with its tokenizer to `out_dir`. The completion gets the tokenizer's EOS so
    the model learns to stop; `log` receives the loss every tenth of the run. Runs in a child process
    with `PINNED_ENV` and `SFT_THREADS` threads; its output passes through and its failure raises."""
    out_dir = Path(out_dir)
    env = {**os.environ, **PINNED_ENV, "OMP_NUM_THREADS": str(SFT_THREADS), "MKL_NUM_THREADS": str(SFT_THREADS)}
    root = str(Path(__file__).resolve().parents[1])  # this checkout's rlpost, first
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory(prefix="rlpost-sft-") as tmp:
        job = Path(tmp) / "job.json"
        job.write_text(json.dumps({"model_dir": str(model_dir), "pairs": pairs, "settings": asdict(settings),
                                   "out_dir": str(out_dir), "threads": SFT_THREADS}))  # fmt: skip
        proc = subprocess.Popen(
            [sys.executable, "-m", "rlpost.sft_train", str(job)], env=env, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(_LOG_PREFIX):
                step, values = json.loads(line[len(_LOG_PREFIX) :])
                if log is not None:
                    log(step, values)
            else:
                sys.stdout.write(line)
        if proc.wait() != 0:
            raise RuntimeError(f"supervised training of {model_dir} failed (exit code {proc.returncode}); its output is above")
    return out_dir


def _train(model_dir: str, pairs: list[tuple[str, str]], settings: SFTSettings, out_dir: Path, threads: int) -> Path:
    """The training itself, in this process."""
    import datasets
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    torch.set_num_threads(threads)

    class Forward(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                values = {"sft/loss": float(logs["loss"]), "sft/lr": float(logs.get("learning_rate", 0.0))}
                print(_LOG_PREFIX + json.dumps([state.global_step, values]), flush=True)

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    data = datasets.Dataset.from_list([{"prompt": p, "completion": c} for p, c in pairs])
    args = SFTConfig(
        output_dir=str(out_dir / "trainer"),
        max_steps=settings.steps,
        per_device_train_batch_size=settings.batch_size,
        learning_rate=settings.lr,
        lr_scheduler_type="cosine",
        warmup_steps=max(1, settings.steps // 20),
        weight_decay=0.0,
        logging_steps=max(1, settings.steps // 10),
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        seed=settings.seed,
        completion_only_loss=True,
        dataloader_num_workers=0,
        disable_tqdm=False,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer, callbacks=[Forward()])
    trainer.train()
    out_dir.mkdir(parents=True, exist_ok=True)
    trainer.model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def _main(job_path: str) -> int:
    job = json.loads(Path(job_path).read_text())
    pairs = [tuple(p) for p in job["pairs"]]
    _train(job["model_dir"], pairs, SFTSettings(**job["settings"]), Path(job["out_dir"]), job["threads"])
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1]))
