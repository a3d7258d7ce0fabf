"""Which node runs which actor: Ray placement groups for the engines and for the learner ranks.

One group holds a bundle per engine (`rollout.tensor_parallel_size` GPUs each: an engine's GPUs are
on one node), another a bundle per policy rank, critic rank and the reference model (one GPU each).
`cluster.placement` picks the strategy of both: `pack` fills as few nodes as it can, `spread` puts
bundles on different nodes where there are enough. Each bundle's CPU is a small logical share
(`ACTOR_NUM_CPUS`): on CPU the phases of a step take turns, and every actor sizes its threads from
its own node.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import ray
from ray.util.placement_group import PlacementGroup, placement_group, placement_group_table, remove_placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from rlpost.cluster.learners import CRITIC, POLICY, REFERENCE
from rlpost.cluster.runtime import ACTOR_NUM_CPUS
from rlpost.trainer.protocols import ENGINE_ROLE

STRATEGIES = {"pack": "PACK", "spread": "SPREAD"}
NODE_DEATH_GRACE_S = 30.0  # longer than Ray's node health check takes to declare a node dead (about 15 s)
CONNECTION_LOST = ("ActorUnavailableError", "node")  # failure texts after which a node may be dead


class PlacementError(RuntimeError):
    """The cluster cannot hold the bundles asked for (too few GPUs or CPUs, or no node has them together)."""


@dataclass(frozen=True)
class Slot:
    """One actor's bundle: the resources it asks for and where Ray reserved them."""

    group: PlacementGroup
    bundle: int
    num_gpus: float

    def options(self) -> dict[str, Any]:
        """Ray `.options(...)` that put an actor into this bundle."""
        return {"num_cpus": ACTOR_NUM_CPUS, "num_gpus": self.num_gpus, **self.task_options()}

    def task_options(self) -> dict[str, Any]:
        """Ray `.options(...)` of a task run on this bundle's node without taking its resources."""
        strategy = PlacementGroupSchedulingStrategy(self.group, placement_group_bundle_index=self.bundle)
        return {"num_cpus": 0, "num_gpus": 0, "scheduling_strategy": strategy}


