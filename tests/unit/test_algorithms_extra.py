"""Unit tests for the extra pure-torch RL math: dual-clip PPO, GPPO, REINFORCE, value loss,
GAE and friends, ReMax advantages, reward shaping.

Covers PPO for LLMs (GAE, critic), GPPO, ReMax and the GRPO extras.
Hand values are written out with their arithmetic; float64 is used wherever we compare to them.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.testing import assert_close

from rlpost.algorithms.advantages import (
    gae_advantages,
    masked_whiten,
    remax_advantages,
    token_level_rewards,
)
from rlpost.algorithms.policy_loss import clipped_policy_loss, gppo_policy_loss, reinforce_policy_loss
from rlpost.algorithms.remax import remax_returns
from rlpost.algorithms.shaping import adaptive_kl_coef, all_equal_groups, overlong_penalty
from rlpost.algorithms.value import clipped_value_loss, explained_variance

F64 = torch.float64


def _t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=F64)


def _ratio_inputs(ratios: list[float]) -> tuple[torch.Tensor, torch.Tensor]:
    """logprobs (leaf, requires grad) and old logprobs [1, N] giving exactly-representable ratios."""
    old = torch.full((1, len(ratios)), -1.0, dtype=F64)
    lp = (old + torch.log(_t([ratios]))).requires_grad_(True)
    return lp, old


def _token_grad(loss_fn, lp, old, adv, **kwargs) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Token loss [B, T] and d(token loss)/d(logπ) per token (tokens are independent)."""
    mask = torch.ones_like(adv)
    token_loss, stats = loss_fn(lp, old, adv, mask, **kwargs)
    (grad,) = torch.autograd.grad(token_loss.sum(), lp)
    return token_loss.detach(), grad, stats


def _random_policy_batch(seed: int = 0, shape=(6, 40)):
    gen = torch.Generator().manual_seed(seed)
    old = -torch.rand(shape, generator=gen, dtype=F64) * 3.0
    # log-ratios up to ±2.5 → ratios from ~0.08 to ~12: every region (incl. dual clip at c=3) is hit
    lp = (old + (torch.rand(shape, generator=gen, dtype=F64) * 5.0 - 2.5)).requires_grad_(True)
    adv = torch.randn(shape, generator=gen, dtype=F64)
    mask = (torch.rand(shape, generator=gen) > 0.2).to(F64)
    return lp, old, adv, mask


# --------------------------------------------------------------------------------------
# clipped_policy_loss with dual clip
# --------------------------------------------------------------------------------------


def test_dual_clip_hand_values_and_gradients_negative_advantage():
    # A = −1, ε = 0.2, c = 3. Loss = min(max(−ρA, −clip(ρ)A), −cA) = min(max(ρ, clip(ρ)), 3)
    #   ρ=0.5: max(0.5, 0.8) = 0.8 (clipped, flat)   ρ=1.0: 1.0 (grad −ρA = 1.0)
    #   ρ=2.0: 2.0 (grad 2.0)                         ρ=4.0: min(4.0, 3.0) = 3.0 (dual clip, flat)
    lp, old = _ratio_inputs([0.5, 1.0, 2.0, 4.0])
    adv = torch.full((1, 4), -1.0, dtype=F64)
    loss, grad, stats = _token_grad(clipped_policy_loss, lp, old, adv, clip_low=0.2, clip_high=0.2, dual_clip=3.0)
    assert_close(loss, _t([[0.8, 1.0, 2.0, 3.0]]))
    assert_close(grad, _t([[0.0, 1.0, 2.0, 0.0]]))
    assert stats["clipfrac_dual"] == pytest.approx(0.25)
    assert stats["clipfrac"] == pytest.approx(0.25)  # only ρ=0.5 takes the clipped branch


def test_dual_clip_does_not_touch_positive_advantages():
    # A = +1: max(−ρ, −clip(ρ)) = −min(ρ, clip(ρ)); ρ=5 → −1.2 whatever c is
    lp, old = _ratio_inputs([0.5, 1.0, 5.0])
    adv = torch.ones(1, 3, dtype=F64)
    with_dual, g_dual, stats = _token_grad(clipped_policy_loss, lp, old, adv, dual_clip=3.0)
    without, g_plain, _ = _token_grad(clipped_policy_loss, lp, old, adv)
    assert_close(with_dual, _t([[-0.5, -1.0, -1.2]]))
    assert torch.equal(with_dual, without)
    assert torch.equal(g_dual, g_plain)
    assert stats["clipfrac_dual"] == 0.0


