"""Prompt sampling across a stage's environments and prompt tokenisation."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from rlpost.config import EnvSpec
from rlpost.envs import Environment, get_env


@dataclass
class LoadedEnv:
    spec: EnvSpec
    env: Environment
    rows: Any  # datasets.Dataset with a `prompt` column

    @property
    def name(self) -> str:
        return self.spec.name


def load_env(spec: EnvSpec, split: str) -> LoadedEnv:
    """Load one environment's split; an empty or malformed dataset is a clear error."""
    env = get_env(spec.name)
    rows = env.load(split, dict(spec.params))
    if len(rows) == 0:
        raise ValueError(f"environment {spec.name!r} has no rows in split {split!r}")
    missing = [c for c in ("prompt", *env.reference_fields) if c not in rows.column_names]
    if missing:
        raise ValueError(f"environment {spec.name!r} split {split!r} lacks columns {missing}")
    return LoadedEnv(spec, env, rows)


class PromptSampler:
    """Draws (env, row) pairs: the environment by weight, rows in a reshuffled order per epoch."""

    def __init__(self, envs: list[LoadedEnv], seed: int):
        self.envs = envs
        self.rng = random.Random(seed)
        self.orders: list[list[int]] = [[] for _ in envs]

    def _next_row(self, k: int) -> dict[str, Any]:
        if not self.orders[k]:
            order = list(range(len(self.envs[k].rows)))
            self.rng.shuffle(order)
            self.orders[k] = order
        return self.envs[k].rows[self.orders[k].pop()]

    def state(self) -> dict[str, Any]:
        """JSON-able position: the RNG state and what is left of each environment's epoch order."""
        version, internal, gauss = self.rng.getstate()
        return {"rng": [version, list(internal), gauss], "orders": [list(o) for o in self.orders]}

    def load_state(self, state: dict[str, Any]) -> None:
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))
        if len(state["orders"]) != len(self.envs):
            raise ValueError(f"sampler state has {len(state['orders'])} environments, this stage has {len(self.envs)}")
        self.orders = [list(o) for o in state["orders"]]

    def sample(self, count: int) -> list[tuple[LoadedEnv, dict[str, Any]]]:
        weights = [e.spec.weight for e in self.envs]
        picks = self.rng.choices(range(len(self.envs)), weights=weights, k=count)
        return [(self.envs[k], self._next_row(k)) for k in picks]


def render_prompt(tokenizer, text: str, chat: bool) -> list[int]:
    """Token ids of a prompt: raw text, or the chat template with a user turn."""
    if chat:
        messages = [{"role": "user", "content": text}]
        return list(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=False))
    return tokenizer(text, add_special_tokens=False)["input_ids"]
