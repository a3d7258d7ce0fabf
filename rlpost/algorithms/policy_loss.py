"""Policy-gradient token losses. Every function returns an unaggregated loss [B, T] and a
dict of scalar diagnostics; aggregate with `aggregation.aggregate_token_loss`."""

from __future__ import annotations

import torch

from rlpost.algorithms.aggregation import masked_mean


def _check_dual_clip(dual_clip: float | None) -> None:
    if dual_clip is not None and not dual_clip > 1.0:
        raise ValueError(f"dual_clip must be > 1 (or None), got {dual_clip!r}")


def _log_ratio(logprobs: torch.Tensor, old_logprobs: torch.Tensor) -> torch.Tensor:
    return (logprobs - old_logprobs).clamp(-20.0, 20.0)


def _ratio_stats(log_ratio: torch.Tensor, ratio: torch.Tensor, response_mask: torch.Tensor) -> dict[str, float]:
    """approx_kl and ratio_mean over response tokens. approx_kl estimates KL(π_old ‖ π) from tokens sampled
    by π_old with k3 = (ρ − 1) − log ρ, ρ = π/π_old (unbiased, never negative)."""
    with torch.no_grad():
        return {
            "approx_kl": masked_mean(ratio - 1.0 - log_ratio, response_mask).item(),
            "ratio_mean": masked_mean(ratio, response_mask).item(),
        }