def test_dual_clip_none_is_plain_ppo_and_has_no_dual_stat():
    lp, old, adv, mask = _random_policy_batch(1)
    default, stats_default = clipped_policy_loss(lp, old, adv, mask, clip_low=0.2, clip_high=0.28)
    explicit, _ = clipped_policy_loss(lp, old, adv, mask, clip_low=0.2, clip_high=0.28, dual_clip=None)
    ratio = torch.exp(lp - old)
    by_hand = torch.maximum(-adv * ratio, -adv * ratio.clamp(0.8, 1.28))
    assert torch.equal(default, explicit)
    assert_close(default, by_hand)
    assert "clipfrac_dual" not in stats_default


def test_dual_clip_random_matches_formula_and_counts():
    lp, old, adv, mask = _random_policy_batch(2)
    loss, stats = clipped_policy_loss(lp, old, adv, mask, clip_low=0.2, clip_high=0.28, dual_clip=3.0)
    ratio = torch.exp(lp - old).detach()
    ppo = torch.maximum(-adv * ratio, -adv * ratio.clamp(0.8, 1.28))
    expected = torch.where(adv < 0, torch.minimum(ppo, -3.0 * adv), ppo)
    assert_close(loss.detach(), expected)
    binds = ((adv < 0) & (ratio > 3.0)).to(F64)
    assert stats["clipfrac_dual"] == pytest.approx(float((binds * mask).sum() / mask.sum()))
    assert stats["clipfrac_dual"] > 0.0


@pytest.mark.parametrize("bad", [1.0, 0.5, 0.0, -2.0])
def test_dual_clip_must_exceed_one(bad):
    lp, old = _ratio_inputs([1.0])
    adv = torch.ones(1, 1, dtype=F64)
    with pytest.raises(ValueError, match="dual_clip"):
        clipped_policy_loss(lp, old, adv, torch.ones_like(adv), dual_clip=bad)
    with pytest.raises(ValueError, match="dual_clip"):
        gppo_policy_loss(lp, old, adv, torch.ones_like(adv), dual_clip=bad)


# --------------------------------------------------------------------------------------
# GPPO
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dual_clip", [None, 3.0])
def test_gppo_forward_equals_ppo_bit_for_bit(dual_clip):
    lp, old, adv, mask = _random_policy_batch(3)
    ppo, ppo_stats = clipped_policy_loss(lp, old, adv, mask, clip_low=0.2, clip_high=0.28, dual_clip=dual_clip)
    kw = {"clip_low": 0.2, "clip_high": 0.28, "dual_clip": dual_clip}
    gppo, gppo_stats = gppo_policy_loss(lp, old, adv, mask, beta1=0.7, beta2=1.3, **kw)
    assert torch.equal(gppo, ppo)
    assert gppo_stats["clipfrac"] == pytest.approx(ppo_stats["clipfrac"])
    for key in ("approx_kl", "ratio_mean") + (("clipfrac_dual",) if dual_clip else ()):
        assert gppo_stats[key] == pytest.approx(ppo_stats[key])
    if dual_clip is None:
        assert "clipfrac_dual" not in gppo_stats


def test_gppo_forward_equals_ppo_in_float32():
    lp, old, adv, mask = (x.detach().float() for x in _random_policy_batch(4))
    ppo, _ = clipped_policy_loss(lp, old, adv, mask, clip_low=0.2, clip_high=0.28)
    gppo, _ = gppo_policy_loss(lp, old, adv, mask, clip_low=0.2, clip_high=0.28)
    assert torch.equal(gppo, ppo)


@pytest.mark.parametrize("beta1", [1.0, 0.5])
def test_gppo_gradient_below_clip_negative_advantage(beta1):
    # ρ = 0.5 < 1 − 0.2, A = −2: PPO is flat; GPPO grad = −β1·(1 − ε_l)·A = β1·0.8·2 = 1.6·β1
    lp, old = _ratio_inputs([0.5])
    adv = _t([[-2.0]])
    loss, grad, stats = _token_grad(gppo_policy_loss, lp, old, adv, clip_low=0.2, clip_high=0.28, beta1=beta1)
    ppo_loss, ppo_grad, _ = _token_grad(clipped_policy_loss, lp, old, adv, clip_low=0.2, clip_high=0.28)
    assert_close(grad, _t([[1.6 * beta1]]))
    assert torch.equal(ppo_grad, torch.zeros_like(ppo_grad))
    assert_close(loss, _t([[1.6]]))  # −A·(1 − ε_l) = 2·0.8
    assert torch.equal(loss, ppo_loss)
    assert stats["clipfrac_low"] == 1.0 and stats["clipfrac_high"] == 0.0 and stats["clipfrac"] == 1.0


