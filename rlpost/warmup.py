"""Supervised warm-up of a freshly built tiny model on reference completions (TRL SFTTrainer)."""

from __future__ import annotations

from pathlib import Path

from rlpost.config import WarmupConfig


def sft_warmup(model_dir: Path, pairs: list[tuple[str, str]], cfg: WarmupConfig, out_dir: Path, seed: int) -> Path:
    """Train on (prompt, completion) pairs with the loss on completions only; save to `out_dir`.

    The completion gets the tokenizer's EOS so the model learns to stop.
    """
    import datasets
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    data = datasets.Dataset.from_list([{"prompt": p, "completion": c} for p, c in pairs])
    args = SFTConfig(
        output_dir=str(out_dir / "trainer"),
        max_steps=cfg.steps,
        per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.lr,
        lr_scheduler_type="cosine",
        warmup_steps=max(1, cfg.steps // 20),
        weight_decay=0.0,
        logging_steps=max(1, cfg.steps // 10),
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        seed=seed,
        completion_only_loss=True,
        dataloader_num_workers=0,
        disable_tqdm=False,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer)
    trainer.train()
    out_dir.mkdir(parents=True, exist_ok=True)
    trainer.model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
