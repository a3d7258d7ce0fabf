"""Weights from the policy learners to the rollout engines (`WeightChannel`), two ways, picked by
`cluster.weight_sync` from `CHANNELS`:

- `object_store`: one packed copy per push through Ray's object store, read in place by the engines
  of a node (see `rlpost.cluster.weights`);
- `collective`: policy rank 0 broadcasts the weights in buckets over a process group it forms with
  every engine (`rlpost.collective`: gloo on CPU, NCCL on GPUs). The group is formed on the first
  push and again after an engine was replaced.
"""

from __future__ import annotations

import ray

from rlpost.cluster.engines import RayEngines
from rlpost.cluster.failures import get_from
from rlpost.cluster.learners import POLICY, RayLearners
from rlpost.config import ClusterConfig
from rlpost.trainer.protocols import ENGINE_ROLE


class ObjectStoreChannel:
    def __init__(self, learners: RayLearners, engines: RayEngines):
        self.learners, self.engines = learners, engines
        self.version = 0

    def push(self) -> float:
        seconds = self.engines.load(self.learners.weights_ref())
        self.version += 1
        return seconds


class CollectiveChannel:
    def __init__(self, learners: RayLearners, engines: RayEngines, cfg: ClusterConfig, members_per_engine: int = 1):
        """`members_per_engine`: group members of one engine (its tensor-parallel workers)."""
        self.learners, self.engines = learners, engines
        self.timeout_s, self.bucket_bytes = cfg.sync_timeout_s, int(cfg.sync_bucket_mib * 2**20)
        self.backend = "nccl" if cfg.gpus else "gloo"
        self.members_per_engine = members_per_engine
        self.version = 0
        self.formed_with: list = []  # the engine actors of the current group
        self.metas: list[list] = []

    def _senders(self) -> list:
        return self.learners.policy if self.learners.zero3 else self.learners.policy[:1]

    def form(self) -> None:
        """A new group: policy rank 0 (member 0) and every engine's workers (members 1..), joined together."""
        (address, port), = get_from(POLICY, [self.learners.policy[0].weight_group_address.remote()], self.timeout_s)
        group = {
            "address": address, "port": port, "world_size": 1 + len(self.engines.actors) * self.members_per_engine,
            "timeout_s": self.timeout_s, "backend": self.backend, "bucket_bytes": self.bucket_bytes,
        }  # fmt: skip
        learner_calls = [w.join_weight_group.remote(group) for w in self._senders()]
        engine_calls = [a.join_weight_group.remote(group, 1 + i * self.members_per_engine)
                        for i, a in enumerate(self.engines.actors)]  # fmt: skip
        self._wait(learner_calls, engine_calls)
        self.metas = ray.get(learner_calls[0])
        self.formed_with = list(self.engines.actors)

    def push(self) -> float:
        """Broadcast the current weights; the slowest engine's seconds. An engine that failed is named first (it
        is the one to restart), then a learner; a member that did not answer within `sync_timeout_s` is named."""
        if self.formed_with != self.engines.actors:
            self.form()
        engine_calls = [a.receive_weights.remote(self.metas) for a in self.engines.actors]
        learner_calls = [w.broadcast_weights.remote() for w in self._senders()]
        seconds = max(self._wait(learner_calls, engine_calls))
        self.version += 1
        return seconds

    def _wait(self, learner_calls: list, engine_calls: list) -> list:
        """Both sides' results once all answered (or `timeout_s` passed); engine failures are raised first."""
        ray.wait([*learner_calls, *engine_calls], num_returns=len(learner_calls) + len(engine_calls), timeout=self.timeout_s)
        try:
            out = get_from(ENGINE_ROLE, engine_calls, 0)
            get_from(POLICY, learner_calls, 0)
        except BaseException:
            self.formed_with = []  # a member is gone or out of step: the next push forms a new group
            raise
        return out


# cluster.weight_sync -> (learners, engines, cluster config, group members per engine) -> WeightChannel
CHANNELS = {
    "object_store": lambda learners, engines, cfg, members: ObjectStoreChannel(learners, engines),
    "collective": CollectiveChannel,
}
