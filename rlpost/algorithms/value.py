"""Critic (value-function) losses and diagnostics for PPO. Pure torch, tensors [B, T]."""

from __future__ import annotations

import torch

from rlpost.algorithms.aggregation import masked_mean


def clipped_value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    response_mask: torch.Tensor,
    *,
    clip: float | None = 0.5,
) -> tuple[torch.Tensor, dict[str, float]]:
    """PPO value loss, unaggregated [B, T] (aggregate with `aggregate_token_loss`).

    values, old_values, returns, response_mask: [B, T].
    ℓ = 0.5·max((V − R)², (clip(V, V_old − ε_v, V_old + ε_v) − R)²); with `clip=None`, ℓ = 0.5·(V − R)².
    Diagnostics (over response tokens): vf_clipfrac (share where the clipped branch is strictly
    larger; 0.0 when unclipped), value_mean, returns_mean.
    """
    if clip is not None and clip < 0:
        raise ValueError(f"clip must be >= 0 (or None), got {clip!r}")
    unclipped = (values - returns).square()
    if clip is None:
        token_loss = 0.5 * unclipped
        was_clipped = torch.zeros_like(unclipped, dtype=torch.bool)
    else:
        clipped_values = torch.clamp(values, old_values - clip, old_values + clip)
        clipped = (clipped_values - returns).square()
        token_loss = 0.5 * torch.maximum(unclipped, clipped)
        was_clipped = clipped > unclipped
    with torch.no_grad():
        stats = {
            "vf_clipfrac": masked_mean(was_clipped.to(values.dtype), response_mask).item(),
            "value_mean": masked_mean(values, response_mask).item(),
            "returns_mean": masked_mean(returns, response_mask).item(),
        }
    return token_loss, stats


def explained_variance(values: torch.Tensor, returns: torch.Tensor, response_mask: torch.Tensor) -> float:
    """1 − Var(R − V) / Var(R) over response tokens; values, returns, response_mask [B, T].

    1 for a perfect predictor, 0 for a constant predictor equal to the mean return, negative
    when worse than that. Both variances are population (biased) variances, so the ratio does
    not depend on the Bessel correction. Returns float('nan') when Var(R) == 0 (constant
    returns, one response token, or an empty mask): the quantity is undefined there.
    """
    with torch.no_grad():
        keep = response_mask.bool()
        r = returns.detach().to(torch.float64)[keep]
        v = values.detach().to(torch.float64)[keep]
        # exact test for constant returns (a computed variance can be an ulp above 0)
        if r.numel() == 0 or bool((r == r[0]).all()):
            return float("nan")
        var_r = (r - r.mean()).square().mean()
        diff = r - v
        var_diff = (diff - diff.mean()).square().mean()
        return float(1.0 - var_diff / var_r)
