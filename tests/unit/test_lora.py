"""LoRA weights for the engines (`rlpost.learner.lora`): merged without touching the live base weights."""

from __future__ import annotations

import copy

import torch

from rlpost.learner.lora import LoraSpec, adapter_bytes, merged_state_dict, wrap
from tests.model_zoo import build_model


def test_merged_weights_compute_what_the_adapted_model_computes(tmp_path):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(build_model("llama", tmp_path / "llama"))
    base = copy.deepcopy(model)
    adapted = wrap(model, LoraSpec(rank=4, alpha=8.0))
    assert adapted.get_base_model().model.layers[0].self_attn.q_proj.base_layer.weight.requires_grad is False
    with torch.no_grad():
        for name, p in adapted.named_parameters():
            if "lora_B" in name:
                p.normal_(std=0.05)  # fresh adapters are the identity; make them matter
    before = {k: v.clone() for k, v in adapted.get_base_model().state_dict().items()}
    merged = merged_state_dict(adapted)
    assert set(merged) == set(base.state_dict())
    after = adapted.get_base_model().state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # nothing merged in place
    ids = torch.randint(3, 100, (2, 9))
    base.load_state_dict(merged)
    with torch.no_grad():
        torch.testing.assert_close(base(ids).logits, adapted(ids).logits, atol=1e-5, rtol=0)
        with adapted.disable_adapter():
            plain = adapted(ids).logits
    assert (plain - base(ids).logits).abs().max() > 1e-3  # the adapters change the output
    total = sum(p.numel() * p.element_size() for p in adapted.parameters())
    assert 0 < adapter_bytes(adapted) < total / 10
