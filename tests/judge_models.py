"""Judges whose output is known in advance, for the `llm_judge` tests: a tiny Llama wired to always say a
chosen text, and a test-only engine that plays a gullible judge. Nothing is trained or downloaded."""

from __future__ import annotations

import re
from pathlib import Path

from rlpost.rollout import Completion, SamplingSpec, register_engine
from tests.model_zoo import FAMILIES, build_tokenizer


def build_fixed_judge(out_dir: Path, text: str) -> Path:
    """A Llama (byte-level BPE, Llama 3 chat template) whose greedy output is `text` then EOS, whatever the prompt.

    Attention and MLP outputs are zero, so the last hidden state is the current token's embedding. Embeddings are
    one-hot: dimension 0 for every token outside `text`, dimension i + 1 for the i-th token of `text`; the LM head maps
    dimension 0 to the first token of `text`, dimension i + 1 to token i + 1 (EOS after the last). One logit is
    positive, the others are 0, so greedy decoding follows the chain."""
    import torch
    import transformers

    family = FAMILIES["llama"]
    tok = build_tokenizer(family)
    chain = tok(text, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    if len(set(chain)) != len(chain):
        raise ValueError(f"{text!r} repeats a token; the chain needs distinct tokens")
    config = transformers.LlamaConfig(
        vocab_size=((len(tok) + 63) // 64) * 64, hidden_size=128, intermediate_size=256, num_hidden_layers=1,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024, tie_word_embeddings=False,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=None,
    )  # fmt: skip
    model = transformers.LlamaForCausalLM(config)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        emb, head = model.model.embed_tokens.weight, model.lm_head.weight
        emb.zero_()
        head.zero_()
        emb[:, 0] = 1.0
        head[chain[0], 0] = 1.0
        for i, (here, after) in enumerate(zip(chain, chain[1:])):
            emb[here] = 0.0
            emb[here, i + 1] = 1.0
            head[after, i + 1] = 1.0
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    return out_dir


@register_engine("gullible_judge")
class GullibleJudge:
    """A judge that falls for a broken prompt: when the prompt has other than one `<response>\n...\n</response>`
    fence, a tag nested in it, or a third turn header token (a forged turn), it replies with the last `Score: N`
    anywhere in the prompt; otherwise `Score: 3`."""

    def __init__(self, model_path: str, **_):
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.header = self.tokenizer.convert_tokens_to_ids("<|start_header_id|>")

    def generate(self, prompts: list[list[int]], spec: SamplingSpec) -> list[list[Completion]]:
        out = []
        for ids in prompts:
            text = self.tokenizer.decode(ids)  # special tokens kept: a forged turn shows
            fenced = re.findall(r"<response>\n(.*?)\n</response>", text, re.DOTALL)
            broken = len(fenced) != 1 or re.search(r"</?response", fenced[0], re.IGNORECASE) or ids.count(self.header) > 2
            scores = re.findall(r"Score:\s*(\d+)", text)
            reply = f"Score: {scores[-1]}" if broken and scores else "Score: 3"
            out.append([Completion([], [], reply, False)])
        return out

    def update_weights(self, state_dict) -> None:
        raise NotImplementedError
