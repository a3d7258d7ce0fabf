"""Supervised fine-tuning on (prompt, completion) pairs with TRL's SFTTrainer: the tiny model's
warm-up and the stages of the continual SFT baseline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

LogFn = Callable[[int, dict[str, float]], None]  # (optimizer step, {"sft/loss": ..., ...})

# Torch threads of the supervised run, whatever the machine's core count. The weights do not depend on
# the thread count (tests/unit/test_warmup_determinism.py checks 1 vs 3 threads bit for bit); one thread
# makes the warm-up's speed independent of the cores too: on 2 busy cores two OpenMP threads spin-wait
# and ran 15x slower than one.
SFT_THREADS = 1


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
    the model learns to stop; `log` receives the loss every tenth of the run. Runs on `SFT_THREADS` torch
    threads (the caller's setting is given back)."""
    import datasets
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    class Forward(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if log is not None and logs and "loss" in logs:
                log(state.global_step, {"sft/loss": float(logs["loss"]), "sft/lr": float(logs.get("learning_rate", 0.0))})

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
    threads = torch.get_num_threads()
    torch.set_num_threads(SFT_THREADS)
    try:
        trainer.train()
    finally:
        torch.set_num_threads(threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    trainer.model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
