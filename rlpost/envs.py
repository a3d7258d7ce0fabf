"""The environment API and registry.

An environment is a named dataset (rows with a `prompt` and the reference fields its rewards
read), the reward bindings that score it, and optionally the reference completion of a row
for supervised warm-up. Built-ins live in the top-level `envs` package; third parties register
through the `rlpost.envs` entry-point group.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from rlpost.plugins import load_entry_point, register_once

ENTRY_POINT_GROUP = "rlpost.envs"


@dataclass(frozen=True)
class RewardSpec:
    """A reward plugin bound to an environment with a weight and parameters."""

    name: str
    weight: float = 1.0
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InteractionSpec:
    """An interaction (`rlpost.multiturn`) that makes an environment multi-turn, with its parameters."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Environment:
    """`load(split, params)` returns a `datasets.Dataset` with a `prompt` column.

    `reference_fields` are the columns passed to rewards (None: every column but the prompt);
    `sft_target(row)` is the reference completion used by supervised warm-up (None when the
    environment has none): a text, or for a multi-turn environment the episode as (role, text) turns.
    An environment with no default `rewards` needs them bound in the YAML; `interaction` (optional)
    answers the policy's turns (`rlpost.multiturn`), replaced by the YAML's `interaction`.
    """

    name: str
    description: str
    load: Callable[[str, dict[str, Any]], Any]
    rewards: tuple[RewardSpec, ...]
    reference_fields: tuple[str, ...] | None
    sft_target: Callable[[dict[str, Any]], str | list[tuple[str, str]]] | None = None
    interaction: InteractionSpec | None = None


ENVS: dict[str, Environment] = {}


def rows_loader(make_rows: Callable[[str, dict[str, Any]], list[dict[str, Any]]]) -> Callable[[str, dict[str, Any]], Any]:
    """An `Environment.load` from a function building a split's rows as dicts."""

    def load(split: str, params: dict[str, Any]):
        import datasets

        return datasets.Dataset.from_list(make_rows(split, params))

    return load


def register_env(env: Environment) -> Environment:
    return register_once(ENVS, env.name, env, "environment")


def load_builtins() -> None:
    """Import the built-in environments (the top-level `envs` package) so they are registered."""
    importlib.import_module("envs")


def get_env(name: str) -> Environment:
    load_builtins()
    if name in ENVS:
        return ENVS[name]
    obj = load_entry_point(ENTRY_POINT_GROUP, name)
    if obj is not None:
        return register_env(obj) if isinstance(obj, Environment) else ENVS[name]
    raise KeyError(f"unknown environment {name!r}; registered: {sorted(ENVS)}")


LOCAL_FORMATS = {".jsonl": "json", ".json": "json", ".parquet": "parquet"}


@dataclass(frozen=True)
class DataSource:
    """Where a dataset-backed environment reads its rows (the params shared by such environments).

    `data_files`: a local .jsonl / .json / .parquet file (the train split) or {split: file};
    `dataset`: a `datasets` name or local dataset directory, with `dataset_config` and
    `split_names` ({our split: its split}); neither: the environment's bundled rows.
    `limit` keeps the first rows of a split.
    """

    data_files: str | dict[str, str] | None = None
    dataset: str | None = None
    dataset_config: str | None = None
    split_names: dict[str, str] = field(default_factory=dict)
    limit: int | None = None


def split_params(env: str, params: dict[str, Any], own: set[str]) -> tuple[dict[str, Any], DataSource]:
    """Separate an environment's own params from the `DataSource` ones; an unknown key is an error."""
    source_keys = {f.name for f in fields(DataSource)}
    unknown = set(params) - own - source_keys
    if unknown:
        raise ValueError(f"{env}: unknown params key(s) {sorted(unknown)}; expected some of {sorted(own | source_keys)}")
    return {k: v for k, v in params.items() if k in own}, DataSource(**{k: v for k, v in params.items() if k in source_keys})


def bundled_split(env: str, rows: list[dict[str, Any]], split: str) -> list[dict[str, Any]]:
    """Every fifth bundled row is held out for 'test'; the rest is 'train'."""
    if split not in ("train", "test"):
        raise ValueError(f"{env}: unknown split {split!r}; expected 'train' or 'test'")
    return [r for i, r in enumerate(rows) if (i % 5 == 4) == (split == "test")]


def load_rows(env: str, split: str, source: DataSource, bundled: Path | None) -> tuple[list[dict[str, Any]], str]:
    """The rows of `split` and a name for where they came from (for error messages); `bundled` (None: the
    environment has no bundled rows) is read when the source names neither files nor a dataset."""
    import datasets

    if source.data_files is not None:
        files = source.data_files if isinstance(source.data_files, dict) else {"train": source.data_files}
        if split not in files:
            raise ValueError(f"{env}: params.data_files has no {split!r} file; give data_files: {{train: ..., {split}: ...}}")
        path = Path(files[split])
        if not path.is_file():
            raise ValueError(f"{env}: params.data_files: file {str(path)!r} not found")
        if path.suffix not in LOCAL_FORMATS:
            raise ValueError(f"{env}: params.data_files: {path.name!r} is not one of {sorted(LOCAL_FORMATS)}")
        rows, where = datasets.load_dataset(LOCAL_FORMATS[path.suffix], data_files=str(path), split="train"), path.name
    elif source.dataset is not None:
        name = source.split_names.get(split, split)
        rows = datasets.load_dataset(source.dataset, source.dataset_config, split=name)
        where = f"{source.dataset}[{name}]"
    else:
        lines = bundled.read_text().splitlines()
        rows, where = bundled_split(env, [json.loads(line) for line in lines if line.strip()], split), f"bundled {bundled.name}"
    rows = list(rows)
    return (rows[: source.limit] if source.limit is not None else rows), where
