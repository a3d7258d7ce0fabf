"""The run: its directory and resume, start-up through a `Launcher`, the continual stages (per-stage
algorithm settings, instance filtering, evaluation matrix, stage checkpoints), step checkpoints
and the final policy. One step is `rlpost.trainer.step.Step`."""

from __future__ import annotations

import time
from contextlib import closing
from pathlib import Path

from rlpost.checkpoint import (
    TrainerState,
    checkpoint_dir,
    drop_learner_state,
    latest_checkpoint,
    mark_complete,
    prune,
    stage_checkpoint_dir,
)
from rlpost.config import ExperimentConfig, StageConfig
from rlpost.data import LoadedEnv, PromptSampler, load_stage_envs
from rlpost.plots import plot_run
from rlpost.rollout import SamplingSpec
from rlpost.trainer.metrics import sample_records
from rlpost.trainer.prompts import max_model_len, pad_token_id, response_budget
from rlpost.trainer.protocols import ActorFailure, Cluster, Launcher, LaunchSpec
from rlpost.trainer.run_dir import open_run
from rlpost.trainer.settings import StageAlgorithm
from rlpost.trainer.step import Step, StepResult
from rlpost.trainer.warmup import prepare_model


class TrainingFailed(RuntimeError):
    """The run stopped; the message names the failed actor and the last complete checkpoint."""


def reward_bindings(envs: list[LoadedEnv]) -> dict[str, list[dict]]:
    """Binding key (the environment's config key path) -> its reward plugins."""
    return {e.binding: e.reward_specs() for e in envs}


def launch_on_ray(cfg: ExperimentConfig, spec: LaunchSpec) -> Cluster:
    from rlpost.cluster.launch import launch_ray

    return launch_ray(cfg, spec)


