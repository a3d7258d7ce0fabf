"""The policy's starting checkpoint: a model directory as configured, or the tiny model built here
and warmed up with supervised fine-tuning on the environments' reference completions."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rlpost.checkpoint import COMPLETE_MARKER
from rlpost.config import EnvSpec, ExperimentConfig
from rlpost.data import load_env
from rlpost.multiturn.render import transcript_text


def reference_pairs(specs: list[EnvSpec], prefix: str, strict: bool, limit: int | None, tokenizer) -> list[tuple[str, str]]:
    """(prompt, reference completion) of the first `limit` training rows (None: all) of each environment;
    `prefix` is the specs' key path in the config, for errors. A multi-turn reference (a list of turns)
    becomes one completion framed as rollout frames it for `tokenizer` (`transcript_text`)."""
    pairs = []
    for j, spec in enumerate(specs):
        key = f"{prefix}.{j}"
        env = load_env(spec, "train", strict, key)
        if env.env.sft_target is None:
            raise ValueError(f"{key}: environment {spec.name!r} has no reference completions to fine-tune on")
        rows = env.rows if limit is None else env.rows.select(range(min(limit, len(env.rows))))
        for r in rows:
            target = env.env.sft_target(r)
            pairs.append((r["prompt"], target if isinstance(target, str) else transcript_text(tokenizer, target, spec.chat)))
    return pairs


def prepare_model(cfg: ExperimentConfig, run_dir: Path, log: Callable[[str], None]) -> str:
    """The configured model path, or a tiny model built under `run_dir` (and warmed up when on).
    A warm-up already complete in `run_dir` is reused."""
    if cfg.model.path != "tiny":
        return cfg.model.path
    from rlpost.tinymodel import TinySpec, build_tiny_model

    base = build_tiny_model(run_dir / "base_model", TinySpec(**cfg.model.tiny.model_dump(), seed=cfg.run.seed))
    log(f"built tiny model at {base}")
    if not cfg.warmup.enabled:
        return str(base)
    done = run_dir / "warmup_model" / COMPLETE_MARKER
    if done.exists():
        log(f"supervised warm-up already done: {done.parent}")
        return str(done.parent)
    from rlpost.sft_train import SFTSettings, sft_train

    start = time.perf_counter()
    w = cfg.warmup
    specs, prefix = (w.envs, "warmup.envs") if w.envs else (cfg.stages[0].envs, "stages.0.envs")
    from transformers import AutoTokenizer

    pairs = reference_pairs(specs, prefix, cfg.data.strict, w.examples, AutoTokenizer.from_pretrained(base))
    out = sft_train(base, pairs, SFTSettings(w.steps, w.batch_size, w.lr, cfg.run.seed), run_dir / "warmup_model")
    (Path(out) / COMPLETE_MARKER).write_text("ok\n")
    log(f"supervised warm-up: {w.steps} steps in {time.perf_counter() - start:.1f}s -> {out}")
    return str(out)
