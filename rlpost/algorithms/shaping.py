"""Reward shaping and batch-level controls: DAPO overlong penalty, adaptive KL coefficient,
and the all-equal-rewards group test behind dynamic sampling. Pure torch / Python."""

from __future__ import annotations

import torch


def overlong_penalty(response_lengths: torch.Tensor, *, max_len: int, buffer: int, factor: float = 1.0) -> torch.Tensor:
    """DAPO soft overlong punishment (Eq. 13), per sample; response_lengths [B] int -> [B] float32.

    With L_exp = max_len − buffer: 0 when L ≤ L_exp; −factor·(L − L_exp)/buffer when
    L_exp < L ≤ max_len (linear, reaching −factor at L = max_len); −factor when L > max_len.
    Raises ValueError when buffer < 1 or buffer > max_len.
    """
    if buffer < 1:
        raise ValueError(f"buffer must be >= 1, got {buffer!r}")
    if buffer > max_len:
        raise ValueError(f"buffer must be <= max_len ({max_len}), got {buffer!r}")
    expected = max_len - buffer
    excess = (response_lengths.to(torch.float64) - expected) / buffer
    return (-factor * excess.clamp(0.0, 1.0)).to(torch.float32)


def adaptive_kl_coef(coef: float, observed_kl: float, *, target: float, horizon: float, n_steps: int) -> float:
    """Next KL coefficient of the adaptive controller (Ziegler et al. 2019).

    β ← β·(1 + clip(KL/target − 1, −0.2, 0.2)·n_steps/horizon), where n_steps is the number of
    samples (or steps) since the last update. Raises ValueError when target or horizon is not > 0.
    """
    if not target > 0:
        raise ValueError(f"target must be > 0, got {target!r}")
    if not horizon > 0:
        raise ValueError(f"horizon must be > 0, got {horizon!r}")
    error = min(max(float(observed_kl) / target - 1.0, -0.2), 0.2)
    return float(coef) * (1.0 + error * n_steps / horizon)


def all_equal_groups(rewards: torch.Tensor, group_ids: torch.Tensor) -> torch.Tensor:
    """Bool [B]: True for samples whose group (same id in group_ids [B]) has all rewards [B] equal.

    Such groups give zero GRPO advantage, so dynamic sampling drops them. Equality is exact; a
    group of one sample counts as all-equal.
    """
    _, inverse = torch.unique(group_ids, return_inverse=True)
    n_groups = int(inverse.max()) + 1 if inverse.numel() else 0
    vals = rewards.to(torch.float64)
    high = torch.full((n_groups,), -torch.inf, dtype=torch.float64, device=vals.device)
    low = torch.full((n_groups,), torch.inf, dtype=torch.float64, device=vals.device)
    high = high.scatter_reduce(0, inverse, vals, reduce="amax")
    low = low.scatter_reduce(0, inverse, vals, reduce="amin")
    return (high == low)[inverse]
