"""The gsm8k and mbpp environments: bundled rows, local files and dataset directories, bad rows."""

from __future__ import annotations

import json

import datasets
import pytest

from envs.gsm8k import GSM8K
from envs.gsm8k import make_rows as gsm8k_rows
from envs.mbpp import MBPP
from envs.mbpp import make_rows as mbpp_rows
from rewards.math import math_reward
from rlpost.config import EnvSpec
from rlpost.data import load_env
from rlpost.envs import get_env
from rlpost.rewards import Sample
from rlpost.tinymodel import CHARS


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_registered_with_rewards_and_reference_fields():
    assert get_env("gsm8k") is GSM8K and get_env("mbpp") is MBPP
    assert [r.name for r in GSM8K.rewards] == ["math"] and GSM8K.reference_fields == ("answer",)
    assert [r.name for r in MBPP.rewards] == ["code"] and MBPP.reference_fields == ("test_list", "test_setup_code")


@pytest.mark.parametrize(("make_rows", "total"), [(gsm8k_rows, 40), (mbpp_rows, 27)])
def test_bundled_splits_are_disjoint_and_complete(make_rows, total):
    train, test = make_rows("train", {}), make_rows("test", {})
    assert len(train) + len(test) == total and len(test) == total // 5
    assert not {r["prompt"] for r in train} & {r["prompt"] for r in test}
    # the tiny character tokenizer can spell every bundled prompt
    assert set("".join(r["prompt"] for r in train + test)) <= set(CHARS)


def test_gsm8k_bundled_reference_answers_score_one():
    rows = gsm8k_rows("train", {}) + gsm8k_rows("test", {})
    for row in rows:
        assert row["prompt"].startswith(row["question"])
        final = row["answer"].rpartition("####")[2].strip()
        assert math_reward(Sample(row["prompt"], f"so \\boxed{{{final}}}", {"answer": row["answer"]})).score == 1.0
        wrong = str(int(final) + 1)
        assert math_reward(Sample(row["prompt"], f"#### {wrong}", {"answer": row["answer"]})).score == 0.0
    assert GSM8K.sft_target(rows[0]) == rows[0]["answer"]


def test_mbpp_rows_and_sft_target():
    row = mbpp_rows("train", {})[0]
    assert row["text"] in row["prompt"] and all(t in row["prompt"] for t in row["test_list"])
    assert MBPP.sft_target(row) == f"```python\n{row['code']}\n```"
    with pytest.raises(ValueError, match="no reference 'code'"):
        MBPP.sft_target({**row, "code": ""})


def test_load_env_through_the_spec_with_a_template():
    loaded = load_env(EnvSpec(name="gsm8k", params={"template": "Q: {question}\nA:", "limit": 3}), "train")
    assert len(loaded.rows) == 3 and loaded.rows[0]["prompt"].startswith("Q: ") and loaded.rows[0]["prompt"].endswith("\nA:")


def test_local_jsonl_and_parquet_files(tmp_path):
    rows = [{"question": f"What is {i} + 1?", "answer": f"{i} + 1 = {i + 1}\n#### {i + 1}"} for i in range(6)]
    train = _write_jsonl(tmp_path / "train.jsonl", rows)
    test = tmp_path / "test.parquet"
    datasets.Dataset.from_list(rows[:2]).to_parquet(str(test))
    assert [r["question"] for r in gsm8k_rows("train", {"data_files": train})] == [r["question"] for r in rows]
    assert len(gsm8k_rows("test", {"data_files": {"train": train, "test": str(test)}})) == 2
    assert len(gsm8k_rows("train", {"data_files": train, "limit": 4})) == 4
    with pytest.raises(ValueError, match="no 'test' file"):
        gsm8k_rows("test", {"data_files": train})


def test_a_dataset_directory_by_name(tmp_path):
    """`dataset` goes to datasets.load_dataset; a local directory stands in for a hub name (no network in tests)."""
    rows = [{"text": "Write f returning 1.", "code": "def f():\n    return 1", "test_list": ["assert f() == 1"]}] * 3
    (tmp_path / "ds").mkdir()
    datasets.Dataset.from_list(rows).to_parquet(str(tmp_path / "ds" / "train.parquet"))
    datasets.Dataset.from_list(rows[:1]).to_parquet(str(tmp_path / "ds" / "validation.parquet"))
    params = {"dataset": str(tmp_path / "ds"), "split_names": {"test": "validation"}}
    assert len(mbpp_rows("train", params)) == 3 and len(mbpp_rows("test", params)) == 1
    assert mbpp_rows("test", params)[0]["test_setup_code"] == ""


def test_sanitized_mbpp_prompt_column(tmp_path):
    row = {"prompt": "Write g.", "code": "def g(): pass", "test_list": ["assert g() is None"]}
    path = _write_jsonl(tmp_path / "s.jsonl", [row])
    [row] = mbpp_rows("train", {"data_files": path})
    assert row["text"] == "Write g." and row["prompt"].startswith("Write g.")


@pytest.mark.parametrize(
    ("make_rows", "bad_row", "match"),
    [
        (gsm8k_rows, {"question": "q?", "answer": "42"}, r"data.jsonl row 2: 'answer' must be a string with a final '#### "),
        (gsm8k_rows, {"question": "", "answer": "#### 1"}, r"data.jsonl row 2: 'question'"),
        (gsm8k_rows, {"answer": "#### 1"}, r"row 2: 'question'"),
        (mbpp_rows, {"text": "t", "test_list": []}, r"data.jsonl row 2: 'test_list' must be a non-empty list"),
        (mbpp_rows, {"text": "t", "test_list": "assert True"}, r"row 2: 'test_list'"),
        (mbpp_rows, {"test_list": ["assert True"]}, r"row 2: 'text'"),
    ],
)
def test_bad_rows_name_the_file_and_row(tmp_path, make_rows, bad_row, match):
    good = {"question": "q?", "answer": "#### 1", "text": "t", "test_list": ["assert True"]}
    path = _write_jsonl(tmp_path / "data.jsonl", [good, bad_row])
    with pytest.raises(ValueError, match=match):
        make_rows("train", {"data_files": path})


def test_bad_params(tmp_path):
    with pytest.raises(ValueError, match=r"gsm8k: unknown params key\(s\) \['bogus'\]"):
        gsm8k_rows("train", {"bogus": 1})
    with pytest.raises(ValueError, match=r"must contain '\{question\}'"):
        gsm8k_rows("train", {"template": "no placeholder"})
    with pytest.raises(ValueError, match="not found"):
        mbpp_rows("train", {"data_files": str(tmp_path / "missing.jsonl")})
    (tmp_path / "data.csv").write_text("a,b\n")
    with pytest.raises(ValueError, match="is not one of"):
        mbpp_rows("train", {"data_files": str(tmp_path / "data.csv")})
    with pytest.raises(ValueError, match="gsm8k: unknown split 'validation'"):
        gsm8k_rows("validation", {})
