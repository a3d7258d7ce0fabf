"""Ray actors wrapping the rollout engines and the learners."""

from __future__ import annotations

import ray

from rlpost.cluster.weights import Packed, unpack
from rlpost.learner.critic import CriticLearner
from rlpost.learner.policy import PolicyLearner, ReferenceModel
from rlpost.rollout import SamplingSpec, create_engine


class RolloutWorker:
    """One rollout engine in its own actor."""

    def __init__(self, engine: str, **engine_kwargs):
        self.engine = create_engine(engine, **engine_kwargs)

    def ready(self) -> bool:
        return True

    def generate(self, prompts: list[list[int]], spec: SamplingSpec):
        return self.engine.generate(prompts, spec)

    def update_weights(self, packed: Packed) -> float:
        """Load weights packed by `rlpost.cluster.weights.pack` (Ray resolves the object ref once
        per node, as read-only views of the store); returns seconds taken."""
        import time

        start = time.perf_counter()
        self.engine.update_weights(unpack(packed))
        return time.perf_counter() - start

    def join_weight_group(self, group: dict, rank_offset: int) -> None:
        self.engine.join_weight_group(group, rank_offset)

    def receive_weights(self, metas: list[list]) -> float:
        """Take one broadcast of the weights from policy rank 0 (`rlpost.collective`); returns seconds taken."""
        import time

        start = time.perf_counter()
        self.engine.receive_weights(metas)
        return time.perf_counter() - start


RolloutActor = ray.remote(RolloutWorker)
PolicyActor = ray.remote(PolicyLearner)
CriticActor = ray.remote(CriticLearner)
ReferenceActor = ray.remote(ReferenceModel)
