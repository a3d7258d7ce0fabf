"""Where an actor's models run and how many threads it takes, decided inside the actor from its own node.

Ray makes the GPUs it gave an actor visible to it (`CUDA_VISIBLE_DEVICES`), so the device is the
first visible GPU, or the CPU when there is none; threads come from the cores this process may
use on its node, not from the driver's machine.
"""

from __future__ import annotations

import os

import torch


def actor_device(requested: str | None = None) -> torch.device:
    """`requested` ("cpu", "cuda", "cuda:1"), else the first visible GPU, else the CPU."""
    if requested:
        return torch.device(requested)
    return torch.device("cuda", 0) if torch.cuda.is_available() and torch.cuda.device_count() else torch.device("cpu")


def node_cores() -> int:
    """Cores this process may run on (its affinity mask on its own node)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def set_threads(threads: int | None) -> int:
    """torch's intra-op threads: `threads`, else every core of this node; returns the count."""
    count = threads or node_cores()
    torch.set_num_threads(count)
    return count