class Trainer:
    def __init__(self, cfg: ExperimentConfig, launcher: Launcher = launch_on_ray):
        self.cfg, self.launcher = cfg, launcher
        self.run_dir = cfg.run.path
        self.step = 0
        self.state = TrainerState(step=0, stage=0, stage_step=0)
        self.cluster: Cluster | None = None

    # ----- set-up -------------------------------------------------------------------------
    def setup(self) -> Path | None:
        """Run directory, logs, model, environments, actors; with `checkpoint.resume: auto` and a complete
        checkpoint in the run directory, its state (logs cut back to its step). Returns that checkpoint."""
        from transformers import AutoConfig, AutoTokenizer

        from rlpost.continual.matrix import eval_tasks

        cfg = self.cfg
        self.tracker, self.state, resumed = open_run(cfg)
        self.step = self.state.step
        if self.state.finished:
            return resumed
        self.model_path = prepare_model(cfg, self.run_dir, self.tracker.info)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        self.pad_id = pad_token_id(self.tokenizer)
        self.stages = load_stage_envs(cfg, "train")
        self.eval_tasks = eval_tasks(cfg) if cfg.continual.eval.enabled else []
        self.heldout = load_stage_envs(cfg, "test") if cfg.heldout.every else []
        every_env = [e for envs in [*self.stages, *self.heldout] for e in envs] + [e for t in self.eval_tasks for e in t.envs]
        limit = getattr(AutoConfig.from_pretrained(self.model_path), "max_position_embeddings", None)
        algo = StageAlgorithm.for_stage(cfg, min(self.state.stage, len(cfg.stages) - 1))
        budget, budget_key = response_budget(cfg.rollout, every_env)
        spec = LaunchSpec(
            model_path=self.model_path,
            max_model_len=max_model_len(self.tokenizer, every_env, budget, limit, budget_key),
            bindings=reward_bindings(every_env),
            policy_params=algo.params,
            critic_params=algo.critic_params,
            reference=cfg.uses_reference,
        )
        self.cluster = self.launcher(cfg, spec)
        self.tracker.info(self.cluster.description)
        self.runner = Step(cfg, self.cluster, self.tokenizer, self.pad_id, self.event)
        if resumed is not None:
            self.cluster.learners.load(resumed)
            self.cluster.weights.push()
        return resumed

    def event(self, kind: str, step: int | None = None, **fields) -> None:
        """An events.jsonl line at `step` (default: the last step logged)."""
        self.tracker.event(self.step if step is None else step, kind, **fields)

    # ----- stages -------------------------------------------------------------------------
    def begin_stage(self, index: int) -> StageAlgorithm:
        """Stage `index`'s algorithm settings, here and in the learners (the adaptive KL β carries on only
        within a stage: a stage resumed mid-way gets it back from the checkpoint)."""
        same = self.state.stage == index and self.state.stage_step
        algo = StageAlgorithm.for_stage(self.cfg, index, self.state.kl_coef if same else None)
        self.cluster.learners.set_params(algo.params, algo.critic_params)
        return algo

    def filter_stage(self, index: int, stage: StageConfig, envs: list[LoadedEnv]) -> tuple[list[LoadedEnv], dict[str, float]]:
        """The stage's environments restricted to the instances the keep-rule keeps (all of them when
        filtering is off), and the totals for the stage's first metrics line."""
        from rlpost.continual.filtering import apply_outcome, filter_env, load_outcomes, save_outcomes, summary_metrics

        fcfg = self.cfg.stage_filter(index)
        if not fcfg.enabled:
            return envs, {}
        outcomes = load_outcomes(self.run_dir, index)
        if outcomes is None:
            r = self.cfg.rollout
            sampling = SamplingSpec(n=1, max_new_tokens=r.max_new_tokens, temperature=r.temperature, top_p=r.top_p)
            generate, score = self.cluster.engines.generate, self.cluster.rewards.score
            outcomes = [
                filter_env(env, generate, score, self.tokenizer, fcfg, sampling, self.tracker.info, r.turns) for env in envs
            ]
            save_outcomes(self.run_dir, index, stage.name, outcomes)
            for o in outcomes:
                self.event(
                    "filter", stage=stage.name, env=o.env, rule=fcfg.rule, k=fcfg.k, seen=o.seen, kept=o.kept,
                    dropped=o.dropped, seconds=round(o.seconds, 2), mean_reward=round(o.mean_reward, 4), fallback=o.fallback,
                )  # fmt: skip
                if o.fallback:
                    self.tracker.info(f"filter {o.env}: no instance kept; stage {stage.name!r} trains on all {o.seen}")
        else:
            self.tracker.info(f"stage {stage.name!r}: instance filtering already done ({sum(o.kept for o in outcomes)} kept)")
        return [apply_outcome(e, o) for e, o in zip(envs, outcomes)], summary_metrics(outcomes)

    def run_stage(self, index: int, algo: StageAlgorithm, envs: list[LoadedEnv], total: int, first: dict) -> None:
        """The steps of stage `index` not done yet, with step checkpoints every `save_every` steps;
        `first` is added to the stage's first metrics line."""
        stage = self.cfg.stages[index]
        sampler = PromptSampler(envs, seed=self.cfg.run.seed + self.step)
        done = 0
        if self.state.stage == index and self.state.sampler:
            sampler.load_state(self.state.sampler)
            done = self.state.stage_step
        every = self.cfg.checkpoint.save_every
        with closing(self.runner.steps(sampler, algo, self.step + 1, stage.steps - done)) as results:
            for k, result in enumerate(results, start=done):
                self.step += 1
                self.log_step(index, k, result, total, first)
                if every and self.step % every == 0:
                    self.save_step(index, k, result, algo)

    def log_step(self, index: int, k: int, result: StepResult, total: int, first: dict) -> None:
        """The metrics line of stage step `k` (with held-out accuracy when due) and its samples."""
        stage = self.cfg.stages[index]
        metrics = {**result.metrics, "stage": stage.name, **(first if k == 0 else {})}
        if self.heldout and (self.step % self.cfg.heldout.every == 0 or k == stage.steps - 1):
            metrics.update(self.evaluate_heldout(index))
        self.tracker.log(self.step, metrics, total)
        records = sample_records(result.batch, self.cfg.logging.samples_per_step, self.step)
        if records:
            self.tracker.log_samples(self.step, records)

    def save_step(self, index: int, k: int, result: StepResult, algo: StageAlgorithm) -> None:
        """A resumable checkpoint after stage step `k`: the sampler as it was after drawing that step's rows, so
        batches already begun for later steps are drawn again from the same rows after a resume."""
        state = TrainerState(self.step, index, k + 1, sampler=result.sampler_state, kl_coef=algo.params["kl_coef"])
        self.save(checkpoint_dir(self.run_dir, self.step), state, with_state=True)
        prune(self.run_dir, self.cfg.checkpoint.keep_last)
        if result.in_flight:
            self.event("checkpoint", in_flight=result.in_flight, regenerated_on_resume=True)

    def end_stage(self, index: int, stage: StageConfig) -> None:
        """The stage's checkpoint (resumable; older stages' optimizer states dropped), then its matrix row."""
        path = stage_checkpoint_dir(self.run_dir, index, stage.name)
        self.save(path, TrainerState(self.step, index + 1, 0), with_state=True)
        drop_learner_state(self.run_dir, keep=path)
        self.tracker.info(f"stage {stage.name!r} done at step {self.step}; checkpoint {path}")
        self.evaluate(index)

    def save(self, path: Path, state: TrainerState, with_state: bool) -> Path:
        """Policy (and critic) into `path`, learner state when `with_state`; COMPLETE is written last."""
        self.cluster.learners.save(path, with_state)
        mark_complete(path, state)
        return path

    # ----- evaluation ---------------------------------------------------------------------
    def evaluate(self, after: int | None) -> None:
        """Append the matrix row after stage `after` (None: the starting policy) and redraw its plots."""
        from rlpost.continual.matrix import evaluate_and_record
        from rlpost.evaluation import scored_by

        if self.cfg.continual.eval.enabled:
            evaluate_and_record(
                self.matrix, self.run_dir, self.tracker, self.cfg, self.eval_tasks, self.model_path,
                self.cluster.engines.generate, after, self.step, scored_by(self.cluster.rewards),
            )  # fmt: skip

    def evaluate_heldout(self, index: int) -> dict[str, float]:
        """Greedy and sampled accuracy (the rollout temperature, `heldout.samples` per problem) of the current
        policy on stage `index`'s test split, pooled over its environments; also a `heldout` event."""
        from rlpost.evaluation import evaluate, pooled, scored_by

        h, start = self.cfg.heldout, time.perf_counter()
        results = evaluate(
            self.model_path, self.heldout[index], 1, self.cluster.engines.generate, n=h.samples, threshold=h.threshold,
            max_new_tokens=self.cfg.rollout.max_new_tokens, temperature=self.cfg.rollout.temperature,
            top_p=self.cfg.rollout.top_p, limit=h.limit, seed=self.cfg.run.seed + self.step,
            score=scored_by(self.cluster.rewards), turns=self.cfg.rollout.turns,
        )  # fmt: skip
        greedy, sampled = pooled(results, "greedy_accuracy"), pooled(results, "pass@1")
        self.event("heldout", greedy=round(greedy, 4), sampled=round(sampled, 4), problems=sum(r["n"] for r in results.values()),
                   seconds=round(time.perf_counter() - start, 2))  # fmt: skip
        return {"heldout/greedy_accuracy": greedy, "heldout/sampled_accuracy": sampled}

    def catch_up_evaluation(self) -> None:
        """Evaluations a resumed run still owes: the start (nothing trained yet), or the stage a crash
        interrupted between its checkpoint and its matrix row."""
        from rlpost.continual.matrix import ContinualMatrix

        if not self.cfg.continual.eval.enabled:
            return
        self.matrix = ContinualMatrix.for_run(self.run_dir, self.cfg, self.eval_tasks)
        if self.matrix.initial is None and self.step == 0:
            self.evaluate(None)
        if len(self.matrix.rows) < self.state.stage and self.state.stage_step == 0:
            self.evaluate(self.state.stage - 1)

    # ----- the run ------------------------------------------------------------------------
    def run(self) -> Path:
        try:
            self.setup()
            if self.state.finished:
                return self.run_dir
            self.catch_up_evaluation()
            if self.heldout and self.step == 0:
                self.evaluate_heldout(0)  # the starting policy: an event at step 0
            total = sum(s.steps for s in self.cfg.stages)
            for index, (stage, envs) in enumerate(zip(self.cfg.stages, self.stages)):
                if index < self.state.stage:
                    continue
                algo = self.begin_stage(index)
                envs, first = self.filter_stage(index, stage, envs)
                self.tracker.info(f"stage {stage.name!r}: {stage.steps} steps on {[e.name for e in envs]} ({algo.config.name})")
                self.run_stage(index, algo, envs, total, first)
                if len(self.cfg.stages) > 1 or self.cfg.continual.eval.enabled:
                    self.end_stage(index, stage)
            final = self.save(checkpoint_dir(self.run_dir, None), TrainerState(self.step, len(self.cfg.stages), 0, True), False)
            self.tracker.info(f"final policy saved to {final}")
            self.tracker.info(f"plots: {plot_run(self.run_dir)}")
        except ActorFailure as failure:
            last = latest_checkpoint(self.run_dir)
            lost = self.cluster.lost(str(failure)) if self.cluster is not None else ""
            self.event("stopped", step=self.step + 1, actor=f"{failure.role} {failure.index}", error=str(failure), lost=lost)
            raise TrainingFailed(
                f"run stopped at step {self.step + 1} ({self.step} done): {failure}{f'; {lost}' if lost else ''}; "
                f"last checkpoint: {last or 'none'}"
            ) from failure
        finally:
            self.shutdown()
        return self.run_dir

    def shutdown(self) -> None:
        """Stop this run's actors (the Ray instance stays up for whoever started it) and close the logs."""
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None
        if hasattr(self, "tracker"):
            self.tracker.close()

