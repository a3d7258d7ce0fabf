"""Step 4: dynamic sampling. For recipes whose advantage is zero when a group's rewards are all
equal, such groups are dropped and more rows drawn, up to `max_rounds` rounds; when still short,
dropped groups top the batch up (they carry zero advantage, so they cost compute, not bias)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from rlpost.algorithms.shaping import all_equal_groups
from rlpost.batch import RolloutBatch, concat_batches

Draw = Callable[[int], RolloutBatch]  # round index -> a scored batch (group ids unique across rounds)


def collect_groups(draw: Draw, want: int, max_rounds: int, pad_id: int) -> tuple[RolloutBatch, dict[str, float]]:
    """`want` groups, those with varied rewards first (in the order drawn); and the sampling metrics."""
    kept: list[RolloutBatch] = []
    dropped: list[RolloutBatch] = []
    n_kept = n_dropped = rounds = 0
    while n_kept < want and rounds < max_rounds:
        batch = draw(rounds)
        rounds += 1
        equal = all_equal_groups(batch.rewards, batch.group_ids)
        kept.append(batch.select((~equal).nonzero().flatten()))
        dropped.append(batch.select(equal.nonzero().flatten()))
        n_kept += len(kept[-1].group_ids.unique())
        n_dropped += len(dropped[-1].group_ids.unique())
    merged = concat_batches([b for b in kept + dropped if len(b)], pad_id)
    order = list(dict.fromkeys(merged.group_ids.tolist()))[:want]
    batch = merged.select(torch.isin(merged.group_ids, torch.tensor(order)).nonzero().flatten())
    stats = {
        "sampling/rounds": float(rounds),
        "sampling/dropped_groups": float(n_dropped),
        "sampling/topped_up_groups": float(max(0, want - n_kept)),
    }
    return batch, stats
