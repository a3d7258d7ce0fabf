"""The off-policy correction weights (`rlpost.algorithms.off_policy`) on hand-computed examples."""

from __future__ import annotations

import math

import pytest
import torch

from rlpost.algorithms.off_policy import correction_weights, sequence_mask_weights, truncated_token_weights
from rlpost.algorithms.policy_loss import clipped_policy_loss

MASK = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])


def logs(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows).log()


def test_truncated_token_weights_cap_each_ratio():
    # ratios π_prox / μ: row 0: 2, 0.5, (padding); row 1: 4, 1, 1.25
    proximal = logs([[0.5, 0.2, 0.3], [0.8, 0.3, 0.5]])
    behaviour = logs([[0.25, 0.4, 0.9], [0.2, 0.3, 0.4]])
    weights, stats = truncated_token_weights(proximal, behaviour, MASK, cap=1.5)
    expected = torch.tensor([[1.5, 0.5, 0.0], [1.5, 1.0, 1.25]])
    assert torch.allclose(weights, expected, atol=1e-6)
    assert stats["is/truncated_frac"] == pytest.approx(2 / 5)
    assert stats["is/ratio_max"] == pytest.approx(4.0, rel=1e-5)
    assert stats["is/ratio_mean"] == pytest.approx((2 + 0.5 + 4 + 1 + 1.25) / 5, rel=1e-5)


def test_sequence_mask_drops_sequences_whose_geometric_mean_ratio_leaves_the_band():
    # row 0: ratios 2 and 0.5 -> geometric mean 1 (kept); row 1: 4, 4, 4 -> 4 > cap 2 (masked)
    proximal = logs([[0.5, 0.2, 0.3], [0.8, 0.8, 0.8]])
    behaviour = logs([[0.25, 0.4, 0.3], [0.2, 0.2, 0.2]])
    weights, stats = sequence_mask_weights(proximal, behaviour, MASK, cap=2.0)
    assert weights.tolist() == [[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    assert stats["is/masked_frac"] == 0.5
    # a ratio of exactly 1/cap is inside the band
    inside, _ = sequence_mask_weights(torch.zeros(1, 2), torch.full((1, 2), math.log(2.0)), torch.ones(1, 2), cap=2.0)
    assert inside.tolist() == [[1.0, 1.0]]


def test_equal_behaviour_and_proximal_leave_the_loss_unchanged():
    torch.manual_seed(0)
    proximal = torch.randn(2, 3) - 2
    logprobs = proximal + 0.1 * torch.randn(2, 3)
    advantages = torch.randn(2, 3)
    plain, _ = clipped_policy_loss(logprobs, proximal, advantages, MASK)
    for name in ("tis", "mis"):
        weights, stats = correction_weights(name, proximal, proximal.clone(), MASK, 2.0)
        assert torch.equal(weights, MASK)
        assert torch.allclose(plain * weights, plain * MASK)
        assert stats["is/ratio_mean"] == pytest.approx(1.0) and stats["is/ratio_max"] == pytest.approx(1.0)
    assert correction_weights("none", proximal, proximal - 1, MASK, 2.0) == (None, {})


def test_weights_carry_no_gradient():
    proximal = torch.zeros(1, 2, requires_grad=True)
    weights, _ = truncated_token_weights(proximal, torch.full((1, 2), -1.0), torch.ones(1, 2), cap=10.0)
    assert not weights.requires_grad and torch.allclose(weights, torch.full((1, 2), math.e))
