"""The algorithm settings a stage runs with: its merged config, the registered recipe, the plain
`params` mapping the learners and estimators read, and the adaptive KL controller's β."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rlpost.algorithms import Algorithm, resolve_algorithm
from rlpost.algorithms.shaping import adaptive_kl_coef
from rlpost.config import AlgorithmConfig, ExperimentConfig


@dataclass
class StageAlgorithm:
    config: AlgorithmConfig
    algorithm: Algorithm
    params: dict[str, Any]
    value_clip: float | None  # the critic's ε_v

    @classmethod
    def for_stage(cls, cfg: ExperimentConfig, index: int, kl_coef: float | None = None) -> StageAlgorithm:
        """Stage `index`'s settings; `kl_coef` restores an adaptive β saved mid-stage."""
        config = cfg.stage_algorithm(index)
        params = config.model_dump()
        if params["is_correction"] is None:
            params["is_correction"] = "none" if cfg.rollout.mode == "sync" else "tis"
        if kl_coef is not None:
            params["kl_coef"] = kl_coef
        return cls(config, resolve_algorithm(params), params, cfg.critic.value_clip)

    @property
    def critic_params(self) -> dict[str, Any] | None:
        """What the critic learners get, or None when the recipe has no critic."""
        return {**self.params, "value_clip": self.value_clip} if self.algorithm.critic else None

    @property
    def kl_in_reward(self) -> bool:
        return self.params["kl_coef"] > 0 and self.params["kl_in"] == "reward"

    def adapt_kl(self, observed_kl: float, samples: int) -> float:
        """β after a step that saw `observed_kl` over `samples` sequences (unchanged without `kl_target`)."""
        if self.config.kl_target is not None:
            self.params["kl_coef"] = adaptive_kl_coef(
                self.params["kl_coef"], observed_kl, target=self.config.kl_target, horizon=self.config.kl_horizon,
                n_steps=samples,
            )  # fmt: skip
        return self.params["kl_coef"]
