"""Process-group set-up for a learner rank living in a Ray actor."""

from __future__ import annotations

import os
import socket

from rlpost.devices import set_threads


def free_port(host: str = "") -> int:
    """A TCP port of this machine free now on `host` (default: on every address; the caller binds it soon after)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def init_rank(rank: int, world_size: int, master_addr: str, master_port: int, threads: int | None) -> None:
    """Set the torch.distributed environment and join the group (gloo on CPU, nccl on GPU); torch threads
    `threads`, else every core of this rank's node."""
    import deepspeed
    import torch

    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK="0",
        WORLD_SIZE=str(world_size),
        LOCAL_WORLD_SIZE="1",
        MASTER_ADDR=master_addr,
        MASTER_PORT=str(master_port),
    )
    set_threads(threads)
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    deepspeed.init_distributed(dist_backend=backend, auto_mpi_discovery=False)
