"""Starting or joining Ray, and actor options that let phases share the cores."""

from __future__ import annotations

import os
from typing import Any

from rlpost.config import ClusterConfig

# Phases of a synchronous step alternate, so actors take a small logical share of the CPUs
# (all of them fit) and each may use every core while it works.
ACTOR_NUM_CPUS = 0.1


def start_ray(cfg: ClusterConfig) -> None:
    import ray

    if ray.is_initialized():
        return
    address = cfg.address or os.environ.get("RAY_ADDRESS")
    kwargs: dict[str, Any] = {"address": address, "log_to_driver": True, "include_dashboard": False}
    if not address:
        kwargs["num_cpus"] = cfg.num_cpus or os.cpu_count()
    else:
        kwargs.pop("include_dashboard")
    ray.init(**kwargs)


def actor_options(
    env_vars: dict[str, str] | None = None, num_gpus: float = 0, name: str | None = None, placed: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Ray `.options(...)` for a heavy actor: small CPU share (or a placement group bundle's `placed` options, see
    `rlpost.cluster.placement.Slot`), `env_vars` on top of the defaults. Threads are not set here: each actor
    takes its node's cores (`rlpost.devices.set_threads`), unless `env_vars` fix them."""
    env = {"TOKENIZERS_PARALLELISM": "false", **(env_vars or {})}
    opts: dict[str, Any] = {"num_cpus": ACTOR_NUM_CPUS, "num_gpus": num_gpus, **(placed or {}), "runtime_env": {"env_vars": env}}
    if name:
        opts["name"] = name
    return opts
