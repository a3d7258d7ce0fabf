"""Policy-gradient token losses. Every function returns an unaggregated loss [B, T] and a
dict of scalar diagnostics; aggregate with `aggregation.aggregate_token_loss`."""

from __future__ import annotations

import torch

from rlpost.algorithms.aggregation import masked_mean


def clipped_policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    *,
    clip_low: float = 0.2,
    clip_high: float = 0.2,
) -> tuple[torch.Tensor, dict[str, float]]:
    """PPO / GRPO clipped surrogate with separate lower and upper ε (DAPO clip-higher).

    All tensors [B, T]. ℓ = −min(ρA, clip(ρ, 1−ε_low, 1+ε_high)A) with ρ = exp(logπ − logπ_old).
    Diagnostics: clipfrac (share of response tokens where the clipped branch is taken),
    approx_kl (mean k3 of π_old vs π), ratio_mean.
    """
    log_ratio = (logprobs - old_logprobs).clamp(-20.0, 20.0)
    ratio = torch.exp(log_ratio)
    unclipped = -advantages * ratio
    clipped = -advantages * ratio.clamp(1.0 - clip_low, 1.0 + clip_high)
    token_loss = torch.maximum(unclipped, clipped)
    with torch.no_grad():
        was_clipped = (clipped > unclipped).float()
        stats = {
            "clipfrac": masked_mean(was_clipped, response_mask).item(),
            "approx_kl": masked_mean(torch.exp(-log_ratio) - 1.0 + log_ratio, response_mask).item(),
            "ratio_mean": masked_mean(ratio, response_mask).item(),
        }
    return token_loss, stats
