"""Off-policy correction between the policy that generated a sample and the one being trained.

Three policies meet in a step: the behaviour policy μ (the rollout engine, whose logprobs come with
the samples), the proximal policy π_prox (the learner's weights before this step's updates, which
the ratio of the policy loss is taken against) and π_θ (being trained). μ ≠ π_prox when samples
are stale (asynchronous rollout) and, slightly, whenever the engine's numerics differ from the
learner's. The correction multiplies each token's policy loss by a detached weight built from
ρ_t = π_prox(y_t) / μ(y_t) (decoupled PPO):

- `tis`: token-level truncated importance sampling, w_t = min(ρ_t, cap);
- `mis`: sequence-level masking, w_t = 1 for a sequence whose geometric-mean ratio
  exp(mean_t log ρ_t) lies in [1/cap, cap], else 0 (the sequence leaves the loss);
- `none`: w_t = 1.

All tensors [B, T]; the weights are 0 outside `response_mask`. With μ = π_prox every weight is 1.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from rlpost.algorithms.aggregation import masked_mean

Correction = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, float], tuple[torch.Tensor, dict[str, float]]]


def _log_ratio(proximal: torch.Tensor, behaviour: torch.Tensor, response_mask: torch.Tensor) -> torch.Tensor:
    return ((proximal - behaviour) * response_mask).clamp(-20.0, 20.0)


def _weight_stats(ratio: torch.Tensor, response_mask: torch.Tensor) -> dict[str, float]:
    on = response_mask > 0
    return {
        "is/ratio_mean": masked_mean(ratio, response_mask).item(),
        "is/ratio_max": ratio[on].max().item() if on.any() else 1.0,
    }


def truncated_token_weights(
    proximal: torch.Tensor, behaviour: torch.Tensor, response_mask: torch.Tensor, cap: float
) -> tuple[torch.Tensor, dict[str, float]]:
    """w_t = min(ρ_t, cap) [B, T]; stats: ratio mean / max and the share of response tokens truncated."""
    with torch.no_grad():
        ratio = torch.exp(_log_ratio(proximal, behaviour, response_mask))
        truncated = (ratio > cap) & (response_mask > 0)
        weights = ratio.clamp(max=cap) * response_mask
        stats = _weight_stats(ratio, response_mask) | {"is/truncated_frac": masked_mean(truncated.float(), response_mask).item()}
    return weights, stats


def sequence_mask_weights(
    proximal: torch.Tensor, behaviour: torch.Tensor, response_mask: torch.Tensor, cap: float
) -> tuple[torch.Tensor, dict[str, float]]:
    """w_t = 1 on sequences whose geometric-mean ρ is within [1/cap, cap], else 0 [B, T]; stats: ratio
    mean / max (token level) and the share of sequences masked out."""
    with torch.no_grad():
        log_ratio = _log_ratio(proximal, behaviour, response_mask)
        lengths = response_mask.sum(-1).clamp(min=1.0)
        seq_log_ratio = log_ratio.sum(-1) / lengths  # [B]
        bound = torch.log(torch.tensor(cap, dtype=seq_log_ratio.dtype, device=seq_log_ratio.device))
        keep = seq_log_ratio.abs() <= bound
        weights = keep.to(response_mask.dtype)[:, None] * response_mask
        has_tokens = response_mask.sum(-1) > 0
        masked = (~keep & has_tokens).float().sum() / has_tokens.float().sum().clamp(min=1.0)
        stats = _weight_stats(torch.exp(log_ratio), response_mask) | {"is/masked_frac": masked.item()}
    return weights, stats


CORRECTIONS: dict[str, Correction | None] = {"none": None, "tis": truncated_token_weights, "mis": sequence_mask_weights}


def correction_weights(
    name: str, proximal: torch.Tensor, behaviour: torch.Tensor, response_mask: torch.Tensor, cap: float
) -> tuple[torch.Tensor | None, dict[str, float]]:
    """The weights [B, T] of correction `name` (None for `none`) and its stats."""
    fn = CORRECTIONS[name]
    return (None, {}) if fn is None else fn(proximal, behaviour, response_mask, cap)