@pytest.mark.parametrize("beta2", [1.0, 2.0])
def test_gppo_gradient_above_clip_positive_advantage(beta2):
    # ρ = 1.5 > 1 + 0.28, A = 3: PPO is flat; GPPO grad = −β2·(1 + ε_h)·A = −1.28·3·β2 = −3.84·β2
    lp, old = _ratio_inputs([1.5])
    adv = _t([[3.0]])
    loss, grad, stats = _token_grad(gppo_policy_loss, lp, old, adv, clip_low=0.2, clip_high=0.28, beta2=beta2)
    _, ppo_grad, _ = _token_grad(clipped_policy_loss, lp, old, adv, clip_low=0.2, clip_high=0.28)
    assert_close(grad, _t([[-3.84 * beta2]]))
    assert torch.equal(ppo_grad, torch.zeros_like(ppo_grad))
    assert_close(loss, _t([[-3.84]]))
    assert stats["clipfrac_high"] == 1.0 and stats["clipfrac_low"] == 0.0


def test_gppo_betas_act_only_on_their_own_region():
    # token 0 in the lower region, token 1 in the upper one
    lp, old = _ratio_inputs([0.5, 1.5])
    adv = _t([[-2.0, 3.0]])
    _, grad, _ = _token_grad(gppo_policy_loss, lp, old, adv, clip_low=0.2, clip_high=0.28, beta1=0.25, beta2=4.0)
    assert_close(grad, _t([[0.25 * 0.8 * 2.0, -4.0 * 1.28 * 3.0]]))


def test_gppo_matches_ppo_gradient_inside_trust_region_and_unclipped_sides():
    # (ρ, A) pairs where PPO takes the unclipped branch: grad = −ρA for both
    ratios = [1.1, 0.9, 1.0, 0.5, 1.5, 2.0]
    adv = _t([[1.0, -1.0, 0.7, 2.0, -1.0, -0.5]])  # ρ=0.5,A>0 and ρ=1.5/2.0,A<0 are unclipped too
    lp, old = _ratio_inputs(ratios)
    _, g_gppo, stats = _token_grad(gppo_policy_loss, lp, old, adv, clip_low=0.2, clip_high=0.28, beta1=3.0, beta2=3.0)
    _, g_ppo, _ = _token_grad(clipped_policy_loss, lp, old, adv, clip_low=0.2, clip_high=0.28)
    expected = -_t([ratios]) * adv
    assert_close(g_gppo, expected)
    assert_close(g_ppo, expected)
    assert stats["clipfrac"] == 0.0


def test_gppo_dual_clip_region_has_zero_gradient():
    # A = −1, ρ = 5 > c = 3: loss −cA = 3 and flat for both PPO and GPPO
    lp, old = _ratio_inputs([5.0, 0.5])
    adv = _t([[-1.0, -1.0]])
    loss, g_gppo, stats = _token_grad(gppo_policy_loss, lp, old, adv, dual_clip=3.0)
    ppo_loss, g_ppo, _ = _token_grad(clipped_policy_loss, lp, old, adv, dual_clip=3.0)
    assert_close(loss, _t([[3.0, 0.8]]))
    assert torch.equal(loss, ppo_loss)
    assert g_gppo[0, 0].item() == 0.0 and g_ppo[0, 0].item() == 0.0
    # the lower preserved region still gets its bounded gradient with the dual clip on
    assert g_gppo[0, 1].item() == pytest.approx(0.8)
    assert g_ppo[0, 1].item() == 0.0
    assert stats["clipfrac_dual"] == pytest.approx(0.5)


@pytest.mark.parametrize("dual_clip", [None, 3.0])
def test_gppo_random_gradient_region_by_region(dual_clip):
    lp, old, adv, mask = _random_policy_batch(5)
    beta1, beta2 = 0.6, 1.7
    gppo, stats = gppo_policy_loss(lp, old, adv, mask, beta1=beta1, beta2=beta2, dual_clip=dual_clip)
    (g_gppo,) = torch.autograd.grad(gppo.sum(), lp)
    ppo, _ = clipped_policy_loss(lp, old, adv, mask, clip_low=0.2, clip_high=0.28, dual_clip=dual_clip)
    (g_ppo,) = torch.autograd.grad(ppo.sum(), lp)
    ratio = torch.exp(lp - old).detach()
    low = (ratio < 0.8) & (adv < 0)
    high = (ratio > 1.28) & (adv > 0)
    assert low.any() and high.any()
    assert_close(g_gppo[low], -beta1 * 0.8 * adv[low])
    assert_close(g_gppo[high], -beta2 * 1.28 * adv[high])
    assert torch.equal(g_ppo[low | high], torch.zeros_like(g_ppo[low | high]))
    rest = ~(low | high)
    assert_close(g_gppo[rest], g_ppo[rest])
    assert stats["clipfrac_low"] == pytest.approx(float((low.to(F64) * mask).sum() / mask.sum()))
    assert stats["clipfrac_high"] == pytest.approx(float((high.to(F64) * mask).sum() / mask.sum()))


