"""Tiny character-level Qwen2 models built locally, so nothing is downloaded.

`build_tiny_model(out_dir, spec)` writes a Hugging Face model directory (config, random
weights, tokenizer with a ChatML chat template) that transformers, vLLM and DeepSpeed load
like any other checkpoint.
"""

from __future__ import annotations

import json
import string
from dataclasses import asdict, dataclass
from pathlib import Path

SPECIAL_TOKENS = ["<|pad|>", "<|endoftext|>", "<|unk|>", "<|im_start|>", "<|im_end|>"]
CHARS = string.digits + string.ascii_letters + string.punctuation + " \n"
# byte-level names of the characters (space is "Ġ", newline "Ċ"): transformers loads a saved Qwen2
# tokenizer as `Qwen2Tokenizer`, which maps text to these names before the vocabulary lookup (with plain
# names it silently dropped every space and newline)
_BYTE_NAMES = {" ": "\u0120", "\n": "\u010a"}
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass(frozen=True)
class TinySpec:
    """Shape of a tiny Qwen2 model; the defaults give about 0.3M parameters."""

    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int = 256
    max_position: int = 256
    seed: int = 0


def build_tokenizer():
    """A character tokenizer: one token per character, specials first, no merges (byte-level, so it reads the
    same text loaded back with `AutoTokenizer`)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS + [_BYTE_NAMES.get(c, c) for c in CHARS])}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<|unk|>"))
    core.add_special_tokens(SPECIAL_TOKENS)
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="<|pad|>",
        eos_token="<|endoftext|>",
        unk_token="<|unk|>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
    )
    tok.chat_template = CHAT_TEMPLATE
    return tok


def build_tiny_model(out_dir: str | Path, spec: TinySpec = TinySpec()) -> Path:
    """Write a random-init character-level Qwen2 model + tokenizer to `out_dir`."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    out = Path(out_dir)
    tok = build_tokenizer()
    vocab_size = ((len(tok) + 63) // 64) * 64
    config = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads,
        num_key_value_heads=spec.num_kv_heads,
        max_position_embeddings=spec.max_position,
        tie_word_embeddings=True,
        bos_token_id=tok.eos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        torch_dtype="float32",
    )
    torch.manual_seed(spec.seed)
    model = Qwen2ForCausalLM(config)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    (out / "tiny_spec.json").write_text(json.dumps(asdict(spec)))
    return out
