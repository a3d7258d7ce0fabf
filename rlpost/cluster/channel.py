"""Weights from the policy learners to the rollout engines through Ray's object store (one packed
copy per push, read in place by the engines of a node; see `rlpost.cluster.weights`)."""

from __future__ import annotations

from rlpost.cluster.engines import RayEngines
from rlpost.cluster.learners import RayLearners


class ObjectStoreChannel:
    def __init__(self, learners: RayLearners, engines: RayEngines):
        self.learners, self.engines = learners, engines
        self.version = 0

    def push(self) -> float:
        seconds = self.engines.load(self.learners.weights_ref())
        self.version += 1
        return seconds