def test_gppo_gradient_through_aggregation_and_a_parameter():
    # chain rule through a linear "policy": dL/dw = Σ_t g_t · d logπ_t / dw with g_t the token weights
    gen = torch.Generator().manual_seed(7)
    feats = torch.randn(2, 3, 4, generator=gen, dtype=F64)
    w = torch.randn(4, generator=gen, dtype=F64, requires_grad=True)
    lp = feats @ w - 2.0
    old = (lp + _t([[0.5, -0.5, 0.0], [-0.4, 0.4, 0.1]])).detach()  # ratios e^-0.5, e^0.5, 1, ...
    adv = _t([[-1.0, 1.0, 0.5], [1.0, -1.0, -0.3]])
    loss, _ = gppo_policy_loss(lp, old, adv, torch.ones_like(adv))
    (g_w,) = torch.autograd.grad(loss.mean(), w)
    ratio = torch.exp(lp - old).detach()
    weights = -ratio * adv  # PPO inside the trust region
    weights = torch.where((ratio < 0.8) & (adv < 0), -0.8 * adv, weights)
    weights = torch.where((ratio > 1.28) & (adv > 0), -1.28 * adv, weights)
    assert ((ratio < 0.8) & (adv < 0)).any() and ((ratio > 1.28) & (adv > 0)).any()
    expected = (weights.unsqueeze(-1) * feats).sum((0, 1)) / 6.0
    assert_close(g_w, expected)


# --------------------------------------------------------------------------------------
# REINFORCE
# --------------------------------------------------------------------------------------


def test_reinforce_loss_value_gradient_and_stats():
    lp = _t([[-0.5, -1.0, -2.0]]).requires_grad_(True)
    old = _t([[-0.5, -1.5, -2.0]])
    adv = _t([[2.0, -1.0, 0.5]])
    mask = _t([[1.0, 1.0, 0.0]])
    loss, stats = reinforce_policy_loss(lp, old, adv, mask)
    assert_close(loss.detach(), _t([[1.0, -1.0, 1.0]]))  # −A·logπ
    (grad,) = torch.autograd.grad(loss.sum(), lp)
    assert_close(grad, -adv)
    # ratio over response tokens: [1, e^0.5]; k3 of log ρ = 0.5: (e^0.5 − 1) − 0.5
    assert stats["ratio_mean"] == pytest.approx((1.0 + math.exp(0.5)) / 2)
    assert stats["approx_kl"] == pytest.approx((math.exp(0.5) - 1.5) / 2)
    assert stats["clipfrac"] == 0.0


def test_reinforce_gradient_ignores_old_logprobs():
    lp = _t([[-0.3, -0.7]]).requires_grad_(True)
    adv = _t([[1.5, -0.5]])
    mask = torch.ones_like(adv)
    grads = []
    for old in (lp.detach(), lp.detach() - 3.0):
        loss, _ = reinforce_policy_loss(lp, old, adv, mask)
        grads.append(torch.autograd.grad(loss.sum(), lp)[0])
    assert torch.equal(grads[0], grads[1])


# --------------------------------------------------------------------------------------
# value loss and explained variance
# --------------------------------------------------------------------------------------


def test_value_loss_hand_values_and_gradients():
    # ε_v = 0.5, V_old = 0
    #  V=1.0, R=2.0: (1−2)²=1 vs (0.5−2)²=2.25 → 0.5·2.25 = 1.125, clipped branch, grad 0
    #  V=1.0, R=0.0: (1−0)²=1 vs (0.5−0)²=0.25 → 0.5·1 = 0.5, grad V−R = 1
    #  V=0.3, R=1.0: inside the clip, both 0.49 → 0.245, grad V−R = −0.7
    values = _t([[1.0, 1.0, 0.3]]).requires_grad_(True)
    old_values = torch.zeros(1, 3, dtype=F64)
    returns = _t([[2.0, 0.0, 1.0]])
    mask = torch.ones(1, 3, dtype=F64)
    loss, stats = clipped_value_loss(values, old_values, returns, mask, clip=0.5)
    assert_close(loss.detach(), _t([[1.125, 0.5, 0.245]]))
    (grad,) = torch.autograd.grad(loss.sum(), values)
    assert_close(grad, _t([[0.0, 1.0, -0.7]]))
    assert stats["vf_clipfrac"] == pytest.approx(1 / 3)
    assert stats["value_mean"] == pytest.approx(2.3 / 3)
    assert stats["returns_mean"] == pytest.approx(1.0)


def test_value_loss_unclipped_when_clip_none():
    values = _t([[1.0, 5.0]])
    old_values = torch.zeros(1, 2, dtype=F64)
    returns = _t([[2.0, -1.0]])
    loss, stats = clipped_value_loss(values, old_values, returns, torch.ones(1, 2, dtype=F64), clip=None)
    assert_close(loss, _t([[0.5, 18.0]]))  # 0.5·1², 0.5·6²
    assert stats["vf_clipfrac"] == 0.0


