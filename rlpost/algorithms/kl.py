"""KL estimators between the policy and a reference policy, per token.

All functions take log-probabilities of the sampled tokens, shape [B, T], and return [B, T].
"""

from __future__ import annotations

import torch

KL_ESTIMATORS = ("k1", "k2", "k3")


def kl_penalty(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, estimator: str = "k3") -> torch.Tensor:
    """Per-token KL estimate with d = logπ − logπ_ref.

    k1 = d; k2 = d²/2; k3 = exp(−d) − 1 + d (d clamped to ±20, k3 to ±10 as in verl).
    """
    d = logprobs - ref_logprobs
    if estimator == "k1":
        return d
    if estimator == "k2":
        return 0.5 * d.square()
    if estimator == "k3":
        d = d.clamp(-20.0, 20.0)
        return (torch.exp(-d) - 1.0 + d).clamp(-10.0, 10.0)
    raise ValueError(f"unknown KL estimator {estimator!r}; expected one of {KL_ESTIMATORS}")
