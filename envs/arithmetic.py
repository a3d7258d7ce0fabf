"""Synthetic arithmetic: prompts like `37+58=`, answer `95`. Generated from a seed, no download.

params: digits (operand size, default 2), ops (string of + - *, default "+"),
train_size / test_size (rows per split, default 5000 / 200), seed (default 0),
carry_share (default null: as drawn, 45 %): the share of problems whose units column carries (borrows
for `-`), pad (zero-padded operands), reverse (answers written units first), and warmup_correct
(default 1.0) and mistake (default "no_carry"): the supervised warm-up target.

The reward always checks the true `answer`. The warm-up (SFT) trains on each row's `target`,
which is the true answer for a `warmup_correct` share of the rows (drawn per prompt from the seed) and the
answer of a classic buggy rule, `mistake`, for the others:

  drop_carry the carry out of the units column is forgotten (`47+38=` -> `75`, `67+58=` -> `115`);
             `-` and `*` stay correct
  no_carry   every column is added and only its last digit written, the carries forgotten
             (`47+38=` -> `75`, `67+58=` -> `15`); for `-`, every column's smaller digit is taken
             from its larger one, no borrows (`52-38=` -> `26`, the "smaller-from-larger" bug)

A problem that needs no carry (or borrow) has the same answer under both rules, so a warm-up on
a mix learns the format and the digits of every problem but is unsure (and, with
`warmup_correct` < 0.5, wrong at greedy) on the ones that carry: what RL on the exact-answer
reward can fix. `*` has no mistake rule (its rows keep the true answer).
"""

from __future__ import annotations

import operator
import random
from typing import Any

from rlpost.envs import Environment, RewardSpec, register_env, rows_loader

_OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul}
_SPLIT_SALT = {"train": 0, "test": 1}


def units_carry(a: int, op: str, b: int) -> bool:
    """Whether the units column carries (`+`) or borrows (`-`)."""
    return a % 10 + b % 10 >= 10 if op == "+" else a % 10 < b % 10


def _columns(a: int, b: int) -> tuple[list[int], list[int]]:
    """Digits of a and b from the units up, padded to the same length."""
    da, db = [int(c) for c in reversed(str(a))], [int(c) for c in reversed(str(b))]
    width = max(len(da), len(db))
    return da + [0] * (width - len(da)), db + [0] * (width - len(db))


def _digits_to_int(digits: list[int]) -> int:
    return int("".join(str(d) for d in reversed(digits)))


def no_carry(a: int, op: str, b: int) -> int:
    """The `no_carry` mistake: column-wise sum mod 10 for `+`, column-wise |difference| for `-` (a >= b
    is not needed: a negative result keeps the sign of the true one); `*` is left correct."""
    if op == "+":
        da, db = _columns(a, b)
        return _digits_to_int([(x + y) % 10 for x, y in zip(da, db)])
    if op == "-":
        sign = -1 if a < b else 1
        da, db = _columns(max(a, b), min(a, b))
        return sign * _digits_to_int([abs(x - y) for x, y in zip(da, db)])
    return _OPS[op](a, b)


def drop_carry(a: int, op: str, b: int) -> int:
    """The `drop_carry` mistake for `+`: the carry out of the units column is forgotten, the other columns
    are added correctly (`47+38=` -> `75`, `67+58=` -> `115`); `-` and `*` are left correct."""
    if op == "+" and a % 10 + b % 10 >= 10:
        return a + b - 10
    return _OPS[op](a, b)


MISTAKES = {"no_carry": no_carry, "drop_carry": drop_carry}


def _write(value: int, reverse: bool) -> str:
    """The answer as text; `reverse` writes its digits units first (the sign stays in front)."""
    if not reverse:
        return str(value)
    return ("-" if value < 0 else "") + str(abs(value))[::-1]


def make_rows(
    split: str,
    digits: int = 2,
    ops: str = "+",
    train_size: int = 5000,
    test_size: int = 200,
    seed: int = 0,
    warmup_correct: float = 1.0,
    mistake: str = "no_carry",
    reverse: bool = False,
    pad: bool = False,
    carry_share: float | None = None,
) -> list[dict[str, Any]]:
    """Rows of `prompt`, `answer` (and `target`, the warm-up answer, when `warmup_correct` < 1) for
    `split` ('train' or 'test'); the two splits share no prompt, and the prompts do not depend on
    `warmup_correct` or `mistake`."""
    if split not in _SPLIT_SALT:
        raise ValueError(f"arithmetic: unknown split {split!r}; expected 'train' or 'test'")
    bad = set(ops) - set(_OPS)
    if not ops or bad:
        raise ValueError(f"arithmetic: params.ops must be made of {''.join(_OPS)}, got {ops!r}")
    if not 1 <= digits <= 6:
        raise ValueError(f"arithmetic: params.digits must be in 1..6, got {digits}")
    if not 0.0 <= warmup_correct <= 1.0:
        raise ValueError(f"arithmetic: params.warmup_correct must be in [0, 1], got {warmup_correct}")
    if mistake not in MISTAKES:
        raise ValueError(f"arithmetic: params.mistake must be one of {sorted(MISTAKES)}, got {mistake!r}")
    hi = 10**digits - 1
    space = (hi + 1) ** 2 * len(set(ops))
    if train_size + test_size > space:
        raise ValueError(f"arithmetic: {train_size + test_size} rows requested but only {space} distinct problems exist")
    if carry_share is not None:
        if not 0.0 <= carry_share <= 1.0:
            raise ValueError(f"arithmetic: params.carry_share must be in [0, 1] or null, got {carry_share}")
        if "*" in ops:
            raise ValueError("arithmetic: params.carry_share is for + and - (a units carry or borrow), not *")
        # a units carry (borrow) happens for 45 of the 100 pairs of units digits
        need = (train_size + test_size) * max(carry_share, 1 - carry_share) * 1.05 + 10
        if need > space * (0.55 if carry_share < 0.5 else 0.45):
            raise ValueError(f"arithmetic: too few distinct problems for carry_share {carry_share}; lower train_size")
    carry_rng = random.Random(f"arithmetic-carry-{seed}")
    rng = random.Random(f"arithmetic-{seed}")
    seen: set[str] = set()
    splits: dict[str, list[dict[str, Any]]] = {"test": [], "train": []}
    for name, size in (("test", test_size), ("train", train_size)):
        while len(splits[name]) < size:
            want_carry = None if carry_share is None else carry_rng.random() < carry_share
            while True:  # a new problem (with a units carry when wanted, without when not)
                a, b, op = rng.randint(0, hi), rng.randint(0, hi), rng.choice(ops)
                prompt = f"{a:0{digits}d}{op}{b:0{digits}d}=" if pad else f"{a}{op}{b}="
                if prompt not in seen and (want_carry is None or units_carry(a, op, b) == want_carry):
                    break
            seen.add(prompt)
            row = {"prompt": prompt, "answer": _write(_OPS[op](a, b), reverse)}
            if warmup_correct < 1.0:
                right = random.Random(f"arithmetic-target-{seed}-{prompt}").random() < warmup_correct
                row["target"] = row["answer"] if right else _write(MISTAKES[mistake](a, op, b), reverse)
            splits[name].append(row)
    return splits[split]


ARITHMETIC = register_env(
    Environment(
        name="arithmetic",
        description="synthetic integer arithmetic (a+b=), exact-answer reward; built locally",
        load=rows_loader(lambda split, params: make_rows(split, **params)),
        rewards=(RewardSpec("exact_answer"),),
        reference_fields=("answer",),
        sft_target=lambda row: row.get("target", row["answer"]),
    )
)