def test_value_loss_stats_are_masked_and_large_clip_is_unclipped():
    values = _t([[1.0, 2.0, 100.0]])
    old_values = _t([[0.0, 0.0, 0.0]])
    returns = _t([[3.0, 5.0, -100.0]])
    mask = _t([[1.0, 1.0, 0.0]])
    loss, stats = clipped_value_loss(values, old_values, returns, mask, clip=1e6)
    unclipped, _ = clipped_value_loss(values, old_values, returns, mask, clip=None)
    assert torch.equal(loss, unclipped)
    assert stats["value_mean"] == pytest.approx(1.5)
    assert stats["returns_mean"] == pytest.approx(4.0)
    assert stats["vf_clipfrac"] == 0.0


def test_value_loss_negative_clip_raises():
    x = torch.zeros(1, 1)
    with pytest.raises(ValueError, match="clip"):
        clipped_value_loss(x, x, x, x, clip=-0.1)


def test_explained_variance_perfect_and_mean_predictors():
    returns = _t([[1.0, 2.0, 3.0, 4.0], [0.5, -1.0, 9.0, 9.0]])
    mask = _t([[1, 1, 1, 1], [1, 1, 0, 0]])
    garbage = torch.where(mask.bool(), returns, torch.full_like(returns, 1e3))
    assert explained_variance(garbage, returns, mask) == pytest.approx(1.0)
    mean = float((returns * mask).sum() / mask.sum())
    assert explained_variance(torch.full_like(returns, mean), returns, mask) == pytest.approx(0.0, abs=1e-12)
    # any constant predictor has the same score (the offset does not change Var(R − V))
    assert explained_variance(torch.full_like(returns, -7.0), returns, mask) == pytest.approx(0.0, abs=1e-12)


def test_explained_variance_hand_value():
    # R=[1,2,3,4], V=[1,2,3,5]: R−V=[0,0,0,−1], Var = (3·0.25² + 0.75²)/4 = 0.1875; Var(R) = 1.25
    ev = explained_variance(_t([[1.0, 2.0, 3.0, 5.0]]), _t([[1.0, 2.0, 3.0, 4.0]]), torch.ones(1, 4))
    assert ev == pytest.approx(1.0 - 0.1875 / 1.25)  # 0.85


@pytest.mark.parametrize("mask", [[[1, 1, 1]], [[0, 1, 0]], [[0, 0, 0]]])
def test_explained_variance_undefined_is_nan(mask):
    returns = _t([[0.1, 0.1, 0.1]])
    values = _t([[0.3, -2.0, 0.0]])
    assert math.isnan(explained_variance(values, returns, _t(mask)))


# --------------------------------------------------------------------------------------
# GAE
# --------------------------------------------------------------------------------------


def _gae_example():
    # T = 6: 2 prompt positions (mask 0), sample 0 answers at t=2,3,4, sample 1 at t=2,3.
    # Masked positions hold junk (reward 3, value 7) that must not leak in.
    mask = _t([[0, 0, 1, 1, 1, 0], [0, 0, 1, 1, 0, 0]])
    rewards = _t([[3.0, 3.0, 0.0, 0.1, 1.0, 3.0], [3.0, 3.0, -0.05, 0.5, 3.0, 3.0]])
    values = _t([[7.0, 7.0, 0.5, 0.2, -0.1, 7.0], [7.0, 7.0, 0.3, 0.6, 7.0, 7.0]])
    return rewards, values, mask


def test_gae_hand_example():
    rewards, values, mask = _gae_example()
    gamma, lam = 0.9, 0.8
    gl = gamma * lam  # 0.72
    # sample 0
    d4 = 1.0 + gamma * 0.0 - (-0.1)  # 1.1 (value after the last token is 0)
    d3 = 0.1 + gamma * (-0.1) - 0.2  # −0.19
    d2 = 0.0 + gamma * 0.2 - 0.5  # −0.32
    a4 = d4  # 1.1
    a3 = d3 + gl * a4  # 0.602
    a2 = d2 + gl * a3  # 0.11344
    # sample 1
    e3 = 0.5 + gamma * 0.0 - 0.6  # −0.1
    e2 = -0.05 + gamma * 0.6 - 0.3  # 0.19
    b3 = e3
    b2 = e2 + gl * b3  # 0.118
    adv, ret = gae_advantages(rewards, values, mask, gamma=gamma, lam=lam)
    expected_adv = _t([[0, 0, a2, a3, a4, 0], [0, 0, b2, b3, 0, 0]])
    assert_close(adv, expected_adv)
    assert_close(adv[0, 2:5], _t([0.11344, 0.602, 1.1]))  # the numbers themselves
    assert_close(adv[1, 2:4], _t([0.118, -0.1]))
    expected_ret = _t([[0, 0, a2 + 0.5, a3 + 0.2, a4 - 0.1, 0], [0, 0, b2 + 0.3, b3 + 0.6, 0, 0]])
    assert_close(ret, expected_ret)
    assert_close(ret[0, 2:5], _t([0.61344, 0.802, 1.0]))


