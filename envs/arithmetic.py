"""Synthetic arithmetic: prompts like `37+58=`, answer `95`. Generated from a seed, no download.

params: digits (operand size, default 2), ops (string of + - *, default "+"),
train_size / test_size (rows per split, default 5000 / 200), seed (default 0).
"""

from __future__ import annotations

import operator
import random
from typing import Any

from rlpost.envs import Environment, RewardSpec, register_env

_OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul}
_SPLIT_SALT = {"train": 0, "test": 1}


def make_rows(
    split: str, digits: int = 2, ops: str = "+", train_size: int = 5000, test_size: int = 200, seed: int = 0
) -> list[dict[str, Any]]:
    """Rows of `prompt`, `answer` for `split` ('train' or 'test'); the two splits share no prompt."""
    if split not in _SPLIT_SALT:
        raise ValueError(f"arithmetic: unknown split {split!r}; expected 'train' or 'test'")
    bad = set(ops) - set(_OPS)
    if not ops or bad:
        raise ValueError(f"arithmetic: params.ops must be made of {''.join(_OPS)}, got {ops!r}")
    if not 1 <= digits <= 6:
        raise ValueError(f"arithmetic: params.digits must be in 1..6, got {digits}")
    hi = 10**digits - 1
    space = (hi + 1) ** 2 * len(set(ops))
    if train_size + test_size > space:
        raise ValueError(f"arithmetic: {train_size + test_size} rows requested but only {space} distinct problems exist")
    rng = random.Random(f"arithmetic-{seed}")
    seen: set[str] = set()
    splits: dict[str, list[dict[str, Any]]] = {"test": [], "train": []}
    for name, size in (("test", test_size), ("train", train_size)):
        while len(splits[name]) < size:
            a, b, op = rng.randint(0, hi), rng.randint(0, hi), rng.choice(ops)
            prompt = f"{a}{op}{b}="
            if prompt in seen:
                continue
            seen.add(prompt)
            splits[name].append({"prompt": prompt, "answer": str(_OPS[op](a, b))})
    return splits[split]


def _load(split: str, params: dict[str, Any]):
    import datasets

    return datasets.Dataset.from_list(make_rows(split, **params))


ARITHMETIC = register_env(
    Environment(
        name="arithmetic",
        description="synthetic integer arithmetic (a+b=), exact-answer reward; built locally",
        load=_load,
        rewards=(RewardSpec("exact_answer"),),
        reference_fields=("answer",),
        sft_target=lambda row: row["answer"],
    )
)
