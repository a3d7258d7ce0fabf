"""What the model-based rewards (`reward_model`, `llm_judge`) share: params validated with errors
naming the key, a local model directory checked by path, policy text cleaned of the tokenizer's
special-token strings, and a per-process cache of loaded models."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

Dtype = Literal["float32", "bfloat16", "float16"]
P = TypeVar("P", bound=BaseModel)
T = TypeVar("T")

_LOADED: dict[tuple, Any] = {}  # (kind, resolved path, ...) -> loaded model(s), one per worker process


def parse_params(reward: str, model: type[P], params: dict[str, Any]) -> P:
    """`params` as `model`; a bad key or value is a ValueError naming it (`reward_model: param label: ...`)."""
    try:
        return model(**params)
    except ValidationError as e:
        first = e.errors()[0]
        msg = first["msg"].removeprefix("Value error, ")
        if not first["loc"]:
            raise ValueError(f"{reward}: params: {msg}") from None
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"{reward}: param {where}: {msg} (got {first.get('input')!r})") from None


def model_dir(reward: str, path: str) -> Path:
    """`path` resolved; FileNotFoundError naming it unless it is a directory with a `config.json`."""
    resolved = Path(path).expanduser().resolve()
    if not (resolved / "config.json").is_file():
        what = "has no config.json" if resolved.is_dir() else "does not exist"
        raise FileNotFoundError(f"{reward}: param model: {path!r} ({resolved}) {what}; expected a Hugging Face model directory")
    return resolved


def cached(key: tuple, load: Callable[[], T]) -> T:
    """`load()` once per process and `key`; a load that raises is not cached (the next call tries again)."""
    if key not in _LOADED:
        _LOADED[key] = load()
    return _LOADED[key]


def strip_specials(text: str, tokenizer: Any) -> str:
    """`text` NFKC-normalised without any special token string of `tokenizer` (named ones and added tokens marked
    special), repeated until none is left (removing one may join the pieces of another), so policy text never
    tokenizes to a control token."""
    added = [t.content for t in tokenizer.added_tokens_decoder.values() if t.special]
    banned = sorted({t for t in [*tokenizer.all_special_tokens, *added] if t}, key=len, reverse=True)
    text = unicodedata.normalize("NFKC", text)
    while True:
        cleaned = text
        for token in banned:
            cleaned = cleaned.replace(token, "")
        if cleaned == text:
            return text
        text = cleaned
