"""The DeepSpeed policy learners, the critic learners and the reference model as Ray actors
behind `Learners`. Per-token quantities are computed by the data-parallel ranks on their row
shards (rank r takes rows r::world) and put back together here."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ray
import torch

from rlpost.batch import RolloutBatch
from rlpost.cluster.failures import get_from
from rlpost.trainer.protocols import TrainStats

POLICY, CRITIC, REFERENCE = "policy learner", "critic learner", "reference model"


class RayLearners:
    def __init__(
        self, policy: list[Any], critic: list[Any], reference: Any | None, timeout_s: float, parallel: bool, zero3: bool
    ):
        """`parallel`: policy and critic train at the same time (each on its own device); on shared
        CPU cores they take turns, since two thread pools fighting are several times slower.
        `zero3`: the weights are sharded, so every rank takes part in gathering them."""
        self.policy, self.critic, self.reference = policy, critic, reference
        self.reference_in_policy = False  # LoRA: the policy learners give the base model's logprobs
        self.timeout_s, self.parallel, self.zero3 = timeout_s, parallel, zero3

    @property
    def has_critic(self) -> bool:
        return bool(self.critic)

    @property
    def has_reference(self) -> bool:
        return self.reference is not None or self.reference_in_policy

    @property
    def actors(self) -> list[Any]:
        return [*self.policy, *self.critic, *([self.reference] if self.reference is not None else [])]

    def wait_ready(self) -> None:
        for role, actors in ((POLICY, self.policy), (CRITIC, self.critic), (REFERENCE, self._reference())):
            get_from(role, [a.ready.remote() for a in actors], self.timeout_s)

    def _reference(self) -> list[Any]:
        return [self.reference] if self.reference is not None else []

    def set_params(self, policy: Mapping[str, Any], critic: Mapping[str, Any] | None) -> None:
        get_from(POLICY, [w.set_params.remote(dict(policy)) for w in self.policy], self.timeout_s)
        if critic is not None:
            get_from(CRITIC, [c.set_params.remote(dict(critic)) for c in self.critic], self.timeout_s)

    def _gather(self, role: str, actors: list[Any], method: str, batch: RolloutBatch) -> torch.Tensor:
        ref = ray.put(batch)
        shards = get_from(role, [getattr(a, method).remote(ref) for a in actors], self.timeout_s)
        out = torch.zeros_like(batch.rollout_logprobs)
        for rank, part in enumerate(shards):
            out[rank :: len(actors)] = part
        return out * batch.response_mask

    def old_logprobs(self, batch: RolloutBatch) -> torch.Tensor:
        return self._gather(POLICY, self.policy, "compute_logprobs", batch)

    def values(self, batch: RolloutBatch) -> torch.Tensor:
        return self._gather(CRITIC, self.critic, "compute_values", batch)

    def ref_logprobs(self, batch: RolloutBatch) -> torch.Tensor:
        if self.reference_in_policy:
            return self._gather(POLICY, self.policy, "compute_ref_logprobs", batch)
        (ref,) = get_from(REFERENCE, [self.reference.compute_logprobs.remote(ray.put(batch))], self.timeout_s)
        return ref * batch.response_mask

    def train(self, batch: RolloutBatch, policy: bool = True) -> TrainStats:
        ref = ray.put(batch)
        policy_calls = [w.train.remote(ref) for w in self.policy] if policy else []
        if not self.parallel:
            policy_stats = get_from(POLICY, policy_calls, self.timeout_s)
        critic_stats = get_from(CRITIC, [c.train.remote(ref) for c in self.critic], self.timeout_s)
        if self.parallel:
            policy_stats = get_from(POLICY, policy_calls, self.timeout_s)
        return TrainStats(policy_stats, critic_stats)

    def weights_ref(self) -> Any:
        """An object ref of the full policy weights, packed for the engines (every rank takes part under ZeRO-3)."""
        callers = self.policy if self.zero3 else self.policy[:1]
        return get_from(POLICY, [w.weights_ref.remote() for w in callers], self.timeout_s)[0]

    def save(self, path: Path, with_state: bool) -> None:
        """Every rank writes to `path` as the driver names it (absolute: the same path on every node's shared storage)."""
        path = path.resolve()
        get_from(POLICY, [w.save.remote(str(path), with_state) for w in self.policy], self.timeout_s)
        get_from(CRITIC, [c.save.remote(str(path / "critic"), with_state) for c in self.critic], self.timeout_s)

    def load(self, path: Path) -> None:
        path = path.resolve()
        get_from(POLICY, [w.load_state.remote(str(path)) for w in self.policy], self.timeout_s)
        get_from(CRITIC, [c.load_state.remote(str(path / "critic")) for c in self.critic], self.timeout_s)

    def close(self) -> None:
        for actor in self.actors:
            ray.kill(actor, no_restart=True)
