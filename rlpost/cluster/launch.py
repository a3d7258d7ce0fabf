"""Start a run's actors on Ray and hand them to the loop as a `Cluster`.

Everything started is stopped again when a later part fails to start, so a failed start-up
leaves no actor behind.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rlpost.config import ExperimentConfig
from rlpost.trainer.protocols import Cluster, LaunchSpec


def learner_spec(cfg: ExperimentConfig, model_path: str, lr: float, micro_batch_size: int, policy: bool = True):
    """The DeepSpeed settings of the policy learners (`policy`) or the critic's (which never take LoRA adapters)."""
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
        threads=cfg.learner.threads,
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


def engine_kwargs(cfg: ExperimentConfig, model_path: str, max_model_len: int) -> dict[str, Any]:
    """What every rollout engine of the run is built with (the engine's own settings from `ENGINE_SETTINGS`)."""
    common = {"model_path": model_path, "dtype": cfg.model.dtype, "max_model_len": max_model_len, "threads": cfg.rollout.threads}
    return {**common, **ENGINE_SETTINGS[cfg.rollout.engine](cfg)}


ENGINE_SETTINGS = {
    "vllm": lambda cfg: {
        "tensor_parallel_size": cfg.rollout.tensor_parallel_size,
        "gpu_memory_utilization": cfg.rollout.gpu_memory_utilization,
        "enforce_eager": cfg.rollout.enforce_eager,
        "kv_cache_gib": cfg.rollout.kv_cache_gib,
        "weight_transfer": cfg.cluster.weight_sync == "collective",
    },
    "hf": lambda cfg: {},
}


def launch_ray(cfg: ExperimentConfig, spec: LaunchSpec) -> Cluster:
    """Engines, policy learners, critic, reference model and reward workers as Ray actors, in placement groups
    (`rlpost.cluster.placement`); the learner ranks meet at rank 0's node."""
    from rlpost.cluster.actors import CriticActor, PolicyActor, ReferenceActor, RolloutActor
    from rlpost.cluster.channel import CHANNELS
    from rlpost.cluster.engines import RayEngines
    from rlpost.cluster.learners import RayLearners
    from rlpost.cluster.placement import Placement, rendezvous
    from rlpost.cluster.reward_pool import RewardPool
    from rlpost.cluster.runtime import actor_options, start_ray
    from rlpost.cluster.storage import check_shared

    start = time.perf_counter()
    start_ray(cfg.cluster)
    gpu = cfg.cluster.gpus > 0
    started: list[Any] = []  # objects with close(), stopped in reverse if a later part fails

    def close() -> None:
        for part in reversed(started):
            part.close()

    model_path = str(Path(spec.model_path).resolve())  # the same path on every node (see rlpost.cluster.storage)
    try:
        policy_spec = learner_spec(cfg, model_path, cfg.learner.lr, cfg.learner.micro_batch_size)
        separate_reference = spec.reference and policy_spec.lora is None
        placement = Placement.reserve(
            engines=cfg.rollout.num_engines, engine_gpus=cfg.rollout.tensor_parallel_size if gpu else 0,
            ranks=cfg.learner.num_workers, critic=spec.critic_params is not None, reference=separate_reference, gpu=gpu,
            strategy=cfg.cluster.placement, timeout_s=cfg.learner.timeout_s,
        )  # fmt: skip
        started.append(placement)
        others = check_shared(cfg.run.path.resolve(), [s.task_options() for s in placement.remote_slots()], cfg.learner.timeout_s)
        kwargs = engine_kwargs(cfg, model_path, spec.max_model_len)
        placed = time.perf_counter()

        def new_engine(i: int):
            return RolloutActor.options(**actor_options(placed=placement.engines[i].options())).remote(
                cfg.rollout.engine, seed=cfg.run.seed + i, **kwargs
            )

        engines = RayEngines(new_engine, cfg.rollout.timeout_s)
        started.append(engines)
        engines.start(cfg.rollout.num_engines)
        learners = RayLearners([], [], None, cfg.learner.timeout_s, parallel=gpu, zero3=policy_spec.zero_stage == 3)
        started.append(learners)
        learner_env = {"DS_ACCELERATOR": "cuda" if gpu else "cpu"}
        address, port = rendezvous(placement, placement.policy[0], cfg.learner.timeout_s)
        for r, slot in enumerate(placement.policy):
            actor = PolicyActor.options(**actor_options(learner_env, placed=slot.options()))
            learners.policy.append(actor.remote(policy_spec, spec.policy_params, r, address, port))
        if spec.critic_params is not None:
            critic_path = model_path if cfg.critic.model == "policy" else str(Path(cfg.critic.model).resolve())
            micro = cfg.critic.micro_batch_size or cfg.learner.micro_batch_size
            critic_spec = learner_spec(cfg, critic_path, cfg.critic.lr, micro, policy=False)
            address, port = rendezvous(placement, placement.critic[0], cfg.learner.timeout_s)
            for r, slot in enumerate(placement.critic):
                actor = CriticActor.options(**actor_options(learner_env, placed=slot.options()))
                learners.critic.append(actor.remote(critic_spec, spec.critic_params, r, address, port))
        if spec.reference and not separate_reference:
            learners.reference_in_policy = True  # the base without its adapters: no second copy
        elif spec.reference:
            learners.reference = ReferenceActor.options(**actor_options(placed=placement.reference.options())).remote(
                model_path, cfg.model.dtype, cfg.learner.micro_batch_size, cfg.rollout.temperature, policy_spec.threads,
                cfg.learner.logprob_chunk,
            )
        rewards = RewardPool.from_config(spec.bindings, cfg.rewards)
        started.append(rewards)
        engines.wait_ready()
        engines_ready = time.perf_counter()
        learners.wait_ready()
    except BaseException:
        close()
        raise
    description = (
        f"started {cfg.rollout.num_engines} {cfg.rollout.engine} engine(s), {len(learners.policy)} DeepSpeed learner(s) "
        f"(ZeRO-{cfg.learner.zero_stage}), {f'{len(learners.critic)} critic learner(s), ' if learners.critic else ''}"
        f"{'a reference model, ' if learners.reference is not None else ''}"
        f"{'LoRA rank ' + str(cfg.learner.lora.rank) + ' (reference: the base), ' if policy_spec.lora else ''}"
        f"{cfg.rewards.num_workers} reward worker(s); engines and learners on {len(set(placement.nodes.values()))} node(s) "
        f"({cfg.cluster.placement}; "
        f"{len(others)} besides the driver's, seeing its run directory"
        f"{f', {cfg.cluster.gpus} GPUs' if gpu else ''}) in {time.perf_counter() - start:.1f}s (placed and storage "
        f"checked {placed - start:.1f}s, engines ready +{engines_ready - placed:.1f}s, learners +"
        f"{time.perf_counter() - engines_ready:.1f}s)"
    )
    members = cfg.rollout.tensor_parallel_size if cfg.rollout.engine == "vllm" else 1
    channel = CHANNELS[cfg.cluster.weight_sync](learners, engines, cfg.cluster, members)
    return Cluster(engines, learners, rewards, channel, close, description, placement.lost)
