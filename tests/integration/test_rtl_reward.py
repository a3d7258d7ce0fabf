"""The `rtl` reward on the real tools (iverilog, vvp, yosys, OpenSTA in the bubblewrap sandbox).

Stages and their gating, the bundled `verilog` tasks (every reference solution fully
functional, every mutant failing with mismatches), the PPA order of lean, reference and
bloated designs, reference caching, the CLI, and clear errors for bad rows and missing tools.
A missing tool fails these tests; nothing here is skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rewards.rtl import harness, ppa, rtl_reward, tools
from rewards.rtl.cache import CACHE
from rewards.rtl.params import parse_params
from rlpost.cli import main
from rlpost.envs import get_env, load_builtins
from rlpost.rewards import RewardResult, Sample, resolve_reward
from tests.conftest import ROOT
from tests.rtl_tasks import ADD8, BLOATED_COUNTER, COUNT2X, LEAN_COUNTER, TASKS, fenced, reference

ENV_DATA = ROOT / "tests" / "data" / "verilog"
FUNC_KEYS = {"syntax_ok", "func_pass"}
PPA_KEYS = {"area", "cells", "delay", "power", "area_ratio", "delay_ratio", "power_ratio", "ppa_score", "ppa_bonus"}


def _score(task: dict, source: str, **params) -> RewardResult:
    return rtl_reward(Sample("p", fenced(source), reference(task)), **params)


def _bundled_rows() -> list[dict]:
    load_builtins()
    env = get_env("verilog")
    return [*env.load("train", {}), *env.load("test", {})]


@pytest.mark.parametrize("task", TASKS, ids=[t["task_id"] for t in TASKS])
def test_reference_solution_is_fully_functional_and_equal_to_the_reference(task):
    result = _score(task, task["solution"])
    assert result.info == "" and result.score == pytest.approx(1.01)
    c = result.components
    assert set(c) == FUNC_KEYS | {"mismatches", "samples"} | PPA_KEYS
    assert (c["syntax_ok"], c["func_pass"], c["mismatches"]) == (1.0, 1.0, 0.0) and c["samples"] >= 200
    assert c["area_ratio"] == c["delay_ratio"] == c["power_ratio"] == 1.0 and c["cells"] > 0
    assert c["area"] > 0 and 0 < c["delay"] < 10 and 0 < c["power"] < 1


def test_every_bundled_solution_is_functional_and_every_mutant_fails_with_mismatches():
    rows = _bundled_rows()
    assert len(rows) >= 12
    for row in rows:
        ref = {k: row[k] for k in ("task_id", "ref", "test")}
        good = rtl_reward(Sample(row["prompt"], f"```verilog\n{row['solution']}\n```", ref))
        assert good.components["func_pass"] == 1.0 and good.score >= 1.0, (row["task_id"], good)
        assert good.components["area_ratio"] == 1.0, (row["task_id"], good.components)
        mutant = (ENV_DATA / f"{row['task_id']}_mutant.sv").read_text()
        bad = rtl_reward(Sample(row["prompt"], f"```verilog\n{mutant}\n```", ref))
        assert bad.score == 0.2 and bad.components["syntax_ok"] == 1.0, (row["task_id"], bad)
        assert bad.components["func_pass"] == 0.0 and bad.components["mismatches"] > 0, (row["task_id"], bad)
        assert not PPA_KEYS & set(bad.components) and "mismatches in" in bad.info


def test_a_byte_order_mark_and_crlf_line_ends_do_not_fail_a_correct_design():
    def dos(text: str) -> str:
        return "\ufeff" + text.replace("\n", "\r\n")

    row = {"task_id": "add8", "ref": dos(ADD8["ref"]), "test": dos(ADD8["test"])}
    result = rtl_reward(Sample("p", dos(fenced(ADD8["solution"])), row), ppa=False)
    assert result.score == 1.0 and result.info == "", result


def test_a_wrong_design_simulates_with_mismatches_and_stops_before_ppa():
    result = _score(ADD8, ADD8["solution"].replace("a + b", "a - b"))
    assert result.score == 0.2 and result.info == "function: 300 mismatches in 300 samples"
    assert result.components == {"syntax_ok": 1.0, "func_pass": 0.0, "mismatches": 300.0, "samples": 300.0}


@pytest.mark.parametrize(
    ("source", "info"),
    [
        (ADD8["solution"].replace("assign sum = a + b;", "assign sum = a +;"), "syntax: cand.sv:6: syntax error"),
        (ADD8["solution"].replace("endmodule", ""), "syntax: "),
        (ADD8["solution"].replace("a + b", "a + c"), "syntax: cand.sv:6: error: Unable to bind wire/reg/memory `c'"),
        (
            ADD8["solution"].replace("a + b", "(a inside {1, 2}) ? a : b"),
            'syntax: cand.sv:6: sorry: "inside" expressions not supported yet.',
        ),
        (ADD8["solution"].replace("a + b", "a + c + d"), "syntax: cand.sv:6: error: Unable to bind wire/reg/memory `c'"),
    ],
)
def test_a_syntax_error_stops_at_stage_one(source, info):
    result = _score(ADD8, source)
    assert result.score == 0.0 and result.info.startswith(info), result.info
    assert result.components == {"syntax_ok": 0.0, "func_pass": 0.0}


def test_ppa_orders_lean_reference_and_bloated_designs():
    same, lean, bloated = (_score(COUNT2X, src) for src in (COUNT2X["solution"], LEAN_COUNTER, BLOATED_COUNTER))
    for result in (same, lean, bloated):
        assert result.components["func_pass"] == 1.0 and result.info == ""

    def geomean(result):
        return (result.components["area_ratio"] * result.components["delay_ratio"] * result.components["power_ratio"]) ** (1 / 3)

    assert geomean(bloated) < geomean(same) == 1.0 < geomean(lean)
    assert lean.components["area"] < same.components["area"] < bloated.components["area"]
    assert lean.components["cells"] < same.components["cells"] < bloated.components["cells"]
    # the PPA score is strictly ordered; the default bonus clamps it to [0.01, 0.6], so a design worse
    # than the reference gets the floor in the reward
    assert bloated.components["ppa_score"] < same.components["ppa_score"] < lean.components["ppa_score"]
    assert same.components["ppa_score"] == pytest.approx(0.0)
    assert lean.score > same.score == pytest.approx(1.01) and bloated.score == pytest.approx(1.01)
    # with room below the floor the order is strict
    scores = [_score(COUNT2X, src, ppa_min=-0.6).score for src in (BLOATED_COUNTER, COUNT2X["solution"], LEAN_COUNTER)]
    assert scores[0] < scores[1] < scores[2] and scores[1] == pytest.approx(1.0)


def test_bundled_lean_and_bloated_adders_against_the_wasteful_reference():
    row = next(r for r in _bundled_rows() if r["task_id"] == "Prob002_add8c")
    ref = {k: row[k] for k in ("task_id", "ref", "test")}
    scored = {
        kind: rtl_reward(Sample("p", f"```verilog\n{(ENV_DATA / f'Prob002_add8c_{kind}.sv').read_text()}```", ref), ppa_min=-0.6)
        for kind in ("lean", "bloated")
    }
    same = rtl_reward(Sample("p", f"```verilog\n{row['solution']}\n```", ref), ppa_min=-0.6)
    assert scored["bloated"].score < same.score < scored["lean"].score
    assert scored["lean"].components["area_ratio"] > 1.0 > scored["bloated"].components["area_ratio"]
    assert scored["lean"].components["ppa_score"] > same.components["ppa_score"] > scored["bloated"].components["ppa_score"]


def test_stage_values_and_ppa_are_params():
    params = {"fail": -1.0, "compiles": 0.0, "functional": 2.0, "synthesizes": 0.4, "ppa_form": "product"}
    assert _score(ADD8, "module TopModule(input x); endmodule", **params).score == -1.0
    assert _score(ADD8, ADD8["solution"].replace("a + b", "a - b"), **params).score == 0.0
    assert _score(ADD8, ADD8["solution"], **params).score == pytest.approx(2.41)
    lean = _score(COUNT2X, LEAN_COUNTER, **params, ppa_max=10.0, ppa_metrics=["area"])
    assert lean.score == pytest.approx(2.4 + lean.components["area_ratio"] - 1)
    assert set(lean.components) & PPA_KEYS == {"area", "cells", "delay", "power", "area_ratio", "ppa_score", "ppa_bonus"}
    off = _score(ADD8, ADD8["solution"], ppa=False)
    assert off.score == 1.0 and not PPA_KEYS & set(off.components)


def test_verilator_lint_is_an_optional_extra_check():
    assert _score(ADD8, ADD8["solution"], verilator_lint=True, ppa=False).score == 1.0
    broken = ADD8["solution"].replace("assign sum = a + b;", "assign sum = a +;")
    assert _score(ADD8, broken, verilator_lint=True).info.startswith("syntax: ")  # iverilog runs first


def test_a_design_that_synthesises_to_nothing_gets_no_bonus():
    task = {**ADD8, "task_id": "zero"}
    keep = "module RefModule (input [7:0] a, input [7:0] b, output [8:0] sum);\n  assign sum = a + b + 9'd0;\nendmodule\n"
    task["ref"] = keep
    # the candidate drives sum from a and b with no logic: a constant-free wiring that still matches? no: use a test
    # whose samples keep a = b = 0, so `assign sum = 0` is functionally right and synthesises to zero cells
    task["test"] = ADD8["test"].replace("{a, b} = $random;", "{a, b} = 16'd0;")
    result = _score(task, "module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);\n  assign sum = 9'd0;\nendmodule\n")
    assert result.components["func_pass"] == 1.0 and result.components["cells"] == 0.0
    assert result.score == 1.0 and "synthesised to nothing (cells, area" in result.info
    assert "ppa_bonus" not in result.components


def test_the_verdict_must_count_as_many_samples_as_the_reference_run(monkeypatch):
    params = parse_params({})
    config = tools.sandbox_config(params)
    task = harness.Task.from_reference(reference(ADD8))
    monkeypatch.setattr(harness, "reference_run", lambda *a: {"samples": 301, "port_warnings": []})
    outcome = harness.check(task, ADD8["solution"], params, config)
    assert outcome.verdict is None and outcome.syntax_ok
    assert outcome.reason == "simulation: the verdict counts 300 samples, the reference run 301"


def test_reference_results_are_computed_once_and_shared_through_the_cache_dir(tmp_path, monkeypatch):
    CACHE.clear()
    calls = []
    real = ppa.measure
    monkeypatch.setattr(ppa, "measure", lambda source, top, *a: calls.append(top) or real(source, top, *a))
    for _ in range(3):
        assert _score(COUNT2X, LEAN_COUNTER, cache_dir=str(tmp_path)).components["func_pass"] == 1.0
    assert calls == ["RefModule", "TopModule", "TopModule", "TopModule"]
    assert sorted(p.name.split("-")[0] for p in tmp_path.iterdir()) == ["refppa", "refpre", "refsim"]
    CACHE.clear()  # another process: reads the files instead of synthesising the reference again
    calls.clear()
    assert _score(COUNT2X, LEAN_COUNTER, cache_dir=str(tmp_path)).components["area_ratio"] > 1
    assert calls == ["TopModule"]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"ref": None}, "rtl: task add8: reference field 'ref' is missing or empty"),
        ({"test": ""}, "reference field 'test' is missing or empty"),
        ({"ref": "module Other(); endmodule"}, "reference field 'ref' declares no module RefModule"),
        ({"test": "module bench; endmodule"}, "reference field 'test' declares no module tb"),
        (
            {"test": ADD8["test"].replace('$display("Mismatches', '$display("Errors')},
            r"one \$display\(\"Mismatches: ...\"\) \(found 0\)",
        ),
        (
            {"ref": ADD8["ref"].replace("] a,", "] x,").replace("a + b", "x + b")},
            r"the reference does not pass its own testbench \(does not fit the testbench: ",
        ),
    ],
)
def test_bad_rows_are_errors_naming_the_task_and_field(change, match):
    row = {**reference(ADD8), **change}
    with pytest.raises(ValueError, match=match):
        rtl_reward(Sample("p", fenced(ADD8["solution"]), row))


def test_a_missing_tool_fails_naming_it_and_the_make_target(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    tools.tool.cache_clear()
    try:
        with pytest.raises(
            tools.ToolMissing, match=r"`iverilog` not found on PATH; install the Debian package iverilog .*make rtl-deps"
        ):
            _score(ADD8, ADD8["solution"])
    finally:
        tools.tool.cache_clear()


def test_the_liberty_is_found_or_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv(tools.LIBERTY_ENV, raising=False)
    installed = tools.liberty(parse_params({}))  # `make rtl-deps` put it in this environment
    assert installed.endswith("share/rlpost/osu018_stdcells.lib") and Path(installed).is_file()
    monkeypatch.setenv(tools.LIBERTY_ENV, str(tmp_path / "none.lib"))
    with pytest.raises(tools.ToolMissing, match=r"none.lib' \(from \$RLPOST_LIBERTY\) does not exist"):
        _score(ADD8, ADD8["solution"])
    monkeypatch.delenv(tools.LIBERTY_ENV)
    monkeypatch.setattr(tools.sys, "prefix", str(tmp_path))
    with pytest.raises(tools.ToolMissing, match=r"no liberty file: .* run `make rtl-deps`"):
        _score(ADD8, ADD8["solution"])
    assert _score(ADD8, ADD8["solution"], liberty=installed).score == pytest.approx(1.01)
    assert _score(ADD8, ADD8["solution"], ppa=False).score == 1.0  # no liberty needed without PPA


def test_registered_and_scores_through_the_plugin():
    plugin = resolve_reward("rtl")
    assert plugin.fn is rtl_reward and "iverilog" in plugin.description
    out = plugin([Sample("p", fenced(ADD8["solution"]), reference(ADD8))] * 2, {"ppa": False})
    assert [r.score for r in out] == [1.0, 1.0]


def test_cli_rewards_test_scores_a_jsonl_file(tmp_path, capsys):
    lines = [
        {"response": fenced(ADD8["solution"]), **reference(ADD8)},
        {"response": fenced(ADD8["solution"].replace("a + b", "a | b")), **reference(ADD8)},
        {"response": "I don't know.", **reference(ADD8)},
        {"response": fenced(LEAN_COUNTER), **reference(COUNT2X)},
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert main(["rewards", "test", "rtl", "--input", str(path), "--param", "clock_period_ns=5"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["error"] for r in records] == [None] * 4
    assert records[0]["score"] == pytest.approx(1.01) and records[1]["score"] == 0.2 and records[2]["score"] == 0.0
    assert records[2]["info"] == "no Verilog in the response" and records[3]["score"] > 1.01
    assert records[3]["components"]["rtl/area_ratio"] > 1