def test_gae_returns_equal_advantages_plus_values_on_mask_and_zero_off_mask():
    gen = torch.Generator().manual_seed(11)
    rewards = torch.randn(4, 9, generator=gen, dtype=F64)
    values = torch.randn(4, 9, generator=gen, dtype=F64)
    mask = (torch.rand(4, 9, generator=gen) > 0.3).to(F64)
    adv, ret = gae_advantages(rewards, values, mask, gamma=0.95, lam=0.9)
    assert_close(ret, (adv + values) * mask)
    off = ~mask.bool()
    assert torch.equal(adv[off], torch.zeros_like(adv[off]))
    assert torch.equal(ret[off], torch.zeros_like(ret[off]))


def test_gae_skips_holes_like_the_compacted_sequence():
    # response at t=0..4 with a hole at t=2: same result as the contiguous sequence without it
    mask = _t([[1, 1, 0, 1, 1, 0]])
    rewards = _t([[0.2, -0.1, 50.0, 0.3, 1.0, 50.0]])
    values = _t([[0.4, 0.1, -50.0, 0.5, 0.2, -50.0]])
    adv, ret = gae_advantages(rewards, values, mask, gamma=0.9, lam=0.7)
    keep = mask[0].bool()
    c_adv, c_ret = gae_advantages(rewards[:, keep], values[:, keep], torch.ones(1, 4, dtype=F64), gamma=0.9, lam=0.7)
    assert_close(adv[:, keep], c_adv)
    assert_close(ret[:, keep], c_ret)
    assert adv[0, 2].item() == 0.0 and ret[0, 2].item() == 0.0
    # and by hand at t=1: δ_1 = −0.1 + 0.9·V_3 − 0.1 uses V_3 = 0.5, not the hole's value
    d4 = 1.0 - 0.2
    d3 = 0.3 + 0.9 * 0.2 - 0.5
    d1 = -0.1 + 0.9 * 0.5 - 0.1
    assert adv[0, 1].item() == pytest.approx(d1 + 0.63 * (d3 + 0.63 * d4))


def test_gae_lambda_zero_is_td_error_and_lambda_one_gives_discounted_returns():
    gen = torch.Generator().manual_seed(12)
    rewards = torch.randn(3, 7, generator=gen, dtype=F64)
    values = torch.randn(3, 7, generator=gen, dtype=F64)
    mask = _t([[1] * 7, [1, 1, 1, 1, 0, 0, 0], [1, 1, 0, 1, 1, 1, 0]])
    adv0, _ = gae_advantages(rewards, values, mask, gamma=0.9, lam=0.0)
    # row 0 is fully inside the response: δ_t = r_t + γV_{t+1} − V_t, V_7 = 0
    next_v = torch.cat([values[0, 1:], torch.zeros(1, dtype=F64)])
    assert_close(adv0[0], rewards[0] + 0.9 * next_v - values[0])
    # λ = 1 telescopes: returns = Σ γ^l r_{t+l}, independent of V
    _, ret1 = gae_advantages(rewards, values, mask, gamma=0.9, lam=1.0)
    to_go, expected = 0.0, torch.zeros(7, dtype=F64)
    for t in reversed(range(7)):
        to_go = rewards[0, t] + 0.9 * to_go
        expected[t] = to_go
    assert_close(ret1[0], expected)


def test_gae_keeps_float32_dtype_and_shape():
    rewards, values, mask = (x.float() for x in _gae_example())
    adv, ret = gae_advantages(rewards, values, mask, gamma=0.9, lam=0.8)
    assert adv.dtype == torch.float32 and ret.dtype == torch.float32 and adv.shape == (2, 6)


# --------------------------------------------------------------------------------------
# masked_whiten
# --------------------------------------------------------------------------------------


def test_masked_whiten_mean_zero_unbiased_var_one_zero_off_mask():
    gen = torch.Generator().manual_seed(13)
    x = torch.randn(5, 8, generator=gen, dtype=F64) * 3.0 + 2.0
    mask = (torch.rand(5, 8, generator=gen) > 0.4).to(F64)
    x = torch.where(mask.bool(), x, torch.full_like(x, 1e6))  # junk off the mask must not matter
    w = masked_whiten(x, mask)
    sel = w[mask.bool()]
    assert sel.mean().item() == pytest.approx(0.0, abs=1e-12)
    assert sel.var(unbiased=True).item() == pytest.approx(1.0, abs=1e-6)
    assert torch.equal(w[~mask.bool()], torch.zeros_like(w[~mask.bool()]))


