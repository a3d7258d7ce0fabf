"""`method: sft`: the continual baseline. The same stages as an RL run, each trained with TRL's
SFTTrainer on its environments' reference completions for `stages[i].steps` optimizer steps,
then evaluated exactly like the RL run (`rlpost.continual.matrix`, a vLLM engine in a Ray actor).

Writes the same run directory layout: config.yaml, metrics.jsonl (SFT loss), events.jsonl,
checkpoints/stage_<i>_<name> (each stage's policy), checkpoints/final, continual/matrix.json.
A resumed run (`checkpoint.resume: auto`) skips the stages whose checkpoint is complete.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from rlpost.checkpoint import TrainerState, checkpoint_dir, is_complete, mark_complete, stage_checkpoint_dir
from rlpost.config import ExperimentConfig, StageConfig
from rlpost.continual.matrix import ContinualMatrix, eval_tasks, evaluate_and_record
from rlpost.plots import plot_run
from rlpost.sft_train import SFTSettings, sft_train
from rlpost.trainer.loop import reward_bindings
from rlpost.trainer.prompts import max_model_len, response_budget
from rlpost.trainer.run_dir import open_run
from rlpost.trainer.warmup import prepare_model, reference_pairs


class SFTStages:
    def __init__(self, cfg: ExperimentConfig):
        self.cfg = cfg
        self.run_dir = cfg.run.path
        self.step = 0

    def run(self) -> Path:
        cfg = self.cfg
        self.tracker, state, _ = open_run(cfg)
        try:
            if state.finished:
                return self.run_dir
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
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model)
        pairs = reference_pairs(stage.envs, f"stages.{index}.envs", cfg.data.strict, cfg.sft.examples, tokenizer)
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
        """The matrix row of `model` (after stage `index`; None: the start), with an engine of its own and
        the run's reward bindings on reward workers (time-bounded, as in the RL run)."""
        from transformers import AutoConfig, AutoTokenizer

        from rlpost.cluster.reward_pool import RewardPool
        from rlpost.cluster.runtime import start_ray
        from rlpost.evaluation import ENGINE_FACTORIES, EngineOptions, scored_by

        cfg = self.cfg
        envs = [e for t in self.tasks for e in t.envs]
        limit = getattr(AutoConfig.from_pretrained(model), "max_position_embeddings", None)
        budget, key = response_budget(cfg.rollout, envs)
        length = max_model_len(AutoTokenizer.from_pretrained(model), envs, budget, limit, key)
        gpus = cfg.rollout.tensor_parallel_size if cfg.cluster.gpus else 0
        opts = EngineOptions(model, length, cfg.model.dtype, cfg.run.seed, cfg.rollout.kv_cache_gib, gpus)
        start_ray(cfg.cluster)
        pool = RewardPool.from_config(reward_bindings(envs), cfg.rewards)
        generate, close = ENGINE_FACTORIES[cfg.rollout.engine](opts)
        try:
            evaluate_and_record(
                self.matrix, self.run_dir, self.tracker, cfg, self.tasks, model, generate, index, self.step,
                scored_by(pool),
            )  # fmt: skip
        finally:
            close()
            pool.close()
