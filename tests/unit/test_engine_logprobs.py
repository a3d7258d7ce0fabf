"""The rollout engine's logprobs are those of the distribution it sampled from: at a temperature other
than 1 they match the learner's `logits / T` recomputation (the transformers engine, in this process)."""

from __future__ import annotations

import pytest
import torch

from rlpost.batch import pad_sequences
from rlpost.learner.logprobs import batched_logprobs
from rlpost.rollout import SamplingSpec, create_engine
from rlpost.tinymodel import build_tiny_model


@pytest.mark.parametrize("temperature", [0.7, 1.3])
def test_hf_engine_logprobs_agree_with_the_learner_at_temperature(tmp_path, temperature):
    from transformers import AutoModelForCausalLM

    path = str(build_tiny_model(tmp_path / "model"))
    engine = create_engine("hf", model_path=path, seed=0, max_model_len=64)
    prompt = engine.tokenizer("12+34=", add_special_tokens=False)["input_ids"]
    completions = engine.generate([prompt], SamplingSpec(n=4, max_new_tokens=6, temperature=temperature, seed=1))[0]
    ids, mask, response = pad_sequences([prompt] * 4, [c.token_ids for c in completions], 0)
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    learner = batched_logprobs(model, ids, mask, 4, temperature)
    raw = batched_logprobs(model, ids, mask, 4, 1.0)
    for i, c in enumerate(completions):
        at = response[i].bool()
        torch.testing.assert_close(torch.tensor(c.logprobs), learner[i][at], atol=1e-4, rtol=0)
        assert (torch.tensor(c.logprobs) - raw[i][at]).abs().max() > 1e-3  # the temperature matters here
