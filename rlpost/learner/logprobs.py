"""Per-token log-probabilities and entropies from a causal LM, aligned with `RolloutBatch`.

With a large vocabulary the float32 logits [B, T, V] are a learner's memory peak (150k entries per
token), and autograd keeps them, their log-softmax and their gradient. `model_logprobs` with a
`chunk` computes the output head only at the positions whose values are wanted (the response
tokens, for a learner: not the prompt, not the padding), `chunk` tokens at a time from the
backbone's hidden states, each chunk under activation checkpointing, so at most one chunk's logits
exist at once, in the forward and in the backward, however many rows a micro-batch has.
`chunking_agrees` checks a model family's head is the plain linear layer this assumes (no logit
soft-capping or scaling) before a learner relies on it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

AUTO_CHUNK_VOCAB = 32768  # vocabularies from this size on are chunked by default
AUTO_CHUNK = 256  # tokens per chunk (wanted positions of the whole micro-batch)


def _picked_and_entropy(logits: torch.Tensor, targets: torch.Tensor, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """logits [..., V], targets [...] -> (log p(target) [...], entropy [...], the latter without grad)."""
    logits = logits.float() / temperature
    log_z = torch.logsumexp(logits, dim=-1)
    picked = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - log_z
    with torch.no_grad():
        entropy = log_z - (torch.softmax(logits, dim=-1) * logits).sum(-1)
    return picked, entropy


def _head_chunk(hidden: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, temperature: float):
    return _picked_and_entropy(F.linear(hidden, weight, bias), targets, temperature)


def model_logprobs(
    model,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    temperature: float = 1.0,
    chunk: int = 0,
    wanted: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(logprobs, entropy) [B, T] of a causal LM (a Hugging Face `...ForCausalLM`) at the positions `wanted` [B, T]
    marks (default: `attention_mask`), 0 elsewhere. `chunk` > 0: the output head runs at those positions only,
    `chunk` tokens at a time (see the module docstring); 0: the full logits."""
    keep = (attention_mask if wanted is None else wanted)[:, 1:] > 0
    if chunk <= 0:
        logits = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits
        logprobs, entropy = _picked_and_entropy(logits[:, :-1], input_ids[:, 1:], temperature)
        zero = torch.zeros((), dtype=logprobs.dtype, device=logprobs.device)
        return F.pad(torch.where(keep, logprobs, zero), (1, 0)), F.pad(torch.where(keep, entropy, zero), (1, 0))
    hidden = model.get_decoder()(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state
    head = model.get_output_embeddings()
    rows, cols = keep.nonzero(as_tuple=True)
    states, targets = hidden[:, :-1][rows, cols], input_ids[:, 1:][rows, cols]  # [N, H], [N]
    parts = []
    for start in range(0, len(targets), chunk):
        args = (states[start : start + chunk], targets[start : start + chunk], head.weight, head.bias, temperature)
        parts.append(checkpoint(_head_chunk, *args, use_reentrant=False) if torch.is_grad_enabled() else _head_chunk(*args))
    logprobs = torch.zeros(keep.shape, dtype=torch.float32, device=hidden.device)  # the head's values are float32
    entropy = torch.zeros(keep.shape, dtype=torch.float32, device=hidden.device)
    if parts:
        logprobs = logprobs.index_put((rows, cols), torch.cat([p[0] for p in parts]))
        entropy = entropy.index_put((rows, cols), torch.cat([p[1] for p in parts]))
    return F.pad(logprobs, (1, 0)), F.pad(entropy, (1, 0))


def default_chunk(model, configured: int | None) -> int:
    """The configured chunk (0: off), or by default `AUTO_CHUNK` for vocabularies of `AUTO_CHUNK_VOCAB`
    entries or more and 0 below."""
    if configured is not None:
        return configured
    return AUTO_CHUNK if model.config.vocab_size >= AUTO_CHUNK_VOCAB else 0


@torch.no_grad()
def chunking_agrees(model, chunk: int, atol: float = 1e-4) -> bool:
    """Whether the chunked path reproduces the model's own logits on a random batch (it would not for a head
    with soft-capping or a logit scale: such a model is then run on the full logits)."""
    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, model.config.vocab_size, (2, 12), generator=generator).to(next(model.parameters()).device)
    mask = torch.ones_like(ids)
    try:
        full = model_logprobs(model, ids, mask, 1.0, 0)[0]
        part = model_logprobs(model, ids, mask, 1.0, max(1, min(chunk, 5)))[0]
    except (AttributeError, NotImplementedError, TypeError):
        return False
    finally:
        model.train(was_training)
    return bool(torch.allclose(full, part, atol=atol, rtol=0))


@torch.no_grad()
def batched_logprobs(
    model,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    micro_batch_size: int,
    temperature: float = 1.0,
    chunk: int = 0,
    wanted: torch.Tensor | None = None,
) -> torch.Tensor:
    """Forward `model` over [B, T] in micro-batches; returns logprobs [B, T] at the `wanted` positions (see
    `model_logprobs`)."""
    wanted = attention_mask if wanted is None else wanted
    out = []
    parts = (t.split(micro_batch_size) for t in (input_ids, attention_mask, wanted))
    for ids, mask, want in zip(*parts):
        out.append(model_logprobs(model, ids, mask, temperature, chunk, want)[0])
    return torch.cat(out)
