"""Continual post-training through the real stack: two RL stages with instance filtering before
and evaluation after each (Ray, vLLM, DeepSpeed, reward workers), a stage-level algorithm
override, resuming into a missing evaluation, the SFT baseline (TRL) and the comparison report."""

from __future__ import annotations

import copy
import json
import shutil

import pytest

from rlpost.config import build_config
from rlpost.continual.matrix import MATRIX_FILE
from rlpost.continual.sft_baseline import SFTStages
from rlpost.trainer import Trainer
from tests.conftest import TINY_EXPERIMENT

pytestmark = pytest.mark.slow


def continual_config(tmp_path, name: str, **top) -> dict:
    data = copy.deepcopy(TINY_EXPERIMENT)
    data["run"]["dir"] = str(tmp_path / name)
    data["algorithm"]["kl_coef"] = 0.0
    first = data["stages"][0]
    second = copy.deepcopy(first)
    first["name"], second["name"] = "one", "two"
    second["envs"][0]["params"] = {"digits": 2, "train_size": 60, "test_size": 10}
    second["algorithm"] = {"name": "gppo", "clip_low": 0.1}  # GPPO's dual clip shows in its stats
    data["stages"] = [first, second]
    data["continual"] = {
        # the digit reward is partial credit: variance keeps some instances, the default rule none
        "filter": {"enabled": True, "k": 4, "rule": "reward_variance", "max_instances": 8},
        "eval": {"enabled": True, "k": 2, "limit": 4, "general": [{"name": "reverse", "params": {"train_size": 20}}]},
    }
    data.update(top)
    return data


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_two_rl_stages_filter_evaluate_and_resume(tmp_path):
    run_dir = Trainer(build_config(continual_config(tmp_path, "rl"))).run()

    matrix = json.loads((run_dir / MATRIX_FILE).read_text())
    assert matrix["tasks"] == ["one", "two", "general:reverse"] and matrix["method"] == "rl"
    assert [r["stage"] for r in matrix["rows"]] == ["one", "two"] and matrix["initial"]["step"] == 0
    for row in [matrix["initial"]["accuracy"], *matrix["accuracy"], *matrix["pass_at_k"]]:
        assert len(row) == 3 and all(0.0 <= v <= 1.0 for v in row)
    assert matrix["rows"][0]["envs"]["one"]["arithmetic"]["n"] == 4
    assert set(matrix["summary"]) >= {"average_accuracy", "backward_transfer", "forgetting", "general_accuracy"}
    assert (run_dir / "continual" / "matrix.png").exists() and (run_dir / "continual" / "accuracy.png").exists()

    for index in (0, 1):
        outcome = json.loads((run_dir / "continual" / f"filter_{index}.json").read_text())["envs"][0]
        assert outcome["seen"] == 8 and outcome["kept"] + sum(outcome["dropped"].values()) == 8
        assert outcome["kept_rows"] and max(outcome["kept_rows"]) < 8 and outcome["seconds"] > 0
    events = read_jsonl(run_dir / "events.jsonl")
    assert [e["event"] for e in events].count("filter") == 2
    assert [e.get("after") for e in events if e["event"] == "evaluation"] == ["start", "one", "two"]

    metrics = read_jsonl(run_dir / "metrics.jsonl")
    assert [m["stage"] for m in metrics] == ["one", "one", "two", "two"]
    assert metrics[0]["filter/seen"] == 8 and metrics[2]["filter/seen"] == 8 and "filter/seen" not in metrics[1]
    dual = [any(k.endswith("clipfrac_dual") for k in m) for m in metrics]
    assert dual == [False, False, True, True]  # stage two runs GPPO in the same learner

    ckpts = run_dir / "checkpoints"
    one, two = ckpts / "stage_00_one", ckpts / "stage_01_two"
    assert (one / "COMPLETE").exists() and (two / "COMPLETE").exists() and (ckpts / "final" / "COMPLETE").exists()
    assert not (one / "deepspeed").exists() and (two / "deepspeed").is_dir()  # only the newest keeps optimizer state

    # a crash after stage two's checkpoint but before its evaluation: resume evaluates and finishes
    shutil.rmtree(ckpts / "final")
    matrix["rows"] = matrix["rows"][:1]
    (run_dir / MATRIX_FILE).write_text(json.dumps(matrix))
    again = Trainer(build_config(continual_config(tmp_path, "rl", checkpoint={"resume": "auto"}))).run()
    resumed = json.loads((again / MATRIX_FILE).read_text())
    assert [r["stage"] for r in resumed["rows"]] == ["one", "two"] and resumed["rows"][1]["step"] == 4
    assert len(read_jsonl(run_dir / "metrics.jsonl")) == 4  # no step trained twice
    assert (ckpts / "final" / "COMPLETE").exists()


def test_sft_baseline_and_comparison(tmp_path):
    data = continual_config(tmp_path, "sft", method="sft", sft={"batch_size": 8, "lr": 1e-3})
    data["stages"][0]["steps"] = data["stages"][1]["steps"] = 3
    del data["stages"][1]["algorithm"]
    run_dir = SFTStages(build_config(data)).run()
    matrix = json.loads((run_dir / MATRIX_FILE).read_text())
    assert matrix["method"] == "sft" and [r["stage"] for r in matrix["rows"]] == ["one", "two"]
    assert [r["step"] for r in matrix["rows"]] == [3, 6]
    for name in ("stage_00_one", "stage_01_two", "final"):
        assert (run_dir / "checkpoints" / name / "COMPLETE").exists()
        assert (run_dir / "checkpoints" / name / "config.json").exists()
    losses = [m for m in read_jsonl(run_dir / "metrics.jsonl") if "sft/loss" in m]
    assert losses and {m["stage"] for m in losses} == {"one", "two"} and max(m["step"] for m in losses) <= 6

    from rlpost.cli import main

    # compare with itself under another name: every difference is zero
    other = tmp_path / "sft_copy"
    shutil.copytree(run_dir / "continual", other / "continual")
    assert main(["report", "--compare", str(run_dir), str(other), "--out", str(tmp_path / "cmp")]) == 0
    md = (tmp_path / "cmp" / "compare.md").read_text()
    assert "| forgetting |" in md and "+0.000 |" in md and (tmp_path / "cmp" / "compare.png").exists()