def _ppo_surrogate(
    ratio: torch.Tensor,
    advantages: torch.Tensor,
    *,
    clip_low: float,
    clip_high: float,
    dual_clip: float | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """PPO token loss [B, T] plus two bool masks [B, T]: where the clipped branch is taken (strictly
    larger than the unclipped one) and where the dual clip binds (all False when `dual_clip` is None)."""
    unclipped = -advantages * ratio
    clipped = -advantages * ratio.clamp(1.0 - clip_low, 1.0 + clip_high)
    token_loss = torch.maximum(unclipped, clipped)
    was_clipped = (clipped > unclipped).detach()
    dual_bound = torch.zeros_like(was_clipped)
    if dual_clip is not None:
        dual = -advantages * dual_clip
        negative = advantages < 0
        dual_bound = (negative & (token_loss > dual)).detach()
        token_loss = torch.where(negative, torch.minimum(token_loss, dual), token_loss)
    return token_loss, was_clipped, dual_bound


def clipped_policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    *,
    clip_low: float = 0.2,
    clip_high: float = 0.2,
    dual_clip: float | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """PPO / GRPO clipped surrogate with separate lower and upper ε (DAPO clip-higher).

    All tensors [B, T]. ℓ = −min(ρA, clip(ρ, 1−ε_low, 1+ε_high)A) with ρ = exp(logπ − logπ_old).
    With `dual_clip` = c (> 1; dual-clip PPO, Ye et al. 2020) tokens with A < 0 get
    ℓ = min(max(−ρA, −clip(ρ)A), −cA), so the loss is flat (gradient 0) where ρ > c and A < 0.
    Diagnostics: clipfrac (share of response tokens where the clipped branch is taken),
    approx_kl (mean k3 of π_old vs π), ratio_mean, and clipfrac_dual (share of response tokens
    where the dual clip binds) when `dual_clip` is set.
    """
    _check_dual_clip(dual_clip)
    log_ratio = _log_ratio(logprobs, old_logprobs)
    ratio = torch.exp(log_ratio)
    token_loss, was_clipped, dual_bound = _ppo_surrogate(
        ratio, advantages, clip_low=clip_low, clip_high=clip_high, dual_clip=dual_clip
    )
    with torch.no_grad():
        stats = {"clipfrac": masked_mean(was_clipped.float(), response_mask).item()}
        stats.update(_ratio_stats(log_ratio, ratio, response_mask))
        if dual_clip is not None:
            stats["clipfrac_dual"] = masked_mean(dual_bound.float(), response_mask).item()
    return token_loss, stats


def gppo_policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    *,
    clip_low: float = 0.2,
    clip_high: float = 0.28,
    beta1: float = 1.0,
    beta2: float = 1.0,
    dual_clip: float | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """GPPO (Klear-Reasoner 2025): PPO's forward value with bounded gradients on clipped tokens.

    All tensors [B, T]. The returned loss equals `clipped_policy_loss` with the same clip_low,
    clip_high and dual_clip, bit for bit. Its gradient w.r.t. logπ is
      −β1·(1−ε_low)·A   where ρ < 1−ε_low and A < 0   (PPO: 0),
      −β2·(1+ε_high)·A  where ρ > 1+ε_high and A > 0  (PPO: 0),
    and PPO's gradient (−ρA, or 0 in the dual-clip region) everywhere else. Implemented as PPO's
    loss plus a term whose value is 0 and whose gradient is the above:
    (1−ε_low)·(1 + β1·(ρ/sg(ρ) − 1)) with ρ/sg(ρ) − 1 written as logπ − sg(logπ) (same value 0
    and same first derivative, but not affected by the ±20 log-ratio clamp).
    Diagnostics: clipfrac_low, clipfrac_high (shares of response tokens in the two preserved
    regions), clipfrac (their sum), approx_kl, ratio_mean, and clipfrac_dual when `dual_clip` is set.
    """
    _check_dual_clip(dual_clip)
    log_ratio = _log_ratio(logprobs, old_logprobs)
    ratio = torch.exp(log_ratio)
    ppo_loss, _, dual_bound = _ppo_surrogate(ratio, advantages, clip_low=clip_low, clip_high=clip_high, dual_clip=dual_clip)
    with torch.no_grad():
        low = (ratio < 1.0 - clip_low) & (advantages < 0)
        high = (ratio > 1.0 + clip_high) & (advantages > 0)
    grad_carrier = logprobs - logprobs.detach()  # value 0, d/dlogπ = 1
    zero = torch.zeros_like(ppo_loss)
    low_term = torch.where(low, -advantages * (1.0 - clip_low) * beta1 * grad_carrier, zero)
    high_term = torch.where(high, -advantages * (1.0 + clip_high) * beta2 * grad_carrier, zero)
    token_loss = ppo_loss + (low_term + high_term)
    with torch.no_grad():
        frac_low = masked_mean(low.float(), response_mask).item()
        frac_high = masked_mean(high.float(), response_mask).item()
        stats = {"clipfrac_low": frac_low, "clipfrac_high": frac_high, "clipfrac": frac_low + frac_high}
        stats.update(_ratio_stats(log_ratio, ratio, response_mask))
        if dual_clip is not None:
            stats["clipfrac_dual"] = masked_mean(dual_bound.float(), response_mask).item()
    return token_loss, stats


def reinforce_policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Plain REINFORCE token loss ℓ = −A·logπ (ReMax's one-step update).

    All tensors [B, T]; `advantages` may be per-token returns. No ratio and no clipping:
    `old_logprobs` only feed the diagnostics approx_kl and ratio_mean; clipfrac is always 0.0.
    """
    token_loss = -advantages * logprobs
    log_ratio = _log_ratio(logprobs, old_logprobs).detach()
    stats = {"clipfrac": 0.0}
    stats.update(_ratio_stats(log_ratio, torch.exp(log_ratio), response_mask))
    return token_loss, stats


def gspo_policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    *,
    clip_low: float,
    clip_high: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """GSPO (Zheng et al. 2025): one importance ratio per sequence, length-normalised,
    s_i = exp(mean_t (logπ − logπ_old)), and the clipped objective at sequence level,
    ℓ_i = max(−s_i·A_i, −clip(s_i, 1 − ε_low, 1 + ε_high)·A_i), A_i the sequence's advantage.

    All tensors [B, T]; ℓ_i is placed on every response token of row i, so `seq-mean-token-mean`
    aggregation gives the paper's mean over sequences. Diagnostics: seq_clipfrac (share of sequences
    on the clipped branch), seq_ratio_mean, approx_kl and ratio_mean (token level).
    """
    log_ratio = _log_ratio(logprobs, old_logprobs)
    mask = response_mask.to(log_ratio.dtype)
    lengths = mask.sum(-1).clamp(min=1.0)
    seq_ratio = torch.exp((log_ratio * mask).sum(-1) / lengths)
    seq_adv = (advantages * mask).sum(-1) / lengths
    unclipped = -seq_adv * seq_ratio
    clipped = -seq_adv * seq_ratio.clamp(1.0 - clip_low, 1.0 + clip_high)
    seq_loss = torch.maximum(unclipped, clipped)
    has_tokens = mask.sum(-1) > 0
    stats = {
        "seq_clipfrac": float(((clipped > unclipped) & has_tokens).sum()) / max(1, int(has_tokens.sum())),
        "seq_ratio_mean": float(seq_ratio.detach()[has_tokens].mean()) if bool(has_tokens.any()) else 1.0,
    }
    stats.update(_ratio_stats(log_ratio.detach(), torch.exp(log_ratio.detach()), response_mask))
    return seq_loss.unsqueeze(-1) * mask, stats


def cispo_policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    *,
    clip_low: float,
    clip_high: float,
) -> tuple[torch.Tensor, dict[str, float]]:
    """CISPO (MiniMax-M1, 2025): REINFORCE with a clipped, stop-gradient importance weight,
    ℓ_t = −sg(clip(ρ_t, 1 − ε_low, 1 + ε_high))·A_t·logπ_t. Unlike PPO no token loses its gradient;
    clipping only bounds its weight. All tensors [B, T]. Diagnostics: clipfrac (share of response
    tokens whose weight was clipped), approx_kl, ratio_mean."""
    log_ratio = _log_ratio(logprobs, old_logprobs).detach()
    ratio = torch.exp(log_ratio)
    weight = ratio.clamp(1.0 - clip_low, 1.0 + clip_high)
    token_loss = -weight * advantages * logprobs
    stats = {"clipfrac": masked_mean((weight != ratio).to(ratio.dtype), response_mask).item()}
    stats.update(_ratio_stats(log_ratio, ratio, response_mask))
    return token_loss, stats
