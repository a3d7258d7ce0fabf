"""The synchronous step loop, written against protocols and the algorithm registry.

generate -> score -> (reference) -> old logprobs -> advantages -> optimizer steps -> weight sync
-> metrics / samples / checkpoints. See DESIGN.md, "One step".
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from rlpost.algorithms import get_algorithm, masked_mean
from rlpost.algorithms.shaping import adaptive_kl_coef, all_equal_groups, overlong_penalty
from rlpost.batch import RolloutBatch, concat_batches, pad_sequences, scatter_response_values
from rlpost.checkpoint import (
    COMPLETE_MARKER,
    TrainerState,
    checkpoint_dir,
    drop_learner_state,
    latest_checkpoint,
    mark_complete,
    prune,
    read_state,
    stage_checkpoint_dir,
)
from rlpost.config import ExperimentConfig, StageConfig, dump_config
from rlpost.data import LoadedEnv, PromptSampler, load_env, load_stage_envs, render_prompt
from rlpost.plots import plot_run
from rlpost.rewards import Sample
from rlpost.rollout import SamplingSpec
from rlpost.stage_eval import eval_tasks
from rlpost.tracking import Tracker, prepare_run_dir, truncate_after


class TrainingFailed(RuntimeError):
    """The run stopped; the message names the failed actor and the last complete checkpoint."""


class ActorFailure(RuntimeError):
    """An actor died or did not answer in time; `role` and `index` name it."""

    def __init__(self, role: str, index: int, error: BaseException):
        self.role, self.index = role, index
        super().__init__(f"{role} {index} failed: {type(error).__name__}: {' '.join(str(error).split())[:400]}")


def get_from(role: str, futures: list, timeout_s: float | None) -> list:
    """`ray.get` of one call per actor (actor i -> futures[i]); a dead or hung actor raises ActorFailure."""
    import ray
    from ray.exceptions import GetTimeoutError, RayActorError

    out = []
    for i, future in enumerate(futures):
        try:
            out.append(ray.get(future, timeout=timeout_s))
        except (RayActorError, GetTimeoutError) as e:
            raise ActorFailure(role, i, e) from e
    return out


RESTARTABLE = ("rollout engine",)


class Timer:
    """Accumulates wall seconds per phase as `time/<phase>_s`."""

    def __init__(self):
        self.times: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            key = f"time/{name}_s"
            self.times[key] = self.times.get(key, 0.0) + time.perf_counter() - start


def reward_bindings(envs: list[LoadedEnv]) -> dict[str, list[dict[str, Any]]]:
    """Per environment name, the reward plugins to apply (YAML override or the env's defaults)."""
    out = {}
    for e in envs:
        if e.spec.rewards is not None:
            out[e.name] = [b.model_dump() for b in e.spec.rewards]
        else:
            out[e.name] = [{"name": r.name, "weight": r.weight, "params": dict(r.params)} for r in e.env.rewards]
    return out


def prepare_model(cfg: ExperimentConfig, run_dir: Path, log) -> str:
    """The policy's starting checkpoint: the configured path, or a tiny model built (and warmed up) here."""
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

    pairs = []
    specs = cfg.warmup.envs or cfg.stages[0].envs
    prefix = "warmup.envs" if cfg.warmup.envs else "stages.0.envs"
    for j, spec in enumerate(specs):
        env = load_env(spec, "train", cfg.data.strict, f"{prefix}.{j}")
        if env.env.sft_target is None:
            raise ValueError(f"warmup: environment {spec.name!r} has no reference completions")
        rows = env.rows.select(range(min(cfg.warmup.examples, len(env.rows))))
        pairs += [(r["prompt"], env.env.sft_target(r)) for r in rows]
    start = time.perf_counter()
    w = cfg.warmup
    out = sft_train(base, pairs, SFTSettings(w.steps, w.batch_size, w.lr, cfg.run.seed), run_dir / "warmup_model")
    (Path(out) / COMPLETE_MARKER).write_text("ok\n")
    log(f"supervised warm-up: {cfg.warmup.steps} steps in {time.perf_counter() - start:.1f}s -> {out}")
    return str(out)


class Trainer:
    def __init__(self, cfg: ExperimentConfig):
        self.cfg = cfg
        self.algo_cfg = cfg.stage_algorithm(0)
        self.algorithm = get_algorithm(self.algo_cfg.name)
        self.params = self.algo_cfg.model_dump()
        self.run_dir = cfg.run.path
        self.step = 0
        self.state = TrainerState(step=0, stage=0, stage_step=0)

    # ----- set-up -------------------------------------------------------------------------
    def setup(self) -> None:
        """Run directory, logs, model, environments, actors. With `checkpoint.resume: auto` and a
        complete checkpoint in the run directory, continue from it (logs cut back to its step)."""
        from transformers import AutoTokenizer

        cfg = self.cfg
        resume_from = latest_checkpoint(self.run_dir) if cfg.checkpoint.resume == "auto" else None
        moved = None
        if resume_from is None:
            moved = prepare_run_dir(self.run_dir)
        else:
            self.state = read_state(resume_from)
            dropped = sum(truncate_after(self.run_dir / name, self.state.step) for name in ("metrics.jsonl", "samples.jsonl"))
        (self.run_dir / "config.yaml").write_text(dump_config(cfg))
        self.tracker = Tracker.from_config(self.run_dir, cfg)
        if moved:
            self.tracker.info(f"previous run directory moved to {moved}")
        if resume_from is not None:
            self.tracker.info(f"resuming from {resume_from} (step {self.state.step}; {dropped} log lines after it dropped)")
            if self.state.finished:
                self.tracker.info(f"run already finished at step {self.state.step}; nothing to do")
                return
        self.model_path = prepare_model(cfg, self.run_dir, self.tracker.info)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        self.stages = load_stage_envs(cfg, "train")
        self.eval_tasks = eval_tasks(cfg) if cfg.continual.eval.enabled else []
        self._start_actors()
        if resume_from is not None:
            self._restore(resume_from)

    def _restore(self, path: Path) -> None:
        """Learner and critic state from checkpoint `path`, then the engines get its weights."""
        import ray

        ray.get([w.load_state.remote(str(path)) for w in self.learners])
        if self.critics:
            ray.get([c.load_state.remote(str(path / "critic")) for c in self.critics])
        self.step = self.state.step
        self.sync_weights()

    def _start_actors(self) -> None:
        import ray

        from rlpost.cluster.actors import CriticActor, PolicyActor, ReferenceActor, RolloutActor
        from rlpost.cluster.reward_pool import RewardPool
        from rlpost.cluster.runtime import actor_options, cores, start_ray
        from rlpost.learner.distributed import free_port
        from rlpost.rollout.vllm_engine import vllm_env

        cfg = self.cfg
        start = time.perf_counter()
        start_ray(cfg.cluster)
        gpu = 1 if cfg.cluster.use_gpu else 0
        max_len = self._max_model_len()
        engine_env = vllm_env(cfg.rollout.threads or cores(), cfg.rollout.kv_cache_gib) if cfg.rollout.engine == "vllm" else {}

        def new_engine(i: int):
            return RolloutActor.options(**actor_options(engine_env, gpu)).remote(
                cfg.rollout.engine,
                model_path=self.model_path,
                dtype=cfg.model.dtype,
                seed=cfg.run.seed + i,
                max_model_len=max_len,
            )

        self._new_engine = new_engine
        self.engines = [new_engine(i) for i in range(cfg.rollout.num_engines)]
        spec = self._learner_spec(cfg.learner.lr, cfg.learner.micro_batch_size)
        port = free_port()
        learner_env = {"DS_ACCELERATOR": "cuda" if gpu else "cpu"}
        self.learners = [
            PolicyActor.options(**actor_options(learner_env, gpu)).remote(spec, self.params, rank, "127.0.0.1", port)
            for rank in range(cfg.learner.num_workers)
        ]
        self.critics = []
        if self.algorithm.critic:
            critic_path = self.model_path if cfg.critic.model == "policy" else cfg.critic.model
            critic_spec = self._learner_spec(
                cfg.critic.lr, cfg.critic.micro_batch_size or cfg.learner.micro_batch_size, critic_path
            )
            critic_params = {**self.params, "value_clip": cfg.critic.value_clip}
            port = free_port()
            self.critics = [
                CriticActor.options(**actor_options(learner_env, gpu)).remote(critic_spec, critic_params, rank, "127.0.0.1", port)
                for rank in range(cfg.learner.num_workers)
            ]
        self.reference = None
        if cfg.uses_reference:
            self.reference = ReferenceActor.options(**actor_options(num_gpus=gpu)).remote(
                self.model_path, cfg.model.dtype, cfg.learner.micro_batch_size, cfg.rollout.temperature, spec.threads
            )
        bindings = {}
        for envs in self.stages:
            bindings.update(reward_bindings(envs))
        self.rewards = RewardPool(
            bindings,
            cfg.rewards.num_workers,
            cfg.rewards.timeout_s,
            cfg.rewards.fallback_score,
            actor_options({"OMP_NUM_THREADS": "1"}),
        )
        waits = [a.ready.remote() for a in [*self.engines, *self.learners, *self.critics]]
        if self.reference is not None:
            waits.append(self.reference.ready.remote())
        ray.get(waits)
        self.tracker.info(
            f"started {len(self.engines)} {cfg.rollout.engine} engine(s), {len(self.learners)} DeepSpeed learner(s) "
            f"(ZeRO-{cfg.learner.zero_stage}), {f'{len(self.critics)} critic learner(s), ' if self.critics else ''}"
            f"{'a reference model, ' if self.reference else ''}"
            f"{cfg.rewards.num_workers} reward worker(s) in {time.perf_counter() - start:.1f}s"
        )

    def _learner_spec(self, lr: float, micro_batch_size: int, model_path: str | None = None):
        from rlpost.cluster.runtime import cores
        from rlpost.learner.deepspeed_learner import LearnerSpec

        cfg = self.cfg
        return LearnerSpec(
            model_path=model_path or self.model_path,
            dtype=cfg.model.dtype,
            zero_stage=cfg.learner.zero_stage,
            lr=lr,
            weight_decay=cfg.learner.weight_decay,
            grad_clip=cfg.learner.grad_clip,
            mini_batch_size=cfg.mini_batch_size,
            micro_batch_size=micro_batch_size,
            epochs=cfg.learner.epochs,
            num_workers=cfg.learner.num_workers,
            threads=cfg.learner.threads or cores(),
            temperature=cfg.rollout.temperature,
            max_new_tokens=cfg.rollout.max_new_tokens,
            seed=cfg.run.seed,
        )

    def _max_model_len(self) -> int:
        """Longest prompt of the training and evaluation environments, plus the response budget."""
        longest = 0
        for envs in [*self.stages, *(t.envs for t in self.eval_tasks)]:
            for e in envs:
                sample = e.rows.select(range(min(len(e.rows), 2000)))["prompt"]
                longest = max(longest, max(len(render_prompt(self.tokenizer, p, e.spec.chat)) for p in sample))
        return longest + self.cfg.rollout.max_new_tokens + 8

    # ----- one step -----------------------------------------------------------------------
    def _generate(self, prompt_ids: list[list[int]], spec: SamplingSpec) -> list[list[Any]]:
        """Completions per prompt, the prompts spread over the engines."""
        shards = [list(range(i, len(prompt_ids), len(self.engines))) for i in range(len(self.engines))]
        futures = [e.generate.remote([prompt_ids[j] for j in idx], spec) for e, idx in zip(self.engines, shards)]
        groups: list[Any] = [None] * len(prompt_ids)
        for idx, result in zip(shards, get_from("rollout engine", futures, self.cfg.rollout.timeout_s)):
            for j, completions in zip(idx, result):
                groups[j] = completions
        return groups

    def rollout(self, sampler: PromptSampler, timer: Timer, group_offset: int = 0) -> RolloutBatch:
        """Sample `prompts_per_step` prompts and n responses each (plus one greedy response per
        prompt when the algorithm uses a greedy baseline); group ids start at `group_offset`."""
        cfg = self.cfg.rollout
        picks = sampler.sample(cfg.prompts_per_step)
        prompt_ids = [render_prompt(self.tokenizer, row["prompt"], env.spec.chat) for env, row in picks]
        spec = SamplingSpec(n=cfg.n, max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_p=cfg.top_p, seed=None)
        with timer("rollout"):
            groups = self._generate(prompt_ids, spec)
        greedy = None
        if self.algorithm.greedy_baseline:
            with timer("baseline_rollout"):
                greedy = self._generate(prompt_ids, SamplingSpec(n=1, max_new_tokens=cfg.max_new_tokens, temperature=0.0))
        rows_prompt, rows_resp, lp, meta = [], [], [], []
        for j, ((env, row), completions) in enumerate(zip(picks, groups)):
            for c in completions:
                rows_prompt.append(prompt_ids[j])
                rows_resp.append(c.token_ids)
                lp.append(c.logprobs)
                meta.append((j, env, row, c))
        input_ids, attention_mask, response_mask = pad_sequences(rows_prompt, rows_resp, self.tokenizer.pad_token_id)
        return RolloutBatch(
            input_ids=input_ids,
            attention_mask=attention_mask,
            response_mask=response_mask,
            rollout_logprobs=scatter_response_values(lp, [len(p) for p in rows_prompt], input_ids.shape[1]),
            group_ids=torch.tensor([group_offset + m[0] for m in meta]),
            prompts=[m[2]["prompt"] for m in meta],
            responses=[m[3].text for m in meta],
            envs=[m[1].name for m in meta],
            references=[{k: m[2][k] for k in m[1].env.reference_fields} for m in meta],
            truncated=torch.tensor([m[3].truncated for m in meta]),
            baseline_responses=[greedy[m[0]][0].text for m in meta] if greedy else [],
        )

    def score(self, batch: RolloutBatch, timer: Timer) -> None:
        """Rewards of the responses (and of the greedy baselines), with overlong shaping when on."""
        with timer("reward"):
            samples = [
                Sample(p, r, ref, env) for p, r, ref, env in zip(batch.prompts, batch.responses, batch.references, batch.envs)
            ]
            firsts: list[int] = []
            if batch.baseline_responses:
                firsts = [int((batch.group_ids == g).nonzero()[0]) for g in batch.group_ids.unique()]
                samples += [
                    Sample(batch.prompts[i], batch.baseline_responses[i], batch.references[i], batch.envs[i]) for i in firsts
                ]
            scored = self.rewards.score(samples)
        scored, baseline = scored[: len(batch)], scored[len(batch) :]
        batch.rewards = torch.tensor([s.score for s in scored], dtype=torch.float32)
        batch.reward_errors = [s.error for s in scored]
        names = sorted({k for s in scored for k in s.components})
        batch.reward_components = {k: torch.tensor([s.components.get(k, float("nan")) for s in scored]) for k in names}
        if baseline:
            by_group = {int(batch.group_ids[i]): s.score for i, s in zip(firsts, baseline)}
            batch.baseline_rewards = torch.tensor([by_group[int(g)] for g in batch.group_ids], dtype=torch.float32)
        algo = self.algo_cfg
        if algo.overlong_buffer:
            penalty = overlong_penalty(
                batch.response_lengths.long(), max_len=self.cfg.rollout.max_new_tokens, buffer=algo.overlong_buffer,
                factor=algo.overlong_penalty,
            )  # fmt: skip
            batch.rewards = batch.rewards + penalty
            batch.reward_components["overlong_penalty"] = penalty

    def collect(self, sampler: PromptSampler, timer: Timer) -> tuple[RolloutBatch, dict[str, float]]:
        """A scored batch of `prompts_per_step` groups. With dynamic sampling, groups whose rewards
        are all equal are dropped and more prompts sampled, up to `max_sampling_rounds` rounds;
        if still short, dropped groups top the batch up (they carry zero advantage)."""
        cfg = self.cfg
        want = cfg.rollout.prompts_per_step
        if not self.algo_cfg.dynamic_sampling:
            batch = self.rollout(sampler, timer)
            self.score(batch, timer)
            return batch, {}
        kept: list[RolloutBatch] = []
        dropped: list[RolloutBatch] = []
        n_kept = n_dropped = rounds = 0
        while n_kept < want and rounds < self.algo_cfg.max_sampling_rounds:
            batch = self.rollout(sampler, timer, group_offset=rounds * want)
            self.score(batch, timer)
            rounds += 1
            equal = all_equal_groups(batch.rewards, batch.group_ids)
            kept.append(batch.select((~equal).nonzero().flatten()))
            dropped.append(batch.select(equal.nonzero().flatten()))
            n_kept += len(kept[-1].group_ids.unique())
            n_dropped += len(dropped[-1].group_ids.unique())
        merged = concat_batches([b for b in kept + dropped if len(b)], self.tokenizer.pad_token_id)
        order = list(dict.fromkeys(merged.group_ids.tolist()))[:want]
        batch = merged.select(torch.isin(merged.group_ids, torch.tensor(order)).nonzero().flatten())
        stats = {
            "sampling/rounds": float(rounds),
            "sampling/dropped_groups": float(n_dropped),
            "sampling/topped_up_groups": float(max(0, want - n_kept)),
        }
        return batch, stats

    @property
    def on_policy(self) -> bool:
        """One optimizer step per rollout batch: old logprobs are the learner's own, taken in the step."""
        return self.cfg.learner.epochs == 1 and self.cfg.mini_batch_size == self.cfg.batch_size

    @property
    def needs_old_logprobs(self) -> bool:
        """Old logprobs before the update: several optimizer steps per batch, or KL in the reward."""
        kl_reward = self.params["kl_coef"] > 0 and self.params["kl_in"] == "reward"
        return not self.on_policy or kl_reward

    def _gather(self, actors: list, method: str, batch: RolloutBatch, batch_ref) -> torch.Tensor:
        """A [B, T] per-token quantity computed by data-parallel `actors` on their row shards."""

        world = len(actors)
        role = "critic learner" if actors is self.critics else "policy learner"
        shards = get_from(role, [getattr(a, method).remote(batch_ref) for a in actors], self.cfg.learner.timeout_s)
        out = torch.zeros_like(batch.rollout_logprobs)
        for rank, part in enumerate(shards):
            out[rank::world] = part
        return out * batch.response_mask

    def learner_logprobs(self, batch: RolloutBatch, batch_ref, timer: Timer, old: bool = True) -> None:
        """Old logprobs from the policy learners (when `old`), reference logprobs (when KL is on),
        and the critic's values (when the algorithm has a critic)."""

        if old:
            with timer("old_logprobs"):
                batch.old_logprobs = self._gather(self.learners, "compute_logprobs", batch, batch_ref)
        if self.reference is not None:
            with timer("ref"):
                (ref,) = get_from(
                    "reference model", [self.reference.compute_logprobs.remote(batch_ref)], self.cfg.learner.timeout_s
                )
                batch.ref_logprobs = ref * batch.response_mask
        if self.critics:
            with timer("values"):
                batch.values = self._gather(self.critics, "compute_values", batch, batch_ref)

    def train_step(self, sampler: PromptSampler) -> dict[str, float]:
        import ray

        timer = Timer()
        start = time.perf_counter()
        batch, sampling = self.collect(sampler, timer)
        if self.needs_old_logprobs or self.reference is not None or self.critics:
            self.learner_logprobs(batch, ray.put(batch), timer, old=self.needs_old_logprobs)
        adv = self.algorithm.advantages(batch, self.params)
        batch.advantages, batch.returns = adv.advantages, adv.returns
        train_policy = self.step > self.cfg.critic.warmup_steps or not self.critics
        with timer("train"):
            batch_ref = ray.put(batch)
            policy = [w.train.remote(batch_ref) for w in self.learners] if train_policy else []
            if not self.cfg.cluster.use_gpu:
                # on shared CPU cores two learners' thread pools would fight (several times slower)
                stats = get_from("policy learner", policy, self.cfg.learner.timeout_s)
            critic = [c.train.remote(batch_ref) for c in self.critics]
            if self.cfg.cluster.use_gpu:
                stats = get_from("policy learner", policy, self.cfg.learner.timeout_s)
            critic_stats = get_from("critic learner", critic, self.cfg.learner.timeout_s)
        sync = 0.0
        timer.times["time/weight_sync_s"] = 0.0
        if train_policy:
            with timer("weight_sync"):
                sync = self.sync_weights()
        metrics = self.metrics(batch, stats, sync)
        if critic_stats:
            metrics.update({f"critic/{k}": sum(s[k] for s in critic_stats) / len(critic_stats) for k in critic_stats[0]})
        metrics.update(adv.stats)
        metrics.update(sampling)
        self._adapt_kl(metrics)
        metrics.update(timer.times)
        metrics["time/step_s"] = time.perf_counter() - start
        metrics["time/overhead_s"] = metrics["time/step_s"] - sum(timer.times.values())
        self.log_samples(batch)
        return metrics

    def _adapt_kl(self, metrics: dict[str, float]) -> None:
        """Adaptive KL controller (KL in the reward): update β from this step's KL; log β."""
        algo = self.algo_cfg
        if algo.kl_target is not None:
            self.params["kl_coef"] = adaptive_kl_coef(
                self.params["kl_coef"], metrics["kl/mean"], target=algo.kl_target, horizon=algo.kl_horizon,
                n_steps=self.cfg.batch_size,
            )  # fmt: skip
        metrics["kl/coef"] = self.params["kl_coef"]

    def sync_weights(self) -> float:
        """Push the learner's weights to every engine (one object-store copy); returns engine seconds."""

        callers = self.learners if self.cfg.learner.zero_stage == 3 else self.learners[:1]
        weights = get_from("policy learner", [w.weights_ref.remote() for w in callers], self.cfg.learner.timeout_s)[0]
        futures = [e.update_weights.remote(weights) for e in self.engines]
        return max(get_from("rollout engine", futures, self.cfg.rollout.timeout_s))

    # ----- records ------------------------------------------------------------------------
    def metrics(self, batch: RolloutBatch, stats: list[dict[str, float]], sync_engine_s: float) -> dict[str, float]:
        """Step metrics from the batch and the policy learners' stats (empty while only the critic trains)."""
        mask = batch.response_mask
        lengths = batch.response_lengths
        m: dict[str, float] = {
            "reward/mean": batch.rewards.mean().item(),
            "reward/std": batch.rewards.std().item() if len(batch) > 1 else 0.0,
            "reward/max": batch.rewards.max().item(),
            "reward/min": batch.rewards.min().item(),
            "reward/error_rate": sum(e is not None for e in batch.reward_errors) / len(batch),
            "response_length/mean": lengths.mean().item(),
            "response_length/max": lengths.max().item(),
            "response_length/truncated_frac": batch.truncated.float().mean().item(),
            "advantage/mean_abs": masked_mean(batch.advantages.abs(), mask).item(),
            "time/weight_sync_engine_s": sync_engine_s,
        }
        equal = all_equal_groups(batch.rewards, batch.group_ids)
        m["groups/all_equal_frac"] = len(batch.group_ids[equal].unique()) / len(batch.group_ids.unique())
        for name, values in batch.reward_components.items():
            finite = values[~values.isnan()]
            if finite.numel():
                m[f"reward/{name}"] = finite.mean().item()
        for key in stats[0] if stats else {}:
            m[f"actor/{key}"] = sum(s[key] for s in stats) / len(stats)
        if batch.old_logprobs is not None:
            m["rollout/logprob_abs_diff"] = masked_mean((batch.rollout_logprobs - batch.old_logprobs).abs(), mask).item()
        elif "actor/rollout_logprob_abs_diff" in m:
            m["rollout/logprob_abs_diff"] = m.pop("actor/rollout_logprob_abs_diff")
        if "actor/kl" in m:
            m["kl/mean"] = m.pop("actor/kl")
        return m

    def log_samples(self, batch: RolloutBatch) -> None:
        k = min(self.cfg.logging.samples_per_step, len(batch))
        if not k:
            return
        rows = torch.randperm(len(batch), generator=torch.Generator().manual_seed(self.step))[:k].tolist()
        self.tracker.log_samples(
            self.step,
            [
                {
                    "env": batch.envs[i],
                    "prompt": batch.prompts[i],
                    "response": batch.responses[i],
                    "reward": batch.rewards[i].item(),
                    "components": {n: v[i].item() for n, v in batch.reward_components.items()},
                    "error": batch.reward_errors[i],
                    **(
                        {"baseline_response": batch.baseline_responses[i], "baseline_reward": batch.baseline_rewards[i].item()}
                        if batch.baseline_responses
                        else {}
                    ),
                }
                for i in rows
            ],
        )

    def save(self, step: int | None, state: TrainerState) -> Path:
        """A step checkpoint (policy, learner state, critic, trainer state) or, with `step` None,
        the final policy (and critic); COMPLETE is written last."""
        import ray

        path = checkpoint_dir(self.run_dir, step)
        with_state = step is not None
        ray.get([w.save.remote(str(path), with_state) for w in self.learners])
        if self.critics:
            ray.get([c.save.remote(str(path / "critic"), with_state) for c in self.critics])
        mark_complete(path, state)
        if step is not None:
            prune(self.run_dir, self.cfg.checkpoint.keep_last)
        return path

    # ----- failures -----------------------------------------------------------------------
    def restart_engine(self, index: int) -> None:
        """Replace rollout engine `index` (killed first, in case it hangs) and give it the current weights."""
        import ray

        ray.kill(self.engines[index], no_restart=True)
        self.engines[index] = self._new_engine(index)
        get_from("rollout engine", [self.engines[index].ready.remote()], self.cfg.rollout.timeout_s)
        self.sync_weights()

    def step_with_retries(self, sampler: PromptSampler) -> dict[str, float]:
        """`train_step`, retried on the same prompts after a rollout engine died or hung (the engine
        is restarted first), at most `cluster.max_step_retries` times. Other failures propagate."""
        position = sampler.state()
        restarts = self.rewards.restarts
        for attempt in range(self.cfg.cluster.max_step_retries + 1):
            try:
                metrics = self.train_step(sampler)
                metrics["events/step_retries"] = float(attempt)
                metrics["events/reward_worker_restarts"] = float(self.rewards.restarts - restarts)
                return metrics
            except ActorFailure as failure:
                if failure.role not in RESTARTABLE or attempt == self.cfg.cluster.max_step_retries:
                    raise
                self.tracker.event(self.step, "restart", actor=f"{failure.role} {failure.index}", error=str(failure))
                self.restart_engine(failure.index)
                sampler.load_state(position)
        raise AssertionError("unreachable")

    # ----- the loop -----------------------------------------------------------------------
    def begin_stage(self, index: int) -> None:
        """Stage `index`'s algorithm settings, here and in the learners (the adaptive KL β carries on
        only within a stage: a resumed stage gets it back from the checkpoint)."""
        import ray

        self.algo_cfg = self.cfg.stage_algorithm(index)
        self.algorithm = get_algorithm(self.algo_cfg.name)
        self.params = self.algo_cfg.model_dump()
        if self.state.stage == index and self.state.stage_step and self.state.kl_coef is not None:
            self.params["kl_coef"] = self.state.kl_coef
        calls = [w.set_params.remote(self.params) for w in self.learners]
        calls += [c.set_params.remote({**self.params, "value_clip": self.cfg.critic.value_clip}) for c in self.critics]
        ray.get(calls)

    def filter_stage(self, index: int, stage: StageConfig, envs: list[LoadedEnv]) -> tuple[list[LoadedEnv], dict[str, float]]:
        """The stage's environments restricted to the instances the keep-rule keeps (all of them when
        filtering is off), and the totals for the stage's first metrics line."""
        from rlpost.instance_filter import apply_outcome, filter_env, load_outcomes, save_outcomes, summary_metrics

        fcfg = self.cfg.stage_filter(index)
        if not fcfg.enabled:
            return envs, {}
        outcomes = load_outcomes(self.run_dir, index)
        if outcomes is None:
            r = self.cfg.rollout
            sampling = SamplingSpec(n=1, max_new_tokens=r.max_new_tokens, temperature=r.temperature, top_p=r.top_p)
            outcomes = [
                filter_env(env, self._generate, self.rewards.score, self.tokenizer, fcfg, sampling, self.tracker.info)
                for env in envs
            ]
            save_outcomes(self.run_dir, index, stage.name, outcomes)
            for o in outcomes:
                self.tracker.event(
                    self.step, "filter", stage=stage.name, env=o.env, rule=fcfg.rule, k=fcfg.k, seen=o.seen, kept=o.kept,
                    dropped=o.dropped, seconds=round(o.seconds, 2), mean_reward=round(o.mean_reward, 4), fallback=o.fallback,
                )  # fmt: skip
                if o.fallback:
                    self.tracker.info(f"filter {o.env}: no instance kept; stage {stage.name!r} trains on all {o.seen}")
        else:
            self.tracker.info(f"stage {stage.name!r}: instance filtering already done ({sum(o.kept for o in outcomes)} kept)")
        return [apply_outcome(e, o) for e, o in zip(envs, outcomes)], summary_metrics(outcomes)

    def run_stage(self, stage: StageConfig, envs: list[LoadedEnv], total: int, index: int = 0, first: dict | None = None) -> None:
        """The steps of stage `index` not done yet, with step checkpoints every `save_every` steps;
        `first` is added to the stage's first metrics line."""
        sampler = PromptSampler(envs, seed=self.cfg.run.seed + self.step)
        done = 0
        if self.state.stage == index and self.state.sampler:
            sampler.load_state(self.state.sampler)
            done = self.state.stage_step
        every = self.cfg.checkpoint.save_every
        for k in range(done, stage.steps):
            self.step += 1
            metrics = self.step_with_retries(sampler)
            metrics["stage"] = stage.name
            if k == 0 and first:
                metrics.update(first)
            self.tracker.log(self.step, metrics, total)
            if every and self.step % every == 0:
                kl = self.params["kl_coef"]
                self.save(self.step, TrainerState(self.step, index, k + 1, sampler=sampler.state(), kl_coef=kl))

    def end_stage(self, index: int, stage: StageConfig) -> None:
        """The stage's checkpoint (resumable), then the evaluation matrix row when evaluation is on."""
        path = self.save_stage(index, stage)
        self.tracker.info(f"stage {stage.name!r} done at step {self.step}; checkpoint {path}")
        self.evaluate_stage(index)

    def save_stage(self, index: int, stage: StageConfig) -> Path:
        import ray

        path = stage_checkpoint_dir(self.run_dir, index, stage.name)
        ray.get([w.save.remote(str(path), True) for w in self.learners])
        if self.critics:
            ray.get([c.save.remote(str(path / "critic"), True) for c in self.critics])
        mark_complete(path, TrainerState(self.step, index + 1, 0))
        drop_learner_state(self.run_dir, keep=path)
        return path

    def evaluate_stage(self, index: int | None) -> None:
        """Append the matrix row after stage `index` (None: the starting policy) and redraw its plots."""
        from rlpost.stage_eval import evaluate_and_record

        if self.cfg.continual.eval.enabled:
            evaluate_and_record(
                self.matrix, self.run_dir, self.tracker, self.cfg, self.eval_tasks, self.model_path, self.engines[0], index,
                self.step,
            )  # fmt: skip

    def catch_up_evaluation(self) -> None:
        """Evaluations a resumed run still owes: the start (nothing trained yet), or the stage a crash
        interrupted between its checkpoint and its matrix row."""
        from rlpost.stage_eval import ContinualMatrix

        if not self.cfg.continual.eval.enabled:
            return
        self.matrix = ContinualMatrix.for_run(self.run_dir, self.cfg, self.eval_tasks)
        if self.matrix.initial is None and self.step == 0:
            self.evaluate_stage(None)
        if len(self.matrix.rows) < self.state.stage and self.state.stage_step == 0 and not self.state.finished:
            self.evaluate_stage(self.state.stage - 1)

    def run(self) -> Path:
        self.setup()
        if self.state.finished:
            self.tracker.close()
            return self.run_dir
        try:
            self.catch_up_evaluation()
            total = sum(s.steps for s in self.cfg.stages)
            for index, (stage, envs) in enumerate(zip(self.cfg.stages, self.stages)):
                if index < self.state.stage:
                    continue
                self.begin_stage(index)
                envs, first = self.filter_stage(index, stage, envs)
                self.tracker.info(f"stage {stage.name!r}: {stage.steps} steps on {[e.name for e in envs]} ({self.algo_cfg.name})")
                self.run_stage(stage, envs, total, index, first)
                if len(self.cfg.stages) > 1 or self.cfg.continual.eval.enabled:
                    self.end_stage(index, stage)
            final = self.save(None, TrainerState(self.step, len(self.cfg.stages), 0, finished=True))
            self.tracker.info(f"final policy saved to {final}")
            self.tracker.info(f"plots: {plot_run(self.run_dir)}")
        except ActorFailure as failure:
            last = latest_checkpoint(self.run_dir)
            self.tracker.event(self.step, "stopped", actor=f"{failure.role} {failure.index}", error=str(failure))
            raise TrainingFailed(f"run stopped at step {self.step}: {failure}; last checkpoint: {last or 'none'}") from failure
        finally:
            self.shutdown()
        return self.run_dir

    def shutdown(self) -> None:
        """Stop this run's actors (the Ray instance stays up for whoever started it) and close the logs."""
        import ray

        if hasattr(self, "rewards"):
            self.rewards.close()
        actors = [getattr(self, name, []) for name in ("engines", "learners", "critics")]
        for actor in [*sum(actors, []), getattr(self, "reference", None)]:
            if actor is not None:
                ray.kill(actor, no_restart=True)
        self.tracker.close()


def describe(cfg: ExperimentConfig) -> dict[str, Any]:
    """A short summary of what a config will run (used by `rlpost check`)."""
    algo = get_algorithm(cfg.algorithm.name)
    return {
        "method": cfg.method,
        "algorithm": algo.name,
        "run_dir": str(cfg.run.path),
        "steps": sum(s.steps for s in cfg.stages),
        "sequences_per_step": cfg.batch_size,
        "optimizer_steps_per_rollout": cfg.learner.epochs * cfg.batch_size // cfg.mini_batch_size,
        "reference_model": cfg.algorithm.kl_coef > 0,
        "kl_in": cfg.algorithm.kl_in,
        "critic": cfg.critic.model if algo.critic else None,
        "greedy_baseline": algo.greedy_baseline,
        "dynamic_sampling": cfg.algorithm.dynamic_sampling,
    }