def test_masked_whiten_hand_values_and_shift_mean():
    # masked x = [1, 2, 3]: mean 2, unbiased var 1 → [−1, 0, 1] (eps = 0 to compare exactly)
    x = _t([[1.0, 2.0, 99.0], [3.0, -5.0, -5.0]])
    mask = _t([[1, 1, 0], [1, 0, 0]])
    assert_close(masked_whiten(x, mask, eps=0.0), _t([[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]))
    # without the shift the mean comes back: [1, 2, 3] — unit variance but mean kept
    assert_close(masked_whiten(x, mask, shift_mean=False, eps=0.0), _t([[1.0, 2.0, 0.0], [3.0, 0.0, 0.0]]))
    # masked x = [0, 4]: mean 2, unbiased var 8 (biased would be 4) → ±2/sqrt(8)
    y = masked_whiten(_t([[0.0, 4.0]]), torch.ones(1, 2), eps=0.0)
    assert_close(y, _t([[-2.0 / math.sqrt(8.0), 2.0 / math.sqrt(8.0)]]))


def test_masked_whiten_degenerate_masks():
    x = _t([[5.0, 3.0]])
    assert torch.equal(masked_whiten(x, _t([[0, 0]])), torch.zeros_like(x))
    assert torch.equal(masked_whiten(x, _t([[1, 0]])), torch.zeros_like(x))
    assert_close(masked_whiten(x, _t([[1, 0]]), shift_mean=False), _t([[5.0, 0.0]]))


# --------------------------------------------------------------------------------------
# token_level_rewards, ReMax returns
# --------------------------------------------------------------------------------------


def test_token_level_rewards_hand_example():
    # sample 0: prompt at t=0, response t=1..3 → reward 1 at t=3
    # sample 1: response t=1 and t=3 with a hole at t=2 → reward −2 at t=3 (last mask-1 position)
    # sample 2: no response token. KL (coef 0.1) only on response tokens; junk 9.0 elsewhere.
    mask = _t([[0, 1, 1, 1, 0], [0, 1, 0, 1, 0], [0, 0, 0, 0, 0]])
    kl = _t([[9.0, 0.2, -0.1, 0.4, 9.0], [9.0, 1.0, 9.0, 0.5, 9.0], [9.0] * 5])
    rewards = _t([1.0, -2.0, 5.0])
    out = token_level_rewards(rewards, mask, kl=kl, kl_coef=0.1)
    expected = _t(
        [
            [0.0, -0.02, 0.01, -0.04 + 1.0, 0.0],
            [0.0, -0.1, 0.0, -0.05 - 2.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 0.0],  # no response token: reward dropped, documented
        ]
    )
    assert_close(out, expected)


def test_token_level_rewards_without_kl_and_full_rows():
    mask = _t([[1, 1, 1], [1, 0, 0]])
    out = token_level_rewards(_t([0.5, 2.0]), mask)
    assert_close(out, _t([[0.0, 0.0, 0.5], [2.0, 0.0, 0.0]]))
    assert out.sum().item() == pytest.approx(2.5)


def test_token_level_rewards_kl_coef_without_kl_raises():
    with pytest.raises(ValueError, match="kl"):
        token_level_rewards(_t([1.0]), torch.ones(1, 2), kl_coef=0.1)


def test_remax_official_returns():
    # liziniu/ReMax compute_returns: G_t = γ^(L−k)·A − β·kl_t, the token's own KL (not a sum)
    mask = _t([[0, 1, 1, 1, 0]])
    kl = _t([[7.0, 0.1, 0.2, 0.3, 5.0]])
    adv = remax_advantages(_t([1.0]), _t([0.25]), mask)  # A = 0.75 on response tokens
    out = remax_returns(adv, kl * mask, mask, gamma=0.5, kl_coef=0.5)
    expected = _t([[0.0, 0.75 * 0.5**3 - 0.05, 0.75 * 0.5**2 - 0.1, 0.75 * 0.5 - 0.15, 0.0]])
    assert_close(out, expected)
    # γ = 1 and no KL: every response token carries A
    assert_close(remax_returns(adv, torch.zeros_like(adv), mask, gamma=1.0, kl_coef=0.0), adv)


# --------------------------------------------------------------------------------------
# ReMax advantages
# --------------------------------------------------------------------------------------


def test_remax_advantages_hand_values_broadcast_and_mask():
    mask = _t([[1, 1, 0], [1, 1, 1]])
    adv = remax_advantages(_t([1.0, 0.2]), _t([0.25, 0.7]), mask)
    assert_close(adv, _t([[0.75, 0.75, 0.0], [-0.5, -0.5, -0.5]]))


def test_remax_advantages_clip():
    adv = remax_advantages(_t([10.0, -8.0, 1.0]), _t([0.0, 0.0, 0.0]), torch.ones(3, 2), clip=5.0)
    assert_close(adv, _t([[5.0, 5.0], [-5.0, -5.0], [1.0, 1.0]]))


def test_remax_advantages_equal_rewards_give_exact_zero():
    # sampled response == greedy response ⇒ same reward ⇒ A = 0 exactly, whatever the reward
    rewards = _t([0.1, 0.7, -3.3, 1e-8])
    adv = remax_advantages(rewards, rewards.clone(), torch.ones(4, 5), clip=5.0)
    assert torch.equal(adv, torch.zeros(4, 5, dtype=F64))


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_remax_advantages_bad_clip_raises(bad):
    with pytest.raises(ValueError, match="clip"):
        remax_advantages(_t([1.0]), _t([0.0]), torch.ones(1, 1), clip=bad)


# --------------------------------------------------------------------------------------
# shaping: overlong penalty, adaptive KL, all-equal groups
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("factor", [1.0, 0.5])
def test_overlong_penalty_boundaries(factor):
    # max_len 20, buffer 4 → free up to 16, linear to −factor at 20, −factor beyond
    lengths = torch.tensor([0, 10, 16, 17, 18, 19, 20, 21, 100])
    out = overlong_penalty(lengths, max_len=20, buffer=4, factor=factor)
    expected = torch.tensor([0.0, 0.0, 0.0, -0.25, -0.5, -0.75, -1.0, -1.0, -1.0]) * factor
    assert out.dtype == torch.float32 and out.shape == (9,)
    assert_close(out, expected)


def test_overlong_penalty_buffer_equal_to_max_len_and_buffer_one():
    assert_close(overlong_penalty(torch.tensor([0, 5, 10]), max_len=10, buffer=10), torch.tensor([0.0, -0.5, -1.0]))
    assert_close(overlong_penalty(torch.tensor([9, 10, 11]), max_len=10, buffer=1), torch.tensor([0.0, -1.0, -1.0]))


@pytest.mark.parametrize("buffer", [0, -3, 11])
def test_overlong_penalty_bad_buffer_raises(buffer):
    with pytest.raises(ValueError, match="buffer"):
        overlong_penalty(torch.tensor([5]), max_len=10, buffer=buffer)


def test_adaptive_kl_coef_moves_towards_target_with_20_percent_clip():
    beta, target, horizon, n = 0.1, 6.0, 10_000, 256
    scale = n / horizon  # 0.0256
    kw = {"target": target, "horizon": horizon, "n_steps": n}
    assert adaptive_kl_coef(beta, 6.6, **kw) == pytest.approx(beta * (1 + 0.1 * scale))  # KL 10 % above
    assert adaptive_kl_coef(beta, 5.4, **kw) == pytest.approx(beta * (1 - 0.1 * scale))  # 10 % below
    assert adaptive_kl_coef(beta, 60.0, **kw) == pytest.approx(beta * (1 + 0.2 * scale))  # clipped at +20 %
    assert adaptive_kl_coef(beta, 0.0, **kw) == pytest.approx(beta * (1 - 0.2 * scale))  # clipped at −20 %
    assert adaptive_kl_coef(beta, target, **kw) == beta
    assert adaptive_kl_coef(beta, 9.0, **kw) > beta > adaptive_kl_coef(beta, 3.0, **kw)


def test_adaptive_kl_coef_full_horizon_and_tensor_kl():
    # n_steps = horizon: one update moves β by at most ±20 %
    assert adaptive_kl_coef(1.0, torch.tensor(100.0), target=1.0, horizon=10, n_steps=10) == pytest.approx(1.2)
    assert adaptive_kl_coef(1.0, 0.5, target=1.0, horizon=10, n_steps=10) == pytest.approx(0.8)


@pytest.mark.parametrize("kwargs", [{"target": 0.0, "horizon": 10}, {"target": 1.0, "horizon": 0}])
def test_adaptive_kl_coef_bad_args_raise(kwargs):
    with pytest.raises(ValueError):
        adaptive_kl_coef(0.1, 1.0, n_steps=1, **kwargs)


def test_all_equal_groups():
    rewards = _t([1.0, 0.0, 1.0, 1.0, 0.5, 1.0, 0.0, 2.0])
    group_ids = torch.tensor([5, 2, 5, 9, 2, 5, 2, 7])  # interleaved; group 7 is a singleton
    out = all_equal_groups(rewards, group_ids)
    assert out.dtype == torch.bool
    # group 5: [1, 1, 1] equal; group 2: [0, 0.5, 0] not; group 9: [1]; group 7: [2]
    assert out.tolist() == [True, False, True, True, False, True, False, True]


def test_all_equal_groups_all_correct_and_all_wrong_and_exactness():
    rewards = torch.tensor([0.0, 0.0, 1.0, 1.0, 1.0, 1.0 + 1e-6])
    group_ids = torch.tensor([0, 0, 1, 1, 2, 2])
    assert all_equal_groups(rewards, group_ids).tolist() == [True, True, True, True, False, False]
