"""The `dataset` environment: any local jsonl / parquet file as an environment from YAML alone."""

from __future__ import annotations

import json

import pytest

from rlpost.config import ConfigError, EnvSpec, build_config
from rlpost.data import load_env

ROWS = [
    {"question": f"{a}+{b}=", "final": str(a + b), "solution": f"{a + b}", "source": "hand"} for a in range(6) for b in range(5)
]


@pytest.fixture
def files(tmp_path):
    train, test = tmp_path / "train.jsonl", tmp_path / "test.parquet"
    train.write_text("".join(json.dumps(r) + "\n" for r in ROWS[:20]))
    import datasets

    datasets.Dataset.from_list(ROWS[20:]).to_parquet(str(test))
    return {"train": str(train), "test": str(test)}


def spec(files, **params) -> EnvSpec:
    return EnvSpec(name="dataset", params={"data_files": files, **params}, rewards=[{"name": "exact_answer"}])


def test_columns_map_to_the_prompt_and_the_reward_fields(files):
    env = load_env(spec(files, prompt="question", references={"answer": "final"}, target="solution"), "train")
    assert len(env.rows) == 20 and env.rows[3]["prompt"] == "0+3="
    assert env.reference_fields == ("answer", "target")
    assert env.references(env.rows[3]) == {"answer": "3", "target": "3"}
    assert env.env.sft_target(env.rows[3]) == "3"
    test = load_env(spec(files, prompt="question", references={"answer": "final"}), "test")
    assert len(test.rows) == 10 and test.rows[0] == {"answer": "4", "prompt": "4+0="}


def test_a_template_builds_the_prompt_and_unmapped_columns_pass_through(files):
    env = load_env(spec(files, template="Add {question} ({source})"), "train")
    assert env.rows[0]["prompt"] == "Add 0+0= (hand)"
    assert set(env.reference_fields) == {"question", "final", "solution", "source"}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"prompt": "nope"}, "dataset: train.jsonl row 1 has no column(s) ['nope']"),
        ({"prompt": "question", "references": {"answer": "missing"}}, "has no column(s) ['missing']"),
        ({"template": "{nothing}"}, "params.template names column 'nothing', which train.jsonl row 1 lacks"),
        ({"prompt": "question", "references": ["final"]}, "params.references must map reward field names to column names"),
        ({"prompt": "question", "colour": "red"}, "unknown params key(s) ['colour']"),
    ],
)
def test_bad_mappings_name_the_row_and_the_key(files, params, message):
    with pytest.raises(ConfigError) as info:
        load_env(spec(files, **params), "train", key="stages.0.envs.0")
    assert str(info.value).startswith("stages.0.envs.0 (dataset): ") and message in str(info.value)


def test_it_needs_a_source_and_a_reward(files):
    with pytest.raises(ConfigError, match="give params.data_files"):
        load_env(EnvSpec(name="dataset", rewards=[{"name": "exact_answer"}]), "train", key="stages.0.envs.0")
    with pytest.raises(ConfigError, match=r"^stages\.0\.envs\.0\.rewards: the dataset environment has no default reward"):
        load_env(EnvSpec(name="dataset", params={"data_files": files}), "train", key="stages.0.envs.0")


def test_the_loop_trains_on_a_file_environment(files, tmp_path):
    from tests.fakes import FakeCluster, right_first
    from tests.unit.test_trainer_loop import experiment, lines, train

    env = {"name": "dataset", "params": {"data_files": files, "prompt": "question", "references": {"answer": "final"}},
           "rewards": [{"name": "exact_answer"}]}  # fmt: skip
    data = experiment(tmp_path, steps=2, stages=[{"name": "file", "steps": 2, "envs": [env]}])
    run_dir = train(data, FakeCluster(right_first(2)))
    assert [m["reward/mean"] for m in lines(run_dir, "metrics.jsonl")] == [0.5, 0.5]
    assert build_config(data).stages[0].envs[0].params["prompt"] == "question"
