"""Reduce a per-token loss [B, T] to a scalar.

Normalisers (`num_tokens`, `num_seqs`) should be those of the whole optimizer-step batch, so
that accumulating micro-batches gives the same gradient as one big batch. When left out they
default to the counts of the batch passed in.
"""

from __future__ import annotations

import torch

LOSS_AGG_MODES = ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm")


def aggregate_token_loss(
    token_loss: torch.Tensor,
    mask: torch.Tensor,
    mode: str = "token-mean",
    *,
    num_tokens: float | None = None,
    num_seqs: float | None = None,
    max_len: int | None = None,
) -> torch.Tensor:
    """Aggregate `token_loss` [B, T] under `mask` [B, T] (1 = response token).

    token-mean:              Σ m·ℓ / num_tokens
    seq-mean-token-mean:     Σ_i (Σ_t m·ℓ / Σ_t m) / num_seqs
    seq-mean-token-sum-norm: Σ m·ℓ / (max_len · num_seqs)   (Dr. GRPO; max_len = generation budget)
    """
    mask = mask.to(token_loss.dtype)
    masked = token_loss * mask
    if num_seqs is None:
        num_seqs = float(token_loss.shape[0])
    if mode == "token-mean":
        denom = float(mask.sum().item()) if num_tokens is None else float(num_tokens)
        return masked.sum() / max(denom, 1.0)
    if mode == "seq-mean-token-mean":
        per_seq = masked.sum(-1) / mask.sum(-1).clamp(min=1.0)
        return per_seq.sum() / max(float(num_seqs), 1.0)
    if mode == "seq-mean-token-sum-norm":
        length = float(max_len) if max_len is not None else float(token_loss.shape[-1])
        return masked.sum() / (length * max(float(num_seqs), 1.0))
    raise ValueError(f"unknown loss aggregation {mode!r}; expected one of {LOSS_AGG_MODES}")


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of `values` over entries where `mask` is 1 (0 when the mask is empty)."""
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


def combine_stats(stats: list[dict[str, float]]) -> dict[str, float]:
    """Scalar diagnostics of several micro-batches or ranks as one: keys ending in `_max` by their maximum,
    the others by their mean (keys of the first dict; empty for no stats)."""
    return {
        k: max(s[k] for s in stats) if k.endswith("_max") else sum(s[k] for s in stats) / len(stats)
        for k in (stats[0] if stats else {})
    }
