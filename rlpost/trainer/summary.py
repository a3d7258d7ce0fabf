"""What a config will run, in a few keys (`rlpost check`)."""

from __future__ import annotations

from typing import Any

from rlpost.algorithms import resolve_algorithm
from rlpost.config import ExperimentConfig


def describe(cfg: ExperimentConfig) -> dict[str, Any]:
    algo = resolve_algorithm(cfg.algorithm.model_dump())
    return {
        "method": cfg.method,
        "algorithm": algo.name,
        "advantage": algo.estimator,
        "loss": algo.loss,
        "run_dir": str(cfg.run.path),
        "steps": sum(s.steps for s in cfg.stages),
        "sequences_per_step": cfg.batch_size,
        "optimizer_steps_per_rollout": cfg.learner.epochs * cfg.batch_size // cfg.mini_batch_size,
        "reference_model": cfg.algorithm.kl_coef > 0,
        "kl_in": cfg.algorithm.kl_in,
        "critic": cfg.critic.model if algo.critic else None,
        "greedy_baseline": algo.greedy_baseline,
        "dynamic_sampling": cfg.algorithm.dynamic_sampling,
        "dtype": cfg.model.dtype,
        "gpus": cfg.cluster.gpus,
        "gpus_layout_needs": cfg.gpus_needed,
        "placement": cfg.cluster.placement,
        "weight_sync": cfg.cluster.weight_sync,
    }
