"""Micro-batch splitting (`rlpost.learner.micro_batches`) on hand examples."""

from __future__ import annotations

import torch

from rlpost.learner.micro_batches import fixed_micro_batches, token_budget_micro_batches


def test_fixed_micro_batches_keep_the_order():
    pieces = fixed_micro_batches(torch.tensor([4, 2, 6, 0, 8]), 2)
    assert [p.tolist() for p in pieces] == [[4, 2], [6, 0], [8]]


def test_token_budget_packs_longest_first_within_the_budget():
    rows = torch.tensor([10, 11, 12, 13, 14, 15, 16, 17])
    lengths = torch.tensor([4, 5, 10, 8, 6, 6, 9, 7])
    pieces = token_budget_micro_batches(rows, lengths, budget=20)
    # 10,9 (2 x 10 = 20) | 8,7 (16; a third row would make 24) | 6,6,5 (18) | 4
    assert [p.tolist() for p in pieces] == [[12, 16], [13, 17], [14, 15, 11], [10]]
    for p in pieces:
        picked = lengths[(rows[:, None] == p[None, :]).any(-1)]
        assert len(p) * int(picked.max()) <= 20
    assert sorted(torch.cat(pieces).tolist()) == rows.tolist()


def test_a_row_longer_than_the_budget_goes_alone():
    pieces = token_budget_micro_batches(torch.tensor([0, 1, 2]), torch.tensor([50, 3, 3]), budget=8)
    assert [p.tolist() for p in pieces] == [[0], [1, 2]]
