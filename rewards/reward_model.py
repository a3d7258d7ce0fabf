"""A learned reward model: a local `AutoModelForSequenceClassification` scores `prompt + response`.

The text is `prompt + response`, or with `chat: true` the tokenizer's chat template over a user turn
(prompt) and an assistant turn (response). Special-token strings the policy wrote are removed first,
so a response cannot forge the template's turn markers. A sequence over `max_length` tokens loses
tokens from the left: the start of the prompt goes first, the response is kept whole while it fits
(component `truncated`: tokens dropped). A response of `max_length` tokens or more leaves the model
no prompt to judge it against, so set `max_length` above the longest prompt plus `max_new_tokens`.
Samples are scored `batch_size` at a time, right-padded; the head reads the last real token of each
row, as it does for one row alone (a model without a pad token is given, per batch, an id no row
contains). The score is the `label` logit (`logit`
component) through `transform`: `raw`, `sigmoid`, or `standardize` ((logit - mean) / std).

The model is loaded once per reward worker process per (path, dtype), as the worker starts (outside
the per-sample time bound); workers are Ray actors, so the reward pool gives the parallelism, the
per-sample timeout and the failure isolation.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, model_validator

from rewards.model_common import Dtype, cached, model_dir, parse_params, strip_specials
from rlpost.rewards import RewardResult, Sample, register_reward

NAME = "reward_model"


class RewardModelParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(description="local Hugging Face directory of a sequence-classification model")
    chat: bool = Field(False, description="format through the tokenizer's chat template (user: prompt, assistant: response)")
    batch_size: PositiveInt = 8
    max_length: PositiveInt = Field(1024, description="tokens per sequence; longer ones lose tokens from the left")
    dtype: Dtype = "float32"
    threads: PositiveInt = Field(1, description="torch CPU threads in the worker process")
    transform: Literal["raw", "sigmoid", "standardize"] = "raw"
    mean: float = Field(0.0, description="subtracted by transform standardize")
    std: PositiveFloat = Field(1.0, description="divides by transform standardize")
    label: int = Field(0, ge=0, description="logit index read when the head has several labels")

    @model_validator(mode="after")
    def _check(self) -> RewardModelParams:
        if self.transform != "standardize" and (self.mean, self.std) != (0.0, 1.0):
            raise ValueError(f"mean / std are used only by transform standardize (transform is {self.transform!r})")
        return self


def load(path: str, dtype: str) -> tuple[Any, Any]:
    """(tokenizer, model in eval mode), cached per process and (resolved path, dtype)."""
    resolved = model_dir(NAME, path)

    def _load():
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(resolved)
        model = AutoModelForSequenceClassification.from_pretrained(resolved, dtype=getattr(torch, dtype)).eval()
        return tokenizer, model

    return cached((NAME, str(resolved), dtype), _load)


def encode(tokenizer: Any, sample: Sample, chat: bool, max_length: int) -> tuple[list[int], int]:
    """(token ids, tokens dropped from the left) of one sample."""
    prompt, response = strip_specials(sample.prompt, tokenizer), strip_specials(sample.response, tokenizer)
    if chat:
        if not tokenizer.chat_template:
            raise ValueError(f"{NAME}: param chat: the tokenizer of {tokenizer.name_or_path!r} has no chat template")
        turns = [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
        ids = tokenizer(tokenizer.apply_chat_template(turns, tokenize=False), add_special_tokens=False)["input_ids"]
    else:
        ids = tokenizer(prompt + response)["input_ids"]
    ids = ids or [tokenizer.eos_token_id or 0]  # nothing to read: the head reads an end-of-text token
    dropped = max(0, len(ids) - max_length)
    return ids[dropped:], dropped


def logits(model: Any, rows: list[list[int]], pad_id: int | None) -> list[list[float]]:
    """Head logits [rows][num_labels] of right-padded `rows`, read at each row's last token."""
    import torch

    if pad_id is None:  # no pad token: any id no row holds pads, so the head's last non-pad token is the last one
        present = {t for row in rows for t in row}
        pad_id = next(i for i in range(model.config.vocab_size - 1, -1, -1) if i not in present)
    width = max(len(r) for r in rows)
    ids = torch.tensor([r + [pad_id] * (width - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    saved = model.config.pad_token_id
    model.config.pad_token_id = pad_id
    try:
        with torch.no_grad():
            return model(input_ids=ids, attention_mask=mask).logits.float().tolist()
    finally:
        model.config.pad_token_id = saved


def apply(transform: str, logit: float, mean: float, std: float) -> float:
    if transform == "sigmoid":
        return 1.0 / (1.0 + math.exp(-logit)) if logit >= 0 else math.exp(logit) / (1.0 + math.exp(logit))
    if transform == "standardize":
        return (logit - mean) / std
    return logit


def warm_up(**params: Any) -> None:
    """Load the model as the worker starts (errors surface again when samples are scored)."""
    p = parse_params(NAME, RewardModelParams, params)
    load(p.model, p.dtype)


@register_reward(NAME, batched=True, warmup=warm_up)
def reward_model(samples: list[Sample], **params: Any) -> list[RewardResult]:
    """A local sequence-classification model's logit for prompt + response (raw, sigmoid or standardised)."""
    import torch

    p = parse_params(NAME, RewardModelParams, params)
    tokenizer, model = load(p.model, p.dtype)
    if p.label >= model.config.num_labels:
        raise ValueError(f"{NAME}: param label: {p.label} is not below the model's num_labels {model.config.num_labels}")
    torch.set_num_threads(p.threads)
    encoded = [encode(tokenizer, s, p.chat, p.max_length) for s in samples]
    pad_id = model.config.pad_token_id
    out: list[RewardResult] = []
    for start in range(0, len(encoded), p.batch_size):
        chunk = encoded[start : start + p.batch_size]
        for (_, dropped), row in zip(chunk, logits(model, [ids for ids, _ in chunk], pad_id)):
            logit = row[p.label]
            info = f"{dropped} tokens truncated from the left" if dropped else ""
            components = {"logit": logit, "truncated": float(dropped)}
            out.append(RewardResult(apply(p.transform, logit, p.mean, p.std), components, info))
    return out