@dataclass
class Placement:
    engines: list[Slot]
    policy: list[Slot]
    critic: list[Slot]
    reference: Slot | None
    groups: list[PlacementGroup]
    nodes: dict[tuple[str, int], str] = field(default_factory=dict)  # (group id, bundle) -> node id, as first placed

    @classmethod
    def reserve(
        cls, *, engines: int, engine_gpus: int, ranks: int, critic: bool, reference: bool, gpu: bool, strategy: str,
        timeout_s: float,
    ) -> Placement:  # fmt: skip
        """Reserve the bundles (waiting at most `timeout_s`); `strategy` is `pack` or `spread`."""
        learner_gpus = 1 if gpu else 0
        engine_bundle = {"CPU": ACTOR_NUM_CPUS, **({"GPU": engine_gpus} if engine_gpus else {})}
        learner_bundle = {"CPU": ACTOR_NUM_CPUS, **({"GPU": learner_gpus} if learner_gpus else {})}
        learner_count = ranks * (2 if critic else 1) + (1 if reference else 0)
        wanted = engines * engine_gpus + learner_count * learner_gpus
        total = ray.cluster_resources().get("GPU", 0)
        if wanted > total:
            raise PlacementError(f"the layout needs {wanted} GPUs and the cluster has {total:g} in all")
        engine_group = _ready([engine_bundle] * engines, "engines", strategy, timeout_s)
        try:
            learner_group = _ready([learner_bundle] * learner_count, "learners", strategy, timeout_s)
        except BaseException:
            remove_placement_group(engine_group)
            raise
        slots = [Slot(learner_group, i, learner_gpus) for i in range(learner_count)]
        return cls(
            engines=[Slot(engine_group, i, engine_gpus) for i in range(engines)],
            policy=slots[:ranks],
            critic=slots[ranks : 2 * ranks] if critic else [],
            reference=slots[-1] if reference else None,
            groups=[engine_group, learner_group],
            nodes={
                (group.id.hex(), bundle): node
                for group in (engine_group, learner_group)
                for bundle, node in placement_group_table(group)["bundles_to_node_id"].items()
            },
        )

    def roles(self) -> list[tuple[str, Slot]]:
        """(actor name, slot) of every placed actor, e.g. ("policy learner 1", slot)."""
        named = [(ENGINE_ROLE, self.engines), (POLICY, self.policy), (CRITIC, self.critic)]
        out = [(f"{role} {i}", slot) for role, slots in named for i, slot in enumerate(slots)]
        return out + ([(f"{REFERENCE} 0", self.reference)] if self.reference is not None else [])

    def lost(self, failure: str = "") -> str:
        """The nodes of this run that Ray reports dead and the actors that were placed on them ('' when none). After a
        `failure` that looks like a lost connection (an unavailable actor, a dead node) Ray is given up to
        `NODE_DEATH_GRACE_S` to mark the node dead: the actor's socket closes at once, the node's death is noticed
        only at its health check."""
        dead = self.dead_nodes()
        if not dead and any(sign in failure for sign in CONNECTION_LOST):
            deadline = time.monotonic() + NODE_DEATH_GRACE_S
            while not dead and time.monotonic() < deadline:
                time.sleep(1.0)
                dead = self.dead_nodes()
        found: dict[str, list[str]] = {}
        for name, slot in self.roles():
            node = self.node_of(slot)
            if node in dead:
                found.setdefault(f"{dead[node]} (node {node[:12]})", []).append(name)
        return "; ".join(f"lost node {where} with {', '.join(names)}" for where, names in found.items())

    def dead_nodes(self) -> dict[str, str]:
        """Node ID -> address of the nodes this run placed actors on that Ray reports dead."""
        placed = set(self.nodes.values())
        return {n["NodeID"]: n["NodeManagerAddress"] for n in ray.nodes() if not n["Alive"] and n["NodeID"] in placed}

    @property
    def learner_slots(self) -> list[Slot]:
        return [*self.policy, *self.critic, *([self.reference] if self.reference is not None else [])]

    def node_of(self, slot: Slot) -> str:
        """The ID of the node Ray first placed `slot` on."""
        return self.nodes[(slot.group.id.hex(), slot.bundle)]

    def remote_slots(self) -> list[Slot]:
        """One slot per node other than the driver's that holds any of the run's bundles."""
        here = ray.get_runtime_context().get_node_id()
        by_node = {self.node_of(slot): slot for slot in [*self.engines, *self.learner_slots]}
        return [slot for node, slot in by_node.items() if node != here]

    def close(self) -> None:
        for group in self.groups:
            remove_placement_group(group)


def _ready(bundles: list[dict[str, float]], what: str, strategy: str, timeout_s: float) -> PlacementGroup:
    """A placement group of `bundles`, once Ray reserved them; PlacementError naming them when it cannot in time."""
    group = placement_group(bundles, STRATEGIES[strategy])
    try:
        ray.get(group.ready(), timeout=timeout_s)
    except ray.exceptions.GetTimeoutError:
        remove_placement_group(group)
        raise PlacementError(
            f"could not place the {what} ({len(bundles)} bundles of {bundles[0]}, {strategy}) within {timeout_s:.0f}s; "
            f"free on the cluster: {ray.available_resources()}"
        ) from None
    return group


@ray.remote(num_cpus=0)
def _node_address() -> tuple[str, int]:
    from rlpost.learner.distributed import free_port

    return ray.util.get_node_ip_address(), free_port()


def rendezvous(placement: Placement, slot: Slot, timeout_s: float) -> tuple[str, int]:
    """(IP, free port) on the node of `slot` (where learner rank 0 will run): the address of its process group.
    Asked there by a task, unless that node is the driver's."""
    if placement.node_of(slot) == ray.get_runtime_context().get_node_id():
        from rlpost.learner.distributed import free_port

        return ray.util.get_node_ip_address(), free_port()
    return ray.get(_node_address.options(**slot.task_options()).remote(), timeout=timeout_s)
