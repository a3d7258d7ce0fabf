"""RLOO, REINFORCE++ (and its group-baseline variant), GSPO and CISPO: hand-computed values, gradients
and the invariants each recipe promises. float64 wherever a hand value is compared."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch.testing import assert_close

from rlpost.algorithms import get_algorithm
from rlpost.algorithms.advantages import discounted_returns, reinforce_pp_advantages, rloo_advantages
from rlpost.algorithms.policy_loss import cispo_policy_loss, gspo_policy_loss

F64 = torch.float64


def _t(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=F64)


def test_rloo_baseline_is_the_mean_of_the_others():
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.5, 0.5, 3.0])
    groups = torch.tensor([0, 0, 0, 0, 1, 1, 2])
    mask = torch.ones(7, 2)
    adv = rloo_advantages(rewards, groups, mask)[:, 0]
    # group 0: a right answer's baseline is (0 + 0 + 1)/3, a wrong one's (1 + 0 + 1)/3
    assert adv[:4].tolist() == pytest.approx([2 / 3, -2 / 3, -2 / 3, 2 / 3])
    assert adv[4:].tolist() == [0.0, 0.0, 0.0]  # equal rewards, and a group of one
    assert_close(rloo_advantages(rewards, groups, mask)[:, 1], adv)  # broadcast to every response token


def test_discounted_returns_skip_masked_positions():
    rewards = _t([[0.0, 1.0, 5.0, 2.0]])
    mask = _t([[1.0, 1.0, 0.0, 1.0]])
    # G_3 = 2, G_1 = 1 + 0.5·2 (position 2 skipped), G_0 = 0 + 0.5·2
    assert_close(discounted_returns(rewards, mask, gamma=0.5), _t([[1.0, 2.0, 0.0, 2.0]]))


def test_reinforce_pp_whitens_returns_over_the_batch():
    rewards = _t([1.0, 0.0])
    mask = _t([[1.0, 1.0], [1.0, 0.0]])
    adv = reinforce_pp_advantages(rewards, mask)
    # returns [1, 1] and [0]: mean 2/3, unbiased variance ((1/3)²·2 + (2/3)²)/2 = 1/3
    std = math.sqrt(1 / 3 + 1e-8)
    assert_close(adv, _t([[(1 - 2 / 3) / std, (1 - 2 / 3) / std], [(0 - 2 / 3) / std, 0.0]]))
    masked = adv[mask.bool()]
    assert masked.mean().item() == pytest.approx(0.0, abs=1e-12) and masked.std().item() == pytest.approx(1.0, abs=1e-6)


def test_reinforce_pp_takes_the_token_kl_into_the_returns():
    rewards = _t([1.0, 0.0])
    mask = _t([[1.0, 1.0], [1.0, 0.0]])
    kl = _t([[0.1, 0.1], [0.1, 0.0]])
    adv = reinforce_pp_advantages(rewards, mask, kl=kl, kl_coef=0.5)
    # token rewards [-0.05, 0.95] and [-0.05]: returns [0.9, 0.95] and [-0.05]
    returns = [0.9, 0.95, -0.05]
    mean = sum(returns) / 3
    std = math.sqrt(sum((r - mean) ** 2 for r in returns) / 2 + 1e-8)
    assert_close(adv, _t([[(0.9 - mean) / std, (0.95 - mean) / std], [(-0.05 - mean) / std, 0.0]]))


def test_reinforce_pp_baseline_subtracts_the_group_mean_first():
    rewards = _t([1.0, 0.0, 3.0, 3.0])
    groups = torch.tensor([0, 0, 1, 1])
    mask = torch.ones(4, 1, dtype=F64)
    # centred per group: [0.5, -0.5, 0, 0]; then whitened over the 4 tokens (mean 0, unbiased var 1/6)
    std = math.sqrt(0.5 / 3 + 1e-8)
    assert_close(reinforce_pp_advantages(rewards, mask, group_ids=groups), _t([[0.5 / std], [-0.5 / std], [0.0], [0.0]]))
    # without the baseline the high-reward group stands out instead
    plain = reinforce_pp_advantages(rewards, mask)[:, 0]
    assert plain[2] > plain[0] > plain[1]


def test_gspo_uses_one_length_normalised_ratio_per_sequence():
    old = _t([[-1.0, -1.0, -1.0], [-1.0, -1.0, -1.0]])
    lp = (old + _t([[0.04, 0.06, 0.0], [0.5, -0.5, 0.0]])).requires_grad_(True)
    mask = _t([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    adv = _t([[1.0, 1.0, 1.0], [-2.0, -2.0, -2.0]])
    loss, stats = gspo_policy_loss(lp, old, adv, mask, clip_low=0.2, clip_high=0.2)
    s0 = math.exp(0.05)  # row 0: mean log-ratio over its 2 tokens; inside [0.8, 1.2]
    assert_close(loss.detach(), _t([[-s0, -s0, 0.0], [2.0, 2.0, 2.0]]))  # row 1: s = exp(0) = 1
    (loss * mask).sum(-1).div(mask.sum(-1)).mean().backward()  # seq-mean-token-mean
    # dℓ_0/dlogπ_t = −A·s/|y| for each token of row 0, halved by the mean over the 2 sequences
    assert_close(lp.grad[0], _t([-s0 / 2 / 2, -s0 / 2 / 2, 0.0]))
    assert_close(lp.grad[1], _t([2.0 / 3 / 2] * 3))
    assert stats["seq_clipfrac"] == 0.0 and stats["seq_ratio_mean"] == pytest.approx((s0 + 1) / 2)


SEQUENCE_CASES = [((0.3, 0.3), 1.0, True), ((-0.5, -0.5), -1.0, True), ((0.3, -0.3), 1.0, False)]


@pytest.mark.parametrize(("log_ratios", "adv", "clipped"), SEQUENCE_CASES)
def test_gspo_clips_the_sequence_ratio(log_ratios, adv, clipped):
    old = _t([[-2.0, -2.0]])
    lp = (old + _t([list(log_ratios)])).requires_grad_(True)
    loss, stats = gspo_policy_loss(lp, old, _t([[adv, adv]]), torch.ones(1, 2, dtype=F64), clip_low=0.2, clip_high=0.2)
    s = math.exp(sum(log_ratios) / 2)
    expected = max(-s * adv, -min(max(s, 0.8), 1.2) * adv)
    assert_close(loss.detach(), _t([[expected, expected]]))
    loss.sum().backward()
    assert (lp.grad.abs().sum().item() == 0.0) is clipped and stats["seq_clipfrac"] == float(clipped)


@pytest.mark.parametrize(
    ("ratio", "adv", "weight"),
    [(1.5, 1.0, 1.28), (1.1, 1.0, 1.1), (0.5, -1.0, 0.8), (0.9, -1.0, 0.9), (1.5, -1.0, 1.28)],
)
def test_cispo_weight_is_clipped_but_every_token_keeps_its_gradient(ratio, adv, weight):
    old = _t([[-1.3]])
    lp = (old + math.log(ratio)).requires_grad_(True)
    loss, stats = cispo_policy_loss(lp, old, _t([[adv]]), torch.ones(1, 1, dtype=F64), clip_low=0.2, clip_high=0.28)
    assert_close(loss.detach(), _t([[-weight * adv * lp.item()]]))
    loss.sum().backward()
    assert_close(lp.grad, _t([[-weight * adv]]))  # never 0, unlike PPO's clipped branch
    assert stats["clipfrac"] == (1.0 if weight != ratio else 0.0)


def test_recipes_declare_what_the_trainer_must_provide():
    assert get_algorithm("rloo").equal_rewards_no_signal and get_algorithm("rloo").min_samples_per_prompt == 2
    assert not get_algorithm("reinforce_pp").equal_rewards_no_signal  # the batch whitening moves zero advantages
    assert get_algorithm("reinforce_pp").kl_placements[0] == "reward"
    assert get_algorithm("reinforce_pp_baseline").min_samples_per_prompt == 2
    assert get_algorithm("gspo").defaults == {"clip_low": 3e-4, "clip_high": 4e-4}
    assert get_algorithm("cispo").defaults["clip_high"] == 0.28


# --------------------------------------------------------------------------------------
# composing estimators and losses from the config; a plugin recipe with its own settings
# --------------------------------------------------------------------------------------

PLUGIN = f"{Path(__file__).resolve().parents[1] / 'plugins' / 'scaled_grpo.py'}:SCALED_GRPO"
MINIMAL = {"stages": [{"envs": [{"name": "arithmetic"}]}]}


def _algorithm(**keys):
    from rlpost.config import build_config

    return build_config({**MINIMAL, "algorithm": keys})


def _config_error(**keys) -> str:
    from rlpost.config import ConfigError

    with pytest.raises(ConfigError) as info:
        _algorithm(**keys)
    return str(info.value)


def test_any_estimator_goes_with_any_loss_from_the_config():
    from rlpost.algorithms import resolve_algorithm
    from rlpost.trainer import describe

    cfg = _algorithm(name="gppo", advantage="rloo")
    recipe = resolve_algorithm(cfg.algorithm.model_dump())
    assert (recipe.estimator, recipe.loss) == ("rloo", "gppo")
    assert cfg.algorithm.clip_high == 0.28  # the recipe's own defaults still apply
    assert describe(cfg)["advantage"] == "rloo" and describe(cfg)["loss"] == "gppo"
    cfg = _algorithm(name="grpo", loss="cispo")
    assert resolve_algorithm(cfg.algorithm.model_dump()).loss == "cispo"


def test_combinations_that_cannot_work_are_config_errors():
    assert _config_error(advantage="nope").startswith("algorithm.advantage: unknown advantage estimator 'nope'")
    assert _config_error(loss="nope").startswith("algorithm.loss: unknown policy loss 'nope'")
    message = _config_error(name="ppo", loss="gspo")
    assert message.startswith("algorithm.loss: the gspo loss takes one advantage per sequence") and "gae" in message
    # a critic estimator brings its needs with it
    assert _config_error(advantage="gae").startswith("critic.model: ")
    assert _config_error(name="grpo", adv_scale=3.0) == "algorithm.adv_scale: unknown key (grpo has no settings of its own)"


def test_a_plugin_recipe_validates_its_own_settings():
    cfg = _algorithm(name=PLUGIN, adv_scale=3.0)
    assert cfg.algorithm.model_dump()["adv_scale"] == 3.0
    assert _algorithm(name=PLUGIN).model_dump()["algorithm"]["adv_scale"] == 2.0  # its default
    assert _config_error(name=PLUGIN, adv_scale=-1.0).startswith("algorithm.adv_scale: Input should be greater than 0")
    assert _config_error(name=PLUGIN, adv_scal=3.0) == "algorithm.adv_scal: unknown key"
    assert _config_error(name="no/such/file.py:X").startswith("algorithm.name: cannot load algorithm")


def test_the_loop_trains_with_a_plugin_recipe(tmp_path):
    from rlpost.algorithms.advantages import group_normalized_advantages
    from tests.fakes import FakeCluster, right_first
    from tests.unit.test_trainer_loop import experiment, lines, train

    fakes = FakeCluster(right_first(1))
    run_dir = train(experiment(tmp_path, steps=1, algorithm={"name": PLUGIN, "adv_scale": 3.0}), fakes)
    batch = fakes.learners.trained[0][0]
    expected = 3.0 * group_normalized_advantages(batch.rewards, batch.group_ids, batch.response_mask)
    assert_close(batch.advantages, expected)
    assert lines(run_dir, "metrics.jsonl")[0]["advantage/scale"] == 3.0
    assert fakes.learners.params[0][0]["adv_scale"] == 3.0  # the learners get the recipe's settings too


@pytest.mark.parametrize("name", ["ppo", "reinforce_pp", "remax"])
def test_kl_in_the_loss_leaves_the_reward_based_estimators_alone(name):
    """`kl_in: loss` with β > 0: the estimator sees no KL term (the learner adds it to the loss); PPO used to
    raise here ("kl_coef is non-zero but no kl was given")."""
    from types import SimpleNamespace

    mask = torch.ones(2, 3, dtype=F64)
    batch = SimpleNamespace(
        rewards=_t([1.0, 0.0]), response_mask=mask, values=torch.zeros(2, 3, dtype=F64), group_ids=torch.tensor([0, 0]),
        baseline_rewards=_t([0.5, 0.5]), old_logprobs=-torch.ones(2, 3, dtype=F64), ref_logprobs=-2 * torch.ones(2, 3, dtype=F64),
    )  # fmt: skip
    params = {"gamma": 1.0, "lam": 0.95, "whiten_advantages": False, "adv_clip": 5.0, "kl_in": "loss"}
    in_loss = get_algorithm(name).advantages(batch, {**params, "kl_coef": 0.1})
    without = get_algorithm(name).advantages(batch, {**params, "kl_coef": 0.0})
    assert_close(in_loss.advantages, without.advantages)
    assert "kl/mean" not in in_loss.stats
    in_reward = get_algorithm(name).advantages(batch, {**params, "kl_coef": 0.1, "kl_in": "reward"})
    assert in_reward.stats["kl/mean"] == pytest.approx(1.0)  # log π_old − log π_ref = 1 on every token
