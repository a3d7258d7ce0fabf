"""`method: sft`: the continual baseline. The same stages as an RL run, each trained with TRL's
SFTTrainer on its environments' reference completions for `stages[i].steps` optimizer steps,
then evaluated exactly like the RL run (`rlpost.stage_eval`, a vLLM engine in a Ray actor).

Writes the same run directory layout: config.yaml, metrics.jsonl (SFT loss), events.jsonl,
checkpoints/stage_<i>_<name> (each stage's policy), checkpoints/final, continual/matrix.json.
A resumed run (`checkpoint.resume: auto`) skips the stages whose checkpoint is complete.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from rlpost.checkpoint import TrainerState, checkpoint_dir, is_complete, mark_complete, stage_checkpoint_dir
from rlpost.config import ExperimentConfig, StageConfig, dump_config
from rlpost.data import load_env, render_prompt
from rlpost.plots import plot_run
from rlpost.sft_train import SFTSettings, sft_train
from rlpost.stage_eval import ContinualMatrix, eval_tasks, evaluate_and_record
from rlpost.tracking import Tracker, prepare_run_dir


def stage_pairs(cfg: ExperimentConfig, index: int) -> list[tuple[str, str]]:
    """(prompt, reference completion) of stage `index`'s training instances (`sft.examples` per environment)."""
    pairs = []
    for j, spec in enumerate(cfg.stages[index].envs):
        key = f"stages.{index}.envs.{j}"
        env = load_env(spec, "train", cfg.data.strict, key)
        if env.env.sft_target is None:
            raise ValueError(f"{key}: environment {spec.name!r} has no reference completions to fine-tune on")
        rows = env.rows if cfg.sft.examples is None else env.rows.select(range(min(cfg.sft.examples, len(env.rows))))
        pairs += [(r["prompt"], env.env.sft_target(r)) for r in rows]
    return pairs


class SFTStages:
    def __init__(self, cfg: ExperimentConfig):
        self.cfg = cfg
        self.run_dir = cfg.run.path
        self.step = 0

    def run(self) -> Path:
        from rlpost.trainer import prepare_model

        cfg = self.cfg
        resume = cfg.checkpoint.resume == "auto" and (self.run_dir / "config.yaml").exists()
        moved = None if resume else prepare_run_dir(self.run_dir)
        (self.run_dir / "config.yaml").write_text(dump_config(cfg))
        self.tracker = Tracker.from_config(self.run_dir, cfg)
        if moved:
            self.tracker.info(f"previous run directory moved to {moved}")
        try:
            model = prepare_model(cfg, self.run_dir, self.tracker.info)
            self.tasks = eval_tasks(cfg) if cfg.continual.eval.enabled else []
            self.matrix = ContinualMatrix.for_run(self.run_dir, cfg, self.tasks)
            if self.tasks and self.matrix.initial is None:
                self.evaluate(model, None)
            total = sum(s.steps for s in cfg.stages)
            for index, stage in enumerate(cfg.stages):
                path = stage_checkpoint_dir(self.run_dir, index, stage.name)
                if is_complete(path):
                    self.tracker.info(f"stage {stage.name!r}: already trained ({path})")
                else:
                    self.train_stage(model, index, stage, path, total)
                self.step = sum(s.steps for s in cfg.stages[: index + 1])
                if self.tasks and len(self.matrix.rows) <= index:
                    self.evaluate(str(path), index)
                model = str(path)
            final = checkpoint_dir(self.run_dir, None)
            shutil.rmtree(final, ignore_errors=True)
            shutil.copytree(model, final, ignore=shutil.ignore_patterns("trainer", "COMPLETE", "trainer_state.json"))
            mark_complete(final, TrainerState(self.step, len(cfg.stages), 0, finished=True))
            self.tracker.info(f"final policy saved to {final}")
            self.tracker.info(f"plots: {plot_run(self.run_dir)}")
        finally:
            self.tracker.close()
        return self.run_dir

    def train_stage(self, model: str, index: int, stage: StageConfig, out: Path, total: int) -> None:
        cfg = self.cfg
        pairs = stage_pairs(cfg, index)
        offset = sum(s.steps for s in cfg.stages[:index])
        self.tracker.info(f"stage {stage.name!r}: {stage.steps} SFT steps on {len(pairs)} examples")
        start = time.perf_counter()

        def log(step: int, metrics: dict[str, float]) -> None:
            self.tracker.log(offset + step, {**metrics, "stage": stage.name}, total)

        settings = SFTSettings(stage.steps, cfg.sft.batch_size, cfg.sft.lr, cfg.run.seed + index)
        shutil.rmtree(out, ignore_errors=True)
        sft_train(model, pairs, settings, out, log)
        shutil.rmtree(out / "trainer", ignore_errors=True)
        mark_complete(out, TrainerState(offset + stage.steps, index + 1, 0))
        self.tracker.event(offset + stage.steps, "stage_done", stage=stage.name, seconds=round(time.perf_counter() - start, 1))

    def evaluate(self, model: str, index: int | None) -> None:
        """The matrix row of `model` (after stage `index`; None: the start), with an engine of its own."""
        from rlpost.evaluation import ENGINE_FACTORIES, EngineOptions

        cfg = self.cfg
        opts = EngineOptions(model, self.max_model_len(model), cfg.model.dtype, cfg.run.seed, cfg.rollout.kv_cache_gib)
        generate, close = ENGINE_FACTORIES[cfg.rollout.engine](opts)
        try:
            evaluate_and_record(self.matrix, self.run_dir, self.tracker, cfg, self.tasks, model, generate, index, self.step)
        finally:
            close()

    def max_model_len(self, model: str) -> int:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model)
        longest = max(len(render_prompt(tokenizer, r["prompt"], e.spec.chat)) for t in self.tasks for e in t.envs for r in e.rows)
        return longest + self.cfg.rollout.max_new_tokens + 8
