"""Prompt sampling across a stage's environments and prompt tokenisation."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Any

from rlpost.config import ConfigError, EnvSpec, ExperimentConfig
from rlpost.envs import Environment, get_env

log = logging.getLogger(__name__)
SHOWN_INDEXES = 20  # row indexes named in a skipped-rows message


@dataclass
class LoadedEnv:
    spec: EnvSpec
    env: Environment
    rows: Any  # datasets.Dataset with a `prompt` column
    skipped: tuple[int, ...] = ()  # indexes (in the split as loaded) of rows dropped for a missing field
    key: str = ""  # the spec's key path in the config (e.g. "stages.0.envs.1"): which reward binding scores it

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def binding(self) -> str:
        """The reward binding's key: the config key path, or the name of an environment loaded without one."""
        return self.key or self.spec.name

    @property
    def reference_fields(self) -> tuple[str, ...]:
        """The row fields rewards see: the environment's, or (declared None) every column but the prompt."""
        if self.env.reference_fields is not None:
            return self.env.reference_fields
        return tuple(c for c in self.rows.column_names if c != "prompt")

    def references(self, row: dict[str, Any]) -> dict[str, Any]:
        return {f: row[f] for f in self.reference_fields}

    def render(self, tokenizer, text: str) -> list[int]:
        """A prompt's token ids as this environment presents it (raw, or chat with its system message and, for an
        interaction that offers tools, their schemas for the chat template)."""
        return render_prompt(tokenizer, text, self.spec.chat, self.spec.system, self.tool_schemas())

    def tool_schemas(self) -> list[dict[str, Any]] | None:
        """JSON schemas of the tools the interaction offers (its factory's `tool_schemas(**params)`), in chat only."""
        if not self.spec.chat or self.interaction is None:
            return None
        from rlpost.multiturn.api import resolve_interaction

        name, params = self.interaction
        describe = getattr(resolve_interaction(name), "tool_schemas", None)
        return describe(**params) if describe is not None else None

    @property
    def interaction(self) -> tuple[str, dict[str, Any]] | None:
        """(name, params) of the interaction answering the policy's turns (the config's, else the environment's);
        None: single-turn."""
        if self.spec.interaction is not None:
            return self.spec.interaction.name, dict(self.spec.interaction.params)
        if self.env.interaction is not None:
            return self.env.interaction.name, dict(self.env.interaction.params)
        return None

    def reward_specs(self) -> list[dict[str, Any]]:
        """The reward plugins that score it (name, weight, params): the config's override, else the defaults."""
        if self.spec.rewards is not None:
            return [b.model_dump() for b in self.spec.rewards]
        return [{"name": r.name, "weight": r.weight, "params": dict(r.params)} for r in self.env.rewards]


def missing_fields(rows: Any, needed: tuple[str, ...]) -> dict[int, list[str]]:
    """Row index -> the needed fields it lacks (None, or for `prompt` not a non-empty string)."""
    bad: dict[int, list[str]] = {}
    for name in needed:
        for i, value in enumerate(rows[name]):
            if value is None or (name == "prompt" and not (isinstance(value, str) and value.strip())):
                bad.setdefault(i, []).append(name)
    return dict(sorted(bad.items()))


def _indexes(bad: dict[int, list[str]]) -> str:
    shown = ", ".join(f"{i} ({'/'.join(fields)})" for i, fields in list(bad.items())[:SHOWN_INDEXES])
    return shown + (f", ... ({len(bad) - SHOWN_INDEXES} more)" if len(bad) > SHOWN_INDEXES else "")


def load_env(spec: EnvSpec, split: str, strict: bool = False, key: str | None = None) -> LoadedEnv:
    """Load one environment's split. A row lacking `prompt` or a reference field is skipped with a
    warning naming its index (an error when `strict`); no usable row at all is a `ConfigError`.
    `key` is the config path of `spec` (e.g. "stages.0.envs.1") for messages."""
    where = f"{key} ({spec.name})" if key else f"environment {spec.name!r}"
    env = get_env(spec.name)
    if not env.rewards and spec.rewards is None:
        raise ConfigError(f"{key + '.rewards' if key else where}: the {spec.name} environment has no default reward; bind one")
    try:
        rows = env.load(split, dict(spec.params))
    except ValueError as e:
        if key is None:
            raise
        raise ConfigError(f"{where}: {e}") from None
    if len(rows) == 0:
        raise ConfigError(f"{where}: split {split!r} has no rows")
    needed = ("prompt", *(env.reference_fields or ()))
    absent = [c for c in needed if c not in rows.column_names]
    if absent:
        raise ConfigError(f"{where}: split {split!r} lacks columns {absent}")
    bad = missing_fields(rows, needed)
    if bad and strict:
        count = f"{len(bad)} of {len(rows)} rows lack a needed field (data.strict)"
        raise ConfigError(f"{where} split {split!r}: {count}: rows (0-based) {_indexes(bad)}")
    if len(bad) == len(rows):
        raise ConfigError(f"{where}: split {split!r} has no rows with every needed field: rows (0-based) {_indexes(bad)}")
    if bad:
        log.warning(
            "%s split %r: skipped %d of %d rows lacking a needed field: rows (0-based) %s",
            where,
            split,
            len(bad),
            len(rows),
            _indexes(bad),
        )
        rows = rows.select([i for i in range(len(rows)) if i not in bad])
    return LoadedEnv(spec, env, rows, tuple(bad), key or "")


def load_stage_envs(cfg: ExperimentConfig, split: str) -> list[list[LoadedEnv]]:
    """Every stage's environments (`stages.i.envs.j`), loaded with the config's `data.strict`."""
    return [
        [load_env(spec, split, cfg.data.strict, f"stages.{i}.envs.{j}") for j, spec in enumerate(stage.envs)]
        for i, stage in enumerate(cfg.stages)
    ]


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


def render_prompt(tokenizer, text: str, chat: bool, system: str | None = None, tools: list[dict] | None = None) -> list[int]:
    """Token ids of a prompt: raw text, or the tokenizer's chat template with a user turn (after a system
    turn when `system` is given), the `tools` (JSON schemas, rendered by templates that support them) and the
    generation prompt."""
    if chat:
        messages = ([{"role": "system", "content": system}] if system is not None else []) + [{"role": "user", "content": text}]
        return list(
            tokenizer.apply_chat_template(messages, tools=tools, add_generation_prompt=True, tokenize=True, return_dict=False)
        )
    return tokenizer(text, add_special_tokens=False)["input_ids"]
