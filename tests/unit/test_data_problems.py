"""Data problems: rows missing a needed field are skipped and logged (an error with data.strict), an environment
without rows is a config error naming its key path."""

from __future__ import annotations

import copy
import logging

import datasets
import pytest

import rlpost.envs as envs_mod
from rlpost.config import ConfigError, EnvSpec, build_config
from rlpost.data import load_env, load_stage_envs
from rlpost.envs import Environment, RewardSpec, register_env
from tests.conftest import TINY_EXPERIMENT

ROWS = [
    {"prompt": "1+1=", "answer": "2"},
    {"prompt": "2+2=", "answer": None},  # reference field missing
    {"prompt": "3+3=", "answer": "6"},
    {"prompt": "  ", "answer": "8"},  # blank prompt
    {"answer": "10"},  # no prompt at all
    {"prompt": "6+6=", "answer": "12"},
]


@pytest.fixture
def env_of():
    """Register `test_rows_<tag>` environments serving given rows; removed afterwards."""
    names = []

    def make(tag: str, rows: list[dict], fields: tuple[str, ...] = ("answer",)) -> str:
        name = f"test_rows_{tag}"
        register_env(Environment(name, "rows for a test", lambda split, params: datasets.Dataset.from_list(rows),
                                 (RewardSpec("exact_answer"),), fields))  # fmt: skip
        names.append(name)
        return name

    yield make
    for name in names:
        del envs_mod.ENVS[name]


def test_rows_missing_a_field_are_skipped_and_named(env_of, caplog):
    name = env_of("mixed", ROWS)
    with caplog.at_level(logging.WARNING, logger="rlpost.data"):
        loaded = load_env(EnvSpec(name=name), "train", key="stages.0.envs.1")
    assert loaded.skipped == (1, 3, 4)
    assert [r["prompt"] for r in loaded.rows] == ["1+1=", "3+3=", "6+6="]
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        f"stages.0.envs.1 ({name}) split 'train': skipped 3 of 6 rows lacking a needed field: "
        "rows (0-based) 1 (answer), 3 (prompt), 4 (prompt)"
    )


def test_strict_makes_a_missing_field_an_error(env_of):
    name = env_of("strict", ROWS)
    with pytest.raises(ConfigError) as info:
        load_env(EnvSpec(name=name), "test", strict=True, key="stages.2.envs.0")
    assert str(info.value) == (
        f"stages.2.envs.0 ({name}) split 'test': 3 of 6 rows lack a needed field (data.strict): "
        "rows (0-based) 1 (answer), 3 (prompt), 4 (prompt)"
    )
    assert len(load_env(EnvSpec(name=env_of("clean", ROWS[:1])), "test", strict=True).rows) == 1


def test_many_skipped_rows_are_counted_not_all_listed(env_of, caplog):
    rows = [{"prompt": f"{i}=", "answer": None if i % 2 else str(i)} for i in range(100)]
    with caplog.at_level(logging.WARNING, logger="rlpost.data"):
        loaded = load_env(EnvSpec(name=env_of("many", rows)), "train")
    assert len(loaded.rows) == 50 and len(loaded.skipped) == 50
    message = caplog.records[0].getMessage()
    assert "skipped 50 of 100 rows" in message and "39 (answer), ... (30 more)" in message and "41 (answer)" not in message


@pytest.mark.parametrize(
    ("rows", "fields", "message"),
    [
        ([], ("answer",), "split 'train' has no rows"),
        ([{"prompt": "a", "answer": None}, {"prompt": None, "answer": "b"}], ("answer",),
         "split 'train' has no rows with every needed field: rows (0-based) 0 (answer), 1 (prompt)"),
        ([{"prompt": "a"}], ("answer",), "split 'train' lacks columns ['answer']"),
    ],
)  # fmt: skip
def test_an_environment_without_usable_rows_is_a_config_error_naming_its_key(env_of, rows, fields, message):
    name = env_of("empty", rows, fields)
    with pytest.raises(ConfigError) as info:
        load_env(EnvSpec(name=name), "train", key="stages.1.envs.0")
    assert str(info.value) == f"stages.1.envs.0 ({name}): {message}"


def test_load_stage_envs_uses_key_paths_and_data_strict(env_of):
    data = copy.deepcopy(TINY_EXPERIMENT)
    arithmetic = data["stages"][0]["envs"][0]
    data["stages"].append({"name": "second", "steps": 1, "envs": [arithmetic, {"name": env_of("partial", ROWS)}]})
    stages = load_stage_envs(build_config(data), "train")
    assert [[e.name for e in envs] for envs in stages] == [["arithmetic"], ["arithmetic", "test_rows_partial"]]
    assert len(stages[1][1].rows) == 3
    data["data"] = {"strict": True}
    with pytest.raises(ConfigError, match=r"^stages\.1\.envs\.1 \(test_rows_partial\) split 'train': 3 of 6"):
        load_stage_envs(build_config(data), "train")
    data["data"] = {"strict": False}
    data["stages"][1]["envs"][1] = {"name": env_of("none", [])}
    with pytest.raises(ConfigError, match=r"^stages\.1\.envs\.1 \(test_rows_none\): split 'train' has no rows$"):
        load_stage_envs(build_config(data), "train")


def test_environment_load_errors_name_the_key_path():
    spec = EnvSpec(name="arithmetic", params={"digits": 9})
    with pytest.raises(ConfigError, match=r"^stages\.0\.envs\.0 \(arithmetic\): arithmetic: params\.digits"):
        load_env(spec, "train", key="stages.0.envs.0")
    with pytest.raises(ValueError, match=r"^arithmetic: params\.digits"):  # no key: the environment's own error
        load_env(spec, "train")


def test_data_section_of_the_config():
    assert build_config(copy.deepcopy(TINY_EXPERIMENT)).data.strict is False
    with pytest.raises(ConfigError, match=r"^data\.strictly: unknown key"):
        build_config({**copy.deepcopy(TINY_EXPERIMENT), "data": {"strictly": True}})
