"""Small random-init models of the architectures users bring, each with a byte-level BPE tokenizer trained
here (the `tokenizers` library) and its family's chat template; some, like their real counterparts, have
no pad token. Heads are 32 wide (vLLM's CPU attention refuses 16). Nothing is downloaded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CORPUS = [f"{a}+{b}={a + b}" for a in range(0, 100, 3) for b in range(0, 100, 7)] + [
    "You add numbers. Answer with the sum only.",
    "system user assistant model",
]


@dataclass(frozen=True)
class Family:
    config: str  # transformers config class
    specials: tuple[str, ...]
    bos: str | None
    eos: str
    pad: str | None  # None: the tokenizer has no pad token
    template: str
    extra: tuple[tuple[str, object], ...] = ()  # config keys of this family


LLAMA3 = (
    "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n{{ m['content'] }}<|eot_id|>"
    "{% endfor %}{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
MISTRAL = (
    "{{ bos_token }}{% set sys = messages[0]['content'] + '\n\n' if messages[0]['role'] == 'system' else '' %}"
    "{% for m in messages if m['role'] != 'system' %}{% if m['role'] == 'user' %}[INST] {{ sys }}{{ m['content'] }} [/INST]"
    "{% else %}{{ m['content'] }}{{ eos_token }}{% endif %}{% endfor %}"
)
GEMMA = (
    "{{ bos_token }}{% set sys = messages[0]['content'] + '\n\n' if messages[0]['role'] == 'system' else '' %}"
    "{% for m in messages if m['role'] != 'system' %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' else 'user' }}\n"
    "{{ sys if m['role'] == 'user' else '' }}{{ m['content'] }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)

FAMILIES = {
    "llama": Family("LlamaConfig", ("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
                    "<|begin_of_text|>", "<|eot_id|>", None, LLAMA3),
    "qwen2": Family("Qwen2Config", ("<|endoftext|>", "<|im_start|>", "<|im_end|>"), None, "<|im_end|>", "<|endoftext|>", CHATML),
    "qwen3": Family("Qwen3Config", ("<|endoftext|>", "<|im_start|>", "<|im_end|>"), None, "<|im_end|>", "<|endoftext|>", CHATML,
                    (("head_dim", 32),)),
    "mistral": Family("MistralConfig", ("<s>", "</s>", "[INST]", "[/INST]"), "<s>", "</s>", None, MISTRAL,
                      (("sliding_window", None),)),
    "gemma": Family("GemmaConfig", ("<pad>", "<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>"), "<bos>", "<end_of_turn>",
                    "<pad>", GEMMA, (("head_dim", 32), ("hidden_activation", "gelu_pytorch_tanh"))),
}  # fmt: skip


def build_tokenizer(family: Family, vocab_size: int = 400):
    """Byte-level BPE trained on `CORPUS`, the family's special tokens first, its chat template attached."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=list(family.specials), initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    core.train_from_iterator(CORPUS, trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=core, bos_token=family.bos, eos_token=family.eos, pad_token=family.pad)
    tok.chat_template = family.template
    return tok


def build_model(name: str, out_dir: Path, seed: int = 0, num_labels: int | None = None, **overrides) -> Path:
    """A random-init model of family `name` with its tokenizer, saved as a Hugging Face directory: a causal LM,
    or with `num_labels` a sequence classifier (`<Family>ForSequenceClassification`, head on the last token).
    `overrides` replace config keys (e.g. `num_hidden_layers`)."""
    import torch
    import transformers

    family = FAMILIES[name]
    tok = build_tokenizer(family)
    keys = dict(
        vocab_size=((len(tok) + 63) // 64) * 64, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, **dict(family.extra),
    )  # fmt: skip
    config = getattr(transformers, family.config)(**{**keys, **overrides})
    torch.manual_seed(seed)
    if num_labels is None:
        model = transformers.AutoModelForCausalLM.from_config(config)
    else:
        config.num_labels = num_labels
        model = transformers.AutoModelForSequenceClassification.from_config(config)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    return out_dir
