"""Continual post-training math on hand-built examples: keep-rules and forgetting metrics."""

from __future__ import annotations

import pytest
import torch

from rlpost.continual.forgetting import forgetting_metrics
from rlpost.continual.keep_rules import filter_instances

REWARDS = torch.tensor(
    [
        [0.0, 0.0, 0.0, 0.0],  # never solved
        [1.0, 0.0, 0.0, 0.0],  # solved once
        [1.0, 1.0, 1.0, 1.0],  # always solved
        [0.5, 0.5, 0.5, 0.5],  # partial credit, never correct, no variance
    ]
)


def test_default_rule_drops_instances_without_a_correct_rollout():
    keep, dropped = filter_instances(REWARDS)
    assert keep.tolist() == [False, True, True, False]
    assert dropped == {"no_correct": 2}


def test_partially_correct_also_drops_solved_instances():
    keep, dropped = filter_instances(REWARDS, rule="partially_correct")
    assert keep.tolist() == [False, True, False, False]
    assert dropped == {"no_correct": 2, "all_correct": 1}


def test_threshold_decides_what_counts_as_correct():
    keep, _ = filter_instances(REWARDS, threshold=0.5)
    assert keep.tolist() == [False, True, True, True]


def test_reward_variance_rule():
    keep, dropped = filter_instances(REWARDS, rule="reward_variance", min_variance=0.1)
    assert keep.tolist() == [False, True, False, False]  # var of [1,0,0,0] is 0.1875
    assert dropped == {"low_variance": 3}


def test_bad_inputs():
    with pytest.raises(ValueError, match="instances, rollouts"):
        filter_instances(torch.zeros(4))
    with pytest.raises(KeyError, match="any_correct"):
        filter_instances(REWARDS, rule="nope")


def test_forgetting_metrics_hand_example():
    # 3 stages; a fourth column is a held-out general task and does not count
    matrix = [
        [0.8, 0.1, 0.2, 0.5],
        [0.6, 0.9, 0.3, 0.5],
        [0.7, 0.5, 0.9, 0.4],
    ]
    m = forgetting_metrics(matrix)
    assert m["average_accuracy"] == pytest.approx((0.7 + 0.5 + 0.9) / 3)
    assert m["backward_transfer"] == pytest.approx(((0.7 - 0.8) + (0.5 - 0.9)) / 2)
    assert m["forgetting"] == pytest.approx(((0.8 - 0.7) + (0.9 - 0.5)) / 2)


def test_no_forgetting_and_single_stage():
    assert forgetting_metrics([[0.5, 0.2], [0.6, 0.7]])["forgetting"] == pytest.approx(-0.1)
    assert forgetting_metrics([[0.4]]) == {"average_accuracy": 0.4, "backward_transfer": 0.0, "forgetting": 0.0}
    with pytest.raises(ValueError):
        forgetting_metrics([[0.1], [0.2]])
