"""Per-token log-probabilities and entropies from a causal LM, aligned with `RolloutBatch`."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def token_logprobs(logits: torch.Tensor, input_ids: torch.Tensor, temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """logits [B, T, V] of positions 0..T-1, input_ids [B, T].

    Returns (logprobs, entropy), both [B, T] with position t the value for token t given
    tokens < t (position 0 is 0). Logits are divided by the sampling temperature.
    """
    logits = logits[:, :-1].float() / temperature
    log_z = torch.logsumexp(logits, dim=-1)
    picked = logits.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    logprobs = picked - log_z
    with torch.no_grad():
        probs = torch.softmax(logits, dim=-1)
        entropy = log_z - (probs * logits).sum(-1)
    return F.pad(logprobs, (1, 0)), F.pad(entropy, (1, 0))


@torch.no_grad()
def batched_logprobs(
    model, input_ids: torch.Tensor, attention_mask: torch.Tensor, micro_batch_size: int, temperature: float = 1.0
) -> torch.Tensor:
    """Forward `model` over [B, T] in micro-batches; returns logprobs [B, T]."""
    out = []
    for ids, mask in zip(input_ids.split(micro_batch_size), attention_mask.split(micro_batch_size)):
        logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
        out.append(token_logprobs(logits, ids, temperature)[0])
    return torch.cat(out)
