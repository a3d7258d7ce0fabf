"""Multiplication the tiny model cannot do in its head, with a calculator it may call.

Prompts like `347*29=`, answer `10063`; the `tools` interaction runs the calculator on the policy's
call, written in the compact `tag` format (`<calculator>347*29</calculator>`: a small model learns
it in a short warm-up; bind `interaction: {name: tools, params: {format: hermes}}` for a chat model
that writes its template's `<tool_call>` JSON), and shows the result; the exact-answer reward reads
the policy's last turn (a tool output alone scores nothing). Generated from a seed, no download.

params: digits_a / digits_b (operand sizes, default 3 and 2), train_size / test_size (default 4000 /
200), seed (default 0), tool_share (default 0.3): the share of rows whose supervised warm-up target
calls the calculator and copies its result; the others answer at once (right, but a small model
mostly cannot learn that). A warm-up on the mix calls the tool on about that share of problems, and RL
on the exact answer can raise it, since the episodes that call the tool are the ones that score.
"""

from __future__ import annotations

import random
from typing import Any

from rlpost.envs import Environment, InteractionSpec, RewardSpec, register_env, rows_loader

_SPLIT_SALT = {"train": 0, "test": 1}


def tool_call(expression: str) -> str:
    """The policy's calculator call as the warm-up writes it (the `tools` interaction's `tag` format)."""
    return f"<calculator>{expression}</calculator>"


def make_rows(
    split: str, digits_a: int = 3, digits_b: int = 2, train_size: int = 4000, test_size: int = 200, seed: int = 0,
    tool_share: float = 0.3,
) -> list[dict[str, Any]]:  # fmt: skip
    """Rows of `prompt`, `answer` and `uses_tool` (the warm-up target's choice); the splits share no prompt."""
    if split not in _SPLIT_SALT:
        raise ValueError(f"tool_arithmetic: unknown split {split!r}; expected 'train' or 'test'")
    if not (1 <= digits_a <= 6 and 1 <= digits_b <= 6):
        raise ValueError(f"tool_arithmetic: params.digits_a and digits_b must be in 1..6, got {digits_a}, {digits_b}")
    if not 0.0 <= tool_share <= 1.0:
        raise ValueError(f"tool_arithmetic: params.tool_share must be in [0, 1], got {tool_share}")
    lo_a, lo_b = 10 ** (digits_a - 1), 10 ** (digits_b - 1)
    space = (10**digits_a - lo_a) * (10**digits_b - lo_b)
    if train_size + test_size > space // 2:
        raise ValueError(f"tool_arithmetic: {train_size + test_size} rows requested of only {space} distinct problems")
    rng = random.Random(f"tool-arithmetic-{seed}")
    seen: set[str] = set()
    splits: dict[str, list[dict[str, Any]]] = {"test": [], "train": []}
    for name, size in (("test", test_size), ("train", train_size)):
        while len(splits[name]) < size:
            a, b = rng.randint(lo_a, 10**digits_a - 1), rng.randint(lo_b, 10**digits_b - 1)
            prompt = f"{a}*{b}="
            if prompt in seen:
                continue
            seen.add(prompt)
            uses_tool = random.Random(f"tool-arithmetic-target-{seed}-{prompt}").random() < tool_share
            splits[name].append({"prompt": prompt, "answer": str(a * b), "uses_tool": uses_tool})
    return splits[split]


def sft_target(row: dict[str, Any]) -> str | list[tuple[str, str]]:
    """The calculator episode (call, result, answer) or the answer at once."""
    if not row["uses_tool"]:
        return row["answer"]
    return [("assistant", tool_call(row["prompt"].rstrip("="))), ("tool", row["answer"]), ("assistant", row["answer"])]


TOOL_ARITHMETIC = register_env(
    Environment(
        name="tool_arithmetic",
        description="multi-turn: products like 347*29= with a calculator tool (tools interaction), exact-answer reward",
        load=rows_loader(lambda split, params: make_rows(split, **params)),
        rewards=(RewardSpec("exact_answer"),),
        reference_fields=("answer",),
        sft_target=sft_target,
        interaction=InteractionSpec("tools", {"tools": ["calculator"], "format": "tag"}),
    )
)
