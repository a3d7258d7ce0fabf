"""How a rank splits its rows of a mini-batch into micro-batches (forward/backward passes).

Fixed: `micro_batch_size` rows each, in the given order. By token budget: rows sorted by length
(longest first) and packed greedily so that a micro-batch's padded size, rows × its longest row,
stays within `budget` tokens (a row longer than the budget goes alone); short responses then do not
pad to the long ones and a micro-batch of long rows holds fewer of them.
"""

from __future__ import annotations

import torch


def fixed_micro_batches(rows: torch.Tensor, micro_batch_size: int) -> list[torch.Tensor]:
    """`rows` [R] (row indices) cut into consecutive pieces of `micro_batch_size`."""
    return list(rows.split(micro_batch_size))


def token_budget_micro_batches(rows: torch.Tensor, lengths: torch.Tensor, budget: int) -> list[torch.Tensor]:
    """`rows` [R] packed by `lengths` [R] (tokens per row, padding excluded): each piece's
    len(piece) × max length ≤ `budget`, or a single row. Longest rows first."""
    order = torch.argsort(lengths, descending=True, stable=True)
    pieces: list[list[int]] = []
    widest = 0
    for i in order.tolist():
        length = int(lengths[i])
        if pieces and (len(pieces[-1]) + 1) * max(widest, length) <= budget:
            pieces[-1].append(i)
            widest = max(widest, length)
        else:
            pieces.append([i])
            widest = length
    return [rows[torch.tensor(p, dtype=torch.long)] for p in pieces]
