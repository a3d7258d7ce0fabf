"""Log-probabilities over chunks of tokens: the same values, entropies and gradients as the full logits,
for any chunk size, only at the wanted positions; and the check that falls back where a model's head is
not a plain linear."""

from __future__ import annotations

import pytest
import torch

from rlpost.learner.logprobs import AUTO_CHUNK, chunking_agrees, default_chunk, model_logprobs


@pytest.fixture(scope="module")
def model():
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, tie_word_embeddings=False,
    )  # fmt: skip
    return Qwen2ForCausalLM(config).double()


def _batch():
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 300, (3, 11), generator=generator)
    mask = torch.ones_like(ids)
    mask[2, 8:] = 0  # right padding
    return ids, mask


@pytest.mark.parametrize("chunk", [1, 3, 10, 64])
def test_chunks_give_the_full_logits_values_and_gradients(model, chunk):
    ids, mask = _batch()
    weights = torch.randn(3, 11, dtype=torch.float64, generator=torch.Generator().manual_seed(2))

    def run(c):
        model.zero_grad()
        lp, entropy = model_logprobs(model, ids, mask, 0.7, c)
        (lp * weights).sum().backward()
        return lp.detach(), entropy, {n: p.grad.clone() for n, p in model.named_parameters()}

    lp_full, ent_full, grad_full = run(0)
    lp_chunk, ent_chunk, grad_chunk = run(chunk)
    torch.testing.assert_close(lp_chunk, lp_full, atol=1e-10, rtol=0)
    torch.testing.assert_close(ent_chunk, ent_full, atol=1e-10, rtol=0)
    for name, grad in grad_full.items():
        torch.testing.assert_close(grad_chunk[name], grad, atol=1e-10, rtol=0, msg=name)
    assert lp_full[:, 0].abs().sum() == 0 and (lp_full[:2, 1:] < 0).all() and (lp_full[2, 1:8] < 0).all()
    assert lp_full[2, 8:].abs().sum() == 0 and lp_chunk[2, 8:].abs().sum() == 0  # padding: no values


@pytest.mark.parametrize("chunk", [0, 4])
def test_only_the_wanted_positions_get_values(model, chunk):
    """A response mask as `wanted`: the prompt's positions are 0 (the chunked head never runs there), the
    response's values are those of the whole sequence."""
    ids, mask = _batch()
    wanted = mask.clone()
    wanted[:, :5] = 0  # a 5-token prompt
    everywhere, _ = model_logprobs(model, ids, mask, 1.0, chunk)
    lp, entropy = model_logprobs(model, ids, mask, 1.0, chunk, wanted)
    assert lp[:, :5].abs().sum() == 0 and entropy[:, :5].abs().sum() == 0
    torch.testing.assert_close(lp[:, 5:], everywhere[:, 5:], atol=1e-10, rtol=0)
    assert (lp[:2, 5:] < 0).all() and (entropy[:2, 5:] > 0).all()


def test_the_check_refuses_a_head_the_chunks_would_bypass(model):
    assert chunking_agrees(model.float(), 4)
    original = model.forward

    def capped(*args, **kwargs):  # a model that post-processes its logits (soft-capping), as Gemma 2 does
        out = original(*args, **kwargs)
        out.logits = 30.0 * torch.tanh(out.logits / 30.0) * 1.5
        return out

    model.forward = capped
    try:
        assert not chunking_agrees(model, 4)
    finally:
        model.forward = original
        model.double()


def test_default_chunk_follows_the_vocabulary(model):
    assert default_chunk(model, None) == 0  # 300 entries: the full logits are small
    model.config.vocab_size = 151936
    try:
        assert default_chunk(model, None) == AUTO_CHUNK and default_chunk(model, 0) == 0 and default_chunk(model, 64) == 64
    finally:
        model.config.vocab_size = 300


def test_learning_rate_schedules_by_hand():
    from rlpost.learner.deepspeed_learner import lr_factor

    assert [lr_factor("constant", 2, 10, s) for s in range(4)] == [1 / 3, 2 / 3, 1.0, 1.0]
    # after 1 warm-up step, 5 steps of decay to 0 at step 6
    assert [lr_factor("linear", 1, 6, s) for s in (0, 1, 2, 6, 9)] == pytest.approx([0.5, 1.0, 0.8, 0.0, 0.0])
    assert [lr_factor("cosine", 1, 6, s) for s in (1, 2, 4, 6)] == pytest.approx([1.0, 0.904508, 0.345492, 0.0], abs=1e-6)
    with pytest.raises(ValueError, match="unknown lr_schedule 'step'"):
        lr_factor("step", 0, 10, 3)
