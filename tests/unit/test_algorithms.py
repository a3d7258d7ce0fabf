"""Unit tests for the pure-torch RL math in `rlpost.algorithms`.

Covers loss aggregation, the KL estimators and GRPO advantages and losses.
Hand values are written out as numbers; float64 is used wherever we compare to them.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from torch.testing import assert_close

from rlpost.algorithms import (
    ALGORITHMS,
    Algorithm,
    aggregate_token_loss,
    get_algorithm,
    kl_penalty,
    register_algorithm,
)
from rlpost.algorithms.advantages import group_normalized_advantages
from rlpost.algorithms.policy_loss import clipped_policy_loss

F64 = torch.float64
EPS = 1e-6


def _mask_from_lengths(lengths: list[int], max_len: int) -> torch.Tensor:
    return (torch.arange(max_len).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)).to(F64)


# --------------------------------------------------------------------------------------
# group_normalized_advantages (GRPO outcome advantage)
# --------------------------------------------------------------------------------------


def test_group_advantages_hand_values_unbiased_std_and_eps():
    # group 0: [1, 0, 0, 1]  mean 0.5, unbiased std sqrt(4 * 0.25 / 3) = sqrt(1/3)
    # group 1: [2, 2, 3, 5]  mean 3,   unbiased std sqrt((1 + 1 + 0 + 4) / 3) = sqrt(2)
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 2.0, 2.0, 3.0, 5.0], dtype=F64)
    group_ids = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    lengths = [3, 5, 1, 4, 2, 5, 5, 3]
    mask = _mask_from_lengths(lengths, 5)

    adv = group_normalized_advantages(rewards, group_ids, mask, eps=EPS)

    s0 = 0.5773502691896258  # sqrt(1/3)
    s1 = 1.4142135623730951  # sqrt(2)
    a0 = 0.5 / (s0 + EPS)  # 0.8660239...
    a1 = 1.0 / (s1 + EPS)  # 0.7071063...
    per_seq = torch.tensor([a0, -a0, -a0, a0, -a1, -a1, 0.0, 2 * a1], dtype=F64)
    expected = per_seq.unsqueeze(-1) * mask

    assert adv.shape == (8, 5)
    # tight tolerance: eps=1e-6 shifts a0 by ~1.5e-6, far above float32 resolution here
    assert_close(adv.to(F64), expected, rtol=0, atol=2e-7)
    # broadcast to every response token, exactly 0 on padding
    for i, n in enumerate(lengths):
        assert torch.all(adv[i, :n] == adv[i, 0])
        assert torch.all(adv[i, n:] == 0)
    # the biased std (0.5 for group 0) would give +-1: make sure that is not what we compute
    assert not torch.allclose(adv[0, 0].to(F64), torch.tensor(1.0, dtype=F64), atol=1e-3)
    # without eps the value would be exactly 0.5 / sqrt(1/3) = 0.8660254...
    assert abs(adv[0, 0].item() - 0.5 / s0) > 1e-6


def test_group_advantages_group_by_id_not_by_position():
    rewards = torch.tensor([1.0, 2.0, 0.0, 2.0, 0.0, 3.0, 1.0, 5.0], dtype=F64)
    group_ids = torch.tensor([7, 3, 7, 3, 7, 3, 7, 3])  # interleaved, non-contiguous ids
    mask = torch.ones(8, 2, dtype=F64)
    adv = group_normalized_advantages(rewards, group_ids, mask, eps=EPS)
    a0 = 0.5 / (0.5773502691896258 + EPS)
    a1 = 1.0 / (1.4142135623730951 + EPS)
    per_seq = torch.tensor([a0, -a1, -a0, -a1, -a0, 0.0, a0, 2 * a1], dtype=F64)
    assert_close(adv.to(F64), per_seq.unsqueeze(-1).expand(8, 2), rtol=0, atol=2e-7)


def test_group_advantages_singleton_group_is_zero():
    rewards = torch.tensor([3.0, 1.0, 2.0], dtype=F64)
    group_ids = torch.tensor([0, 1, 1])
    mask = torch.ones(3, 4, dtype=F64)
    adv = group_normalized_advantages(rewards, group_ids, mask, eps=EPS)
    assert torch.all(adv[0] == 0)  # group of one -> A = 0 (not nan from std of 1 sample)
    a = 0.5 / (0.7071067811865476 + EPS)  # group [1, 2]: mean 1.5, unbiased std sqrt(0.5)
    assert_close(adv[1:].to(F64), torch.tensor([[-a] * 4, [a] * 4], dtype=F64), rtol=0, atol=2e-7)
    assert torch.isfinite(adv).all()


@pytest.mark.parametrize("norm_by_std", [True, False])
def test_group_advantages_equal_rewards_are_exactly_zero(norm_by_std):
    # values chosen so that the float32 mean of the group is not exactly the value itself
    rewards = torch.tensor([2.9] * 8 + [0.1] * 7 + [123.456] * 5 + [1.0] * 4, dtype=F64)
    group_ids = torch.tensor([0] * 8 + [1] * 7 + [2] * 5 + [3] * 4)
    mask = torch.ones(rewards.numel(), 3, dtype=F64)
    adv = group_normalized_advantages(rewards, group_ids, mask, norm_by_std=norm_by_std, eps=EPS)
    assert torch.count_nonzero(adv) == 0


def test_group_advantages_dr_grpo_no_std():
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 2.0, 2.0, 3.0, 5.0], dtype=F64)
    group_ids = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    mask = _mask_from_lengths([2, 2, 1, 2, 2, 2, 2, 0], 2)
    adv = group_normalized_advantages(rewards, group_ids, mask, norm_by_std=False, eps=EPS)
    per_seq = torch.tensor([0.5, -0.5, -0.5, 0.5, -1.0, -1.0, 0.0, 2.0], dtype=F64)
    assert_close(adv.to(F64), per_seq.unsqueeze(-1) * mask, rtol=0, atol=1e-7)


# --------------------------------------------------------------------------------------
# kl_penalty
# --------------------------------------------------------------------------------------

REF = [-1.0, -2.0, -0.5, -3.0]
D = [0.0, 0.5, -1.0, 2.0]  # d = log pi - log pi_ref


def _lp_ref(d=D, ref=REF):
    ref_t = torch.tensor([ref], dtype=F64)
    lp = (ref_t + torch.tensor([d], dtype=F64)).requires_grad_(True)
    return lp, ref_t


def test_kl_k1_k2_k3_hand_values():
    lp, ref = _lp_ref()
    assert_close(kl_penalty(lp, ref, "k1"), torch.tensor([D], dtype=F64))
    assert_close(kl_penalty(lp, ref, "k2"), torch.tensor([[0.0, 0.125, 0.5, 2.0]], dtype=F64))
    # k3 = exp(-d) - 1 + d: 0, e^-0.5 - 0.5, e - 2, e^-2 + 1
    k3 = torch.tensor([[0.0, 0.10653065971263342, 0.7182818284590451, 1.1353352832366128]], dtype=F64)
    assert_close(kl_penalty(lp, ref, "k3"), k3)
    assert_close(kl_penalty(lp, ref), k3)  # k3 is the default


def test_kl_k3_gradient_hand_values():
    lp, ref = _lp_ref()
    kl_penalty(lp, ref, "k3").sum().backward()
    # d k3 / d log pi = 1 - exp(-d)
    expected = torch.tensor([[0.0, 1 - math.exp(-0.5), 1 - math.e, 1 - math.exp(-2.0)]], dtype=F64)
    assert_close(lp.grad, expected)


def test_kl_k3_nonnegative():
    g = torch.Generator().manual_seed(0)
    lp = torch.randn(64, 32, generator=g, dtype=F64) * 5
    ref = torch.randn(64, 32, generator=g, dtype=F64) * 5
    k3 = kl_penalty(lp, ref, "k3")
    assert torch.all(k3 >= 0)
    assert torch.all(kl_penalty(lp, lp, "k3") == 0)


def test_kl_k3_clamps():
    d = [-1000.0, -25.0, -3.0, -2.0, 10.5, 25.0, 1000.0]
    lp, ref = _lp_ref(d=d, ref=[-1.0] * len(d))
    k3 = kl_penalty(lp, ref, "k3")
    # unclamped values would be: inf, e^25 - 26, e^3 - 4 = 16.09, e^2 - 3, 9.50003, 24, 999
    expected = torch.tensor([[10.0, 10.0, 10.0, math.exp(2.0) - 3.0, math.exp(-10.5) + 9.5, 10.0, 10.0]], dtype=F64)
    assert_close(k3, expected)
    assert torch.all(k3 <= 10.0)
    # d is clamped to +-20 before exp: no inf in the forward pass, so the backward is finite
    # (without the clamp, exp(1000) = inf and the gradient would be 0 * inf = nan)
    k3.sum().backward()
    assert torch.isfinite(lp.grad).all()
    assert lp.grad[0, 0] == 0 and lp.grad[0, -1] == 0
    assert_close(lp.grad[0, 3], torch.tensor(1 - math.exp(2.0), dtype=F64))
    # k1 / k2 are not clamped
    assert kl_penalty(lp, ref, "k1")[0, 5].item() == pytest.approx(25.0)
    assert kl_penalty(lp, ref, "k2")[0, 5].item() == pytest.approx(312.5)


def test_kl_unknown_estimator_raises():
    lp, ref = _lp_ref()
    with pytest.raises(ValueError, match="unknown KL estimator"):
        kl_penalty(lp, ref, "k4")


# --------------------------------------------------------------------------------------
# aggregate_token_loss
# --------------------------------------------------------------------------------------

# padding positions hold a large value that must never leak into the result
TOKEN_LOSS = torch.tensor([[1.0, 2.0, 3.0, 1000.0], [5.0, 6.0, 1000.0, 1000.0]], dtype=F64)
MASK = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]], dtype=F64)  # 5 response tokens, masked sum 17


@pytest.mark.parametrize(
    "mode, kwargs, expected",
    [
        ("token-mean", {}, 17 / 5),
        ("seq-mean-token-mean", {}, (6 / 3 + 11 / 2) / 2),  # 3.75
        ("seq-mean-token-sum-norm", {}, 17 / (4 * 2)),  # max_len defaults to T = 4
        # explicit normalisers (as from the whole optimizer-step batch)
        ("token-mean", {"num_tokens": 10}, 1.7),
        ("seq-mean-token-mean", {"num_seqs": 4}, 7.5 / 4),
        ("seq-mean-token-sum-norm", {"max_len": 8}, 17 / (8 * 2)),
        ("seq-mean-token-sum-norm", {"num_seqs": 4, "max_len": 8}, 17 / (8 * 4)),
    ],
)
def test_aggregate_hand_values(mode, kwargs, expected):
    out = aggregate_token_loss(TOKEN_LOSS, MASK, mode, **kwargs)
    assert out.dim() == 0
    assert_close(out, torch.tensor(expected, dtype=F64))


def test_aggregate_accepts_bool_mask_and_default_mode():
    out = aggregate_token_loss(TOKEN_LOSS, MASK.bool())
    assert_close(out, torch.tensor(17 / 5, dtype=F64))


def test_aggregate_unknown_mode_raises():
    with pytest.raises(ValueError, match="unknown loss aggregation"):
        aggregate_token_loss(TOKEN_LOSS, MASK, "sum")


# Gradient accumulation: one batch of 8 vs 4 micro-batches of 2 ---------------------------

N_SEQ, T, D_FEAT, VOCAB = 8, 8, 5, 7
LENGTHS = [1, 2, 8, 7, 3, 3, 5, 6]  # micro-batch token counts 3, 15, 6, 11 (unequal)


def _toy_batch():
    g = torch.Generator().manual_seed(1234)
    feats = torch.randn(N_SEQ, T, D_FEAT, generator=g, dtype=F64)
    tokens = torch.randint(0, VOCAB, (N_SEQ, T), generator=g)
    weight0 = torch.randn(D_FEAT, VOCAB, generator=g, dtype=F64)
    # behaviour policy slightly off the current one, so some tokens are clipped
    old_noise = 0.3 * torch.randn(N_SEQ, T, generator=g, dtype=F64)
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.2, 0.9, 0.5, 0.1], dtype=F64)
    group_ids = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    mask = _mask_from_lengths(LENGTHS, T)
    adv = group_normalized_advantages(rewards, group_ids, mask)
    return feats, tokens, weight0, old_noise, adv, mask


def _logprobs(weight, feats, tokens):
    logits = feats @ weight
    return torch.log_softmax(logits, -1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)


def _loss(weight, feats, tokens, old_noise, adv, mask, mode, norm):
    lp = _logprobs(weight, feats, tokens)
    old = lp.detach() + old_noise
    token_loss, _ = clipped_policy_loss(lp, old, adv, mask, clip_low=0.2, clip_high=0.28)
    return aggregate_token_loss(token_loss, mask, mode, **norm)


def _full_and_micro_grads(mode, micro_norm, micro_scale=1.0):
    feats, tokens, weight0, old_noise, adv, mask = _toy_batch()
    w = weight0.clone().requires_grad_(True)
    _loss(w, feats, tokens, old_noise, adv, mask, mode, {}).backward()
    full = w.grad.clone()

    w = weight0.clone().requires_grad_(True)
    for start in range(0, N_SEQ, 2):
        sl = slice(start, start + 2)
        # each micro-batch is padded only to its own longest response, as a packer would do
        L = int(mask[sl].sum(-1).max().item())
        args = (feats[sl, :L], tokens[sl, :L], old_noise[sl, :L], adv[sl, :L], mask[sl, :L])
        (micro_scale * _loss(w, *args, mode, micro_norm)).backward()
    return full, w.grad.clone()


BATCH_NORMALISERS = {
    "token-mean": {"num_tokens": float(sum(LENGTHS))},
    "seq-mean-token-mean": {"num_seqs": N_SEQ},
    "seq-mean-token-sum-norm": {"num_seqs": N_SEQ, "max_len": T},
}


@pytest.mark.parametrize("mode", list(BATCH_NORMALISERS))
def test_aggregate_micro_batches_with_batch_normalisers_match_full_batch(mode):
    full, accumulated = _full_and_micro_grads(mode, BATCH_NORMALISERS[mode])
    assert full.abs().max() > 1e-3  # the test is not trivially comparing zeros
    assert_close(accumulated, full, rtol=1e-10, atol=1e-12)


def test_aggregate_per_micro_batch_normalisation_changes_token_mean_gradient():
    # The naive recipe: normalise each micro-batch by its own token count and divide the
    # loss by the number of micro-batches. With unequal micro-batch token counts the
    # gradient differs from the full batch's (not just by a scale).
    full, naive = _full_and_micro_grads("token-mean", {}, micro_scale=1 / 4)
    assert not torch.allclose(naive, full, rtol=1e-3, atol=1e-6)
    cos = torch.nn.functional.cosine_similarity(naive.flatten(), full.flatten(), dim=0)
    assert cos < 1 - 1e-6


def test_aggregate_sum_norm_needs_max_len_when_micro_batches_are_trimmed():
    full, wrong = _full_and_micro_grads("seq-mean-token-sum-norm", {"num_seqs": N_SEQ})
    assert not torch.allclose(wrong, full, rtol=1e-3, atol=1e-6)


# --------------------------------------------------------------------------------------
# clipped_policy_loss
# --------------------------------------------------------------------------------------


def test_policy_loss_ratio_one_is_minus_advantage():
    g = torch.Generator().manual_seed(7)
    lp = -torch.rand(3, 5, generator=g, dtype=F64) * 3
    adv = torch.randn(3, 5, generator=g, dtype=F64)
    mask = _mask_from_lengths([5, 2, 4], 5)
    token_loss, stats = clipped_policy_loss(lp, lp.clone(), adv, mask, clip_low=0.2, clip_high=0.28)
    assert_close(token_loss, -adv)
    agg = aggregate_token_loss(token_loss, mask, "token-mean")
    assert_close(agg, -(adv * mask).sum() / mask.sum())
    assert stats["clipfrac"] == 0.0
    assert stats["ratio_mean"] == pytest.approx(1.0)
    assert stats["approx_kl"] == pytest.approx(0.0)


@pytest.mark.parametrize(
    "adv, ratio, clip_low, clip_high, exp_loss, exp_grad",
    [
        # A > 0: clipped above 1 + eps_high (gradient 0), otherwise d loss / d log pi = -A * ratio
        (1.5, 1.5, 0.2, 0.2, -1.5 * 1.2, 0.0),
        (1.5, 1.1, 0.2, 0.2, -1.5 * 1.1, -1.5 * 1.1),
        (1.5, 0.5, 0.2, 0.2, -1.5 * 0.5, -1.5 * 0.5),  # below the band: not clipped for A > 0
        # A < 0: clipped below 1 - eps_low (gradient 0)
        (-2.0, 0.5, 0.2, 0.2, 2.0 * 0.8, 0.0),
        (-2.0, 0.9, 0.2, 0.2, 2.0 * 0.9, 2.0 * 0.9),
        (-2.0, 1.5, 0.2, 0.2, 2.0 * 1.5, 2.0 * 1.5),  # above the band: not clipped for A < 0
        # clip-higher (DAPO): eps_low 0.2, eps_high 0.28
        (1.0, 1.25, 0.2, 0.28, -1.25, -1.25),  # inside [0.8, 1.28]: not clipped
        (1.0, 1.3, 0.2, 0.28, -1.28, 0.0),  # above 1.28: clipped
        (1.0, 1.25, 0.2, 0.2, -1.2, 0.0),  # same token with symmetric eps 0.2: clipped
        # eps_low honoured separately
        (-1.0, 0.85, 0.1, 0.28, 0.9, 0.0),  # below 1 - 0.1: clipped
        (-1.0, 0.85, 0.2, 0.28, 0.85, 0.85),  # above 1 - 0.2: not clipped
    ],
)
def test_policy_loss_clip_boundaries(adv, ratio, clip_low, clip_high, exp_loss, exp_grad):
    old = torch.tensor([[-1.3]], dtype=F64)
    lp = (old + math.log(ratio)).requires_grad_(True)
    a = torch.tensor([[adv]], dtype=F64)
    mask = torch.ones(1, 1, dtype=F64)
    token_loss, stats = clipped_policy_loss(lp, old, a, mask, clip_low=clip_low, clip_high=clip_high)
    assert_close(token_loss, torch.tensor([[exp_loss]], dtype=F64))
    token_loss.sum().backward()
    assert_close(lp.grad, torch.tensor([[exp_grad]], dtype=F64))
    assert stats["clipfrac"] == (1.0 if exp_grad == 0.0 else 0.0)


def test_policy_loss_clipfrac_and_diagnostics():
    ratios = torch.tensor([[1.5, 1.1, 0.5, 2.0], [0.5, 1.5, 1.0, 0.7]], dtype=F64)
    adv = torch.tensor([[1.0, 1.0, 1.0, 1.0], [-1.0, -1.0, 1.0, -1.0]], dtype=F64)
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]], dtype=F64)
    # clipped response tokens: (0,0) rho 1.5 A>0, (1,0) rho 0.5 A<0, (1,3) rho 0.7 A<0;
    # (0,3) would be clipped too but is padding -> 3 of 7
    old = torch.full((2, 4), -2.0, dtype=F64)
    lp = old + ratios.log()
    _, stats = clipped_policy_loss(lp, old, adv, mask, clip_low=0.2, clip_high=0.2)
    assert stats["clipfrac"] == pytest.approx(3 / 7)
    assert stats["ratio_mean"] == pytest.approx(6.8 / 7)
    kl = [r - 1 - math.log(r) for r in [1.5, 1.1, 0.5, 0.5, 1.5, 1.0, 0.7]]
    assert stats["approx_kl"] == pytest.approx(sum(kl) / 7)


def test_approx_kl_estimates_kl_of_old_to_new_under_old_samples():
    """π_old = (1/2, 1/2), π = (1/4, 3/4); each token drawn by π_old once (their probabilities are equal):
    KL(π_old ‖ π) = ½·log 2 + ½·log(2/3) = 0.1438; the reverse KL(π ‖ π_old) would be 0.1308."""
    old = torch.log(torch.tensor([[0.5, 0.5]], dtype=F64))
    new = torch.log(torch.tensor([[0.25, 0.75]], dtype=F64))
    ones = torch.ones(1, 2, dtype=F64)
    _, stats = clipped_policy_loss(new, old, ones, ones, clip_low=0.2, clip_high=0.2)
    assert stats["approx_kl"] == pytest.approx(0.5 * math.log(2) + 0.5 * math.log(2 / 3), abs=1e-12)
    assert stats["approx_kl"] > 0


@pytest.mark.parametrize("mode", list(BATCH_NORMALISERS))
def test_equal_rewards_give_zero_policy_gradient_end_to_end(mode):
    feats, tokens, weight0, old_noise, _, mask = _toy_batch()
    group_ids = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2])

    def grad_for(rewards):
        adv = group_normalized_advantages(rewards, group_ids, mask)
        w = weight0.clone().requires_grad_(True)
        _loss(w, feats, tokens, old_noise, adv, mask, mode, {}).backward()
        return w.grad

    equal = torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 2.9, 2.9], dtype=F64)
    grad = grad_for(equal)
    assert grad is not None
    assert torch.count_nonzero(grad) == 0
    # control: one differing reward gives a non-zero gradient
    assert torch.count_nonzero(grad_for(torch.tensor([1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 2.9, 2.9], dtype=F64))) > 0


# --------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------


def test_registry_grpo():
    algo = get_algorithm("grpo")
    assert isinstance(algo, Algorithm)
    assert algo.name == "grpo"
    assert algo.min_samples_per_prompt == 2

    params = {"norm_by_std": True, "adv_eps": EPS, "clip_low": 0.2, "clip_high": 0.28, "dual_clip": None}
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=F64)
    group_ids = torch.zeros(4, dtype=torch.long)
    mask = torch.ones(4, 2, dtype=F64)
    batch = SimpleNamespace(rewards=rewards, group_ids=group_ids, response_mask=mask)
    out = algo.advantages(batch, params)
    assert out.returns is None
    assert_close(out.advantages, group_normalized_advantages(rewards, group_ids, mask))
    # params are forwarded: ratio 1.25 with A > 0 is inside clip-higher's band
    old = torch.zeros(1, 1, dtype=F64)
    lp = torch.full((1, 1), math.log(1.25), dtype=F64)
    loss, _ = algo.policy_loss(lp, old, torch.ones(1, 1, dtype=F64), torch.ones(1, 1), params)
    assert_close(loss, torch.tensor([[-1.25]], dtype=F64))


def test_registry_unknown_name_lists_registered():
    with pytest.raises(KeyError) as info:
        get_algorithm("no-such-algo")
    msg = str(info.value)
    assert "no-such-algo" in msg
    assert "grpo" in msg


def test_registry_double_registration_raises():
    original = ALGORITHMS["grpo"]
    dup = Algorithm(name="grpo", description="dup", estimator="group", loss="clipped")
    with pytest.raises(ValueError, match="already registered"):
        register_algorithm(dup)
    assert get_algorithm("grpo") is original
    with pytest.raises(KeyError, match="unknown policy loss 'nope'"):
        register_algorithm(Algorithm(name="_unit_test_bad_loss", description="", estimator="group", loss="nope"))

    name = "_unit_test_dummy_algo"
    fresh = Algorithm(name=name, description="", estimator="rloo", loss="gppo")
    try:
        assert register_algorithm(fresh) is fresh
        assert get_algorithm(name) is fresh
        with pytest.raises(ValueError, match="already registered"):
            register_algorithm(fresh)
    finally:
        ALGORITHMS.pop(name, None)
