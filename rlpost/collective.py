"""Weights broadcast from policy rank 0 to the engines over a process group of their own, in buckets.

The group is separate from the learners' data-parallel one (and from vLLM's own): policy rank 0 is
member 0 and hosts the rendezvous store on its node; engine workers are members 1.. . The same code
runs gloo between CPU processes and NCCL between GPUs (`GroupInfo.backend`). Each bucket is the bytes
of consecutive tensors laid end to end (at most `bucket_bytes`, a larger tensor alone; each at an
aligned offset), broadcast as one uint8 tensor and cut back into views on the receiving side, so a
push is a few large messages rather than one per parameter. Every wait is bounded by the group's timeout.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta

import torch


@dataclass(frozen=True)
class GroupInfo:
    """Where and how the members meet: rank 0's node address and a port free there, the member count."""

    address: str
    port: int
    world_size: int
    timeout_s: float
    backend: str  # "gloo" | "nccl"
    bucket_bytes: int


@dataclass(frozen=True)
class TensorMeta:
    name: str
    dtype: str  # torch dtype name, e.g. "bfloat16"
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * getattr(torch, self.dtype).itemsize


def metas_of(state: Mapping[str, torch.Tensor]) -> list[TensorMeta]:
    return [TensorMeta(name, str(t.dtype).removeprefix("torch."), tuple(t.shape)) for name, t in state.items()]


def buckets(metas: list[TensorMeta], bucket_bytes: int) -> list[list[TensorMeta]]:
    """Consecutive tensors grouped so that each group's bytes stay within `bucket_bytes` (a larger tensor alone)."""
    out: list[list[TensorMeta]] = []
    size = 0
    for meta in metas:
        if out and size + meta.nbytes <= bucket_bytes:
            out[-1].append(meta)
            size += meta.nbytes
        else:
            out.append([meta])
            size = meta.nbytes
    return out


def join(info: GroupInfo, rank: int, device: torch.device):
    """This process's member `rank` of the group (rank 0 hosts the store); returns (store, process group), both to
    be kept for as long as the group is used."""
    store = torch.distributed.TCPStore(
        info.address, info.port, info.world_size, is_master=rank == 0, timeout=timedelta(seconds=info.timeout_s),
        wait_for_workers=False,
    )  # fmt: skip
    prefixed = torch.distributed.PrefixStore("rlpost-weights", store)
    if info.backend == "nccl":
        options = torch.distributed.ProcessGroupNCCL.Options()
        options._timeout = timedelta(seconds=info.timeout_s)
        torch.cuda.set_device(device)
        return store, torch.distributed.ProcessGroupNCCL(prefixed, rank, info.world_size, options)
    return store, torch.distributed.ProcessGroupGloo(prefixed, rank, info.world_size, timedelta(seconds=info.timeout_s))


ALIGN = 16  # bytes: every tensor starts at a multiple of this in its bucket, so views of any dtype are aligned


def layout(bucket: list[TensorMeta]) -> tuple[list[int], int]:
    """Byte offset of each tensor in the bucket's buffer, and the buffer's size."""
    offsets, size = [], 0
    for meta in bucket:
        offsets.append(size)
        size += -(-meta.nbytes // ALIGN) * ALIGN
    return offsets, size


def send(group, state: Mapping[str, torch.Tensor], metas: list[TensorMeta], bucket_bytes: int, device: torch.device) -> None:
    """Member 0: broadcast `state` (in the order of `metas`) bucket by bucket."""
    for bucket in buckets(metas, bucket_bytes):
        offsets, size = layout(bucket)
        flat = torch.empty(size, dtype=torch.uint8, device=device)
        for meta, offset in zip(bucket, offsets):
            flat[offset : offset + meta.nbytes].copy_(state[meta.name].detach().contiguous().reshape(-1).view(torch.uint8))
        group.broadcast(flat, 0).wait()


def receive(group, metas: list[TensorMeta], bucket_bytes: int, device: torch.device) -> Iterator[list[tuple[str, torch.Tensor]]]:
    """Members 1..: each broadcast bucket as (name, tensor) views of the received bytes, bucket by bucket."""
    for bucket in buckets(metas, bucket_bytes):
        offsets, size = layout(bucket)
        flat = torch.empty(size, dtype=torch.uint8, device=device)
        group.broadcast(flat, 0).wait()
        yield [
            (m.name, flat[offset : offset + m.nbytes].view(getattr(torch, m.dtype)).view(m.shape))
            for m, offset in zip(bucket, offsets)
        ]
