"""Start a run's actors on Ray and hand them to the loop as a `Cluster`.

Everything started is stopped again when a later part fails to start, so a failed start-up
leaves no actor behind.
"""

from __future__ import annotations

import time
from typing import Any

from rlpost.config import ExperimentConfig
from rlpost.trainer.protocols import Cluster, LaunchSpec


def learner_spec(cfg: ExperimentConfig, model_path: str, lr: float, micro_batch_size: int, policy: bool = True):
    """The DeepSpeed settings of the policy learners (`policy`) or the critic's (which never take LoRA adapters)."""
    from rlpost.cluster.runtime import cores
    from rlpost.learner.deepspeed_learner import LearnerSpec
    from rlpost.learner.lora import LoraSpec

    lora = cfg.learner.lora
    adapters = None
    if policy and lora.rank:
        targets = lora.target_modules if isinstance(lora.target_modules, str) else tuple(lora.target_modules)
        adapters = LoraSpec(lora.rank, lora.alpha or 2.0 * lora.rank, lora.dropout, targets)

    return LearnerSpec(
        model_path=model_path,
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
        logprob_chunk=cfg.learner.logprob_chunk,
        gradient_checkpointing=cfg.learner.gradient_checkpointing,
        lr_schedule=cfg.learner.lr_schedule,
        lr_warmup_steps=cfg.learner.lr_warmup_steps,
        micro_token_budget=cfg.learner.micro_token_budget,
        lora=adapters,
        total_updates=sum(s.steps for s in cfg.stages) * cfg.learner.epochs * cfg.batch_size // cfg.mini_batch_size,
    )


def launch_ray(cfg: ExperimentConfig, spec: LaunchSpec) -> Cluster:
    """Engines, policy learners, critic, reference model and reward workers as Ray actors."""
    from rlpost.cluster.actors import CriticActor, PolicyActor, ReferenceActor, RolloutActor
    from rlpost.cluster.channel import ObjectStoreChannel
    from rlpost.cluster.engines import RayEngines
    from rlpost.cluster.learners import RayLearners
    from rlpost.cluster.reward_pool import RewardPool
    from rlpost.cluster.runtime import actor_options, cores, start_ray
    from rlpost.learner.distributed import free_port
    from rlpost.rollout.vllm_engine import vllm_env

    start = time.perf_counter()
    start_ray(cfg.cluster)
    gpu = 1 if cfg.cluster.use_gpu else 0
    started: list[Any] = []  # objects with close(), stopped in reverse if a later part fails

    def close() -> None:
        for part in reversed(started):
            part.close()

    try:
        engine_env = vllm_env(cfg.rollout.threads or cores(), cfg.rollout.kv_cache_gib) if cfg.rollout.engine == "vllm" else {}

        def new_engine(i: int):
            return RolloutActor.options(**actor_options(engine_env, gpu)).remote(
                cfg.rollout.engine, model_path=spec.model_path, dtype=cfg.model.dtype, seed=cfg.run.seed + i,
                max_model_len=spec.max_model_len,
            )  # fmt: skip

        engines = RayEngines(new_engine, cfg.rollout.timeout_s)
        started.append(engines)
        engines.start(cfg.rollout.num_engines)
        policy_spec = learner_spec(cfg, spec.model_path, cfg.learner.lr, cfg.learner.micro_batch_size)
        learners = RayLearners([], [], None, cfg.learner.timeout_s, parallel=bool(gpu), zero3=policy_spec.zero_stage == 3)
        started.append(learners)
        learner_env = {"DS_ACCELERATOR": "cuda" if gpu else "cpu"}
        ranks = range(cfg.learner.num_workers)
        port = free_port()
        for r in ranks:
            actor = PolicyActor.options(**actor_options(learner_env, gpu))
            learners.policy.append(actor.remote(policy_spec, spec.policy_params, r, "127.0.0.1", port))
        if spec.critic_params is not None:
            critic_path = spec.model_path if cfg.critic.model == "policy" else cfg.critic.model
            micro = cfg.critic.micro_batch_size or cfg.learner.micro_batch_size
            critic_spec = learner_spec(cfg, critic_path, cfg.critic.lr, micro, policy=False)
            port = free_port()
            for r in ranks:
                actor = CriticActor.options(**actor_options(learner_env, gpu))
                learners.critic.append(actor.remote(critic_spec, spec.critic_params, r, "127.0.0.1", port))
        if spec.reference and policy_spec.lora is not None:
            learners.reference_in_policy = True  # the base without its adapters: no second copy
        elif spec.reference:
            learners.reference = ReferenceActor.options(**actor_options(num_gpus=gpu)).remote(
                spec.model_path, cfg.model.dtype, cfg.learner.micro_batch_size, cfg.rollout.temperature, policy_spec.threads,
                cfg.learner.logprob_chunk,
            )
        rewards = RewardPool.from_config(spec.bindings, cfg.rewards)
        started.append(rewards)
        engines.wait_ready()
        learners.wait_ready()
    except BaseException:
        close()
        raise
    description = (
        f"started {cfg.rollout.num_engines} {cfg.rollout.engine} engine(s), {len(learners.policy)} DeepSpeed learner(s) "
        f"(ZeRO-{cfg.learner.zero_stage}), {f'{len(learners.critic)} critic learner(s), ' if learners.critic else ''}"
        f"{'a reference model, ' if learners.reference is not None else ''}"
        f"{'LoRA rank ' + str(cfg.learner.lora.rank) + ' (reference: the base), ' if policy_spec.lora else ''}"
        f"{cfg.rewards.num_workers} reward worker(s) in {time.perf_counter() - start:.1f}s"
    )
    return Cluster(engines, learners, rewards, ObjectStoreChannel(learners, engines), close, description)
