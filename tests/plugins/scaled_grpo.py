"""A third-party algorithm, written as a user would: an estimator with a hyperparameter of its own
(`algorithm.adv_scale`), registered beside the built-in parts, and a recipe pairing it with the
built-in clipped loss. Named in YAML as `algorithm.name: tests/plugins/scaled_grpo.py:SCALED_GRPO`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from rlpost.algorithms import Advantages, Algorithm, Estimator, register_estimator
from rlpost.algorithms.advantages import group_normalized_advantages


class ScaledSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    adv_scale: float = Field(2.0, gt=0, description="multiplies the group-normalised advantage")


def scaled_group_advantages(batch, p) -> Advantages:
    adv = group_normalized_advantages(batch.rewards, batch.group_ids, batch.response_mask, eps=p["adv_eps"])
    return Advantages(adv * p["adv_scale"], stats={"advantage/scale": p["adv_scale"]})


register_estimator(
    Estimator(
        name="scaled_group",
        description="group-normalised advantage times adv_scale",
        fn=scaled_group_advantages,
        min_samples_per_prompt=2,
        equal_rewards_no_signal=True,
    )
)
SCALED_GRPO = Algorithm(
    name="scaled_grpo",
    description="GRPO with a scaled advantage (a test plugin)",
    estimator="scaled_group",
    loss="clipped",
    settings=ScaledSettings,
)
