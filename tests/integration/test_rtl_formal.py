"""The formal-equivalence stage of the `rtl` reward on the real yosys in the bubblewrap sandbox.

Every bundled reference proves equivalent to itself and every bundled mutant gets a
counterexample; equivalent rewrites (another adder form, another FSM encoding) are proven; a
solver that runs out of time is `unknown`; the hostile corpus (tests/hostile_rtl_formal/)
never passes; and the `function` param's three modes end to end through `rtl_reward`.
"""

from __future__ import annotations

import re

import pytest

from rewards.rtl import formal, rtl_reward, tools
from rewards.rtl.params import parse_params
from rlpost.rewards import Sample
from tests.conftest import ROOT
from tests.rtl_tasks import ADD8, COUNT2X, LEAN_COUNTER, fenced, reference

TASKS = ROOT / "envs" / "data" / "verilog"
MUTANTS = ROOT / "tests" / "data" / "verilog"
CORPUS = sorted((ROOT / "tests" / "hostile_rtl_formal").glob("*.sv"))
CORPUS_REFS = {"add8": ADD8["ref"], "count4en": (TASKS / "Prob006_count4en_ref.sv").read_text()}
SEQUENTIAL = re.compile(r"\bposedge\b")

RIPPLE_ADD8C = """module TopModule (
  input  [7:0] a,
  input  [7:0] b,
  input        cin,
  output [7:0] sum,
  output       cout
);
  wire [8:0] c;
  assign c[0] = cin;
  genvar i;
  generate
    for (i = 0; i < 8; i = i + 1) begin : fa
      assign sum[i] = a[i] ^ b[i] ^ c[i];
      assign c[i + 1] = (a[i] & b[i]) | (c[i] & (a[i] ^ b[i]));
    end
  endgenerate
  assign cout = c[8];
endmodule
"""

ONE_HOT_DET101 = """module TopModule (
  input  clk,
  input  reset,
  input  x,
  output z
);
  reg [3:0] s;  // one-hot: idle, got 1, got 10, found
  assign z = s[3];
  always @(posedge clk) begin
    if (reset)
      s <= 4'b0001;
    else
      s <= {s[2] & x, s[1] & ~x | s[3] & ~x, s[0] & x | s[1] & x | s[3] & x, s[0] & ~x | s[2] & ~x};
  end
endmodule
"""

MULTIPLIER_REF = "module RefModule (input [31:0] a, input [31:0] b, output [63:0] p);\n  assign p = a * b;\nendmodule\n"
MULTIPLIER_SHIFTED = (
    "module TopModule (input [31:0] a, input [31:0] b, output [63:0] p);\n"
    "  assign p = (({32'd0, a} * {33'd0, b[31:1]}) << 1) + (b[0] ? {32'd0, a} : 64'd0);\nendmodule\n"
)


@pytest.fixture(scope="module")
def formal_params():
    params = parse_params({"ppa": False, "function": "formal"})
    return params, tools.sandbox_config(params)


def _task_ids() -> list[str]:
    return sorted(p.name[: -len("_ref.sv")] for p in TASKS.glob("*_ref.sv"))


def test_every_bundled_reference_is_proven_equal_to_itself_and_every_mutant_has_a_counterexample(formal_params):
    params, config = parse_params({"ppa": False, "formal_depth": 12}), formal_params[1]  # deep enough for every mutant
    ids = _task_ids()
    assert len(ids) == 15
    for task_id in ids:
        ref = (TASKS / f"{task_id}_ref.sv").read_text()
        sequential = bool(SEQUENTIAL.search(ref))
        own = formal.check(ref, ref.replace("RefModule", "TopModule"), params, config)
        assert own.passed, (task_id, own)
        assert (own.status, own.depth) == ("proven", 0) or (sequential and own.depth == params.formal_depth), (task_id, own)
        mutant = formal.check(ref, (MUTANTS / f"{task_id}_mutant.sv").read_text(), params, config)
        assert mutant.status == "counterexample", (task_id, mutant)
        assert re.match(r"cycle \d+: \w+: ref [01x]+ vs [01x]+; inputs \d+: \w+=", mutant.reason), (task_id, mutant.reason)


def test_equivalent_rewrites_are_proven(formal_params):
    params, config = formal_params
    adder = formal.check((TASKS / "Prob002_add8c_ref.sv").read_text(), RIPPLE_ADD8C, params, config)
    assert (adder.status, adder.depth) == ("proven", 0)
    det101 = (TASKS / "Prob012_det101_ref.sv").read_text()
    fsm = formal.check(det101, ONE_HOT_DET101, params, config)
    assert fsm.passed and fsm.depth == params.formal_depth, fsm
    broken = formal.check(det101, ONE_HOT_DET101.replace("s[2] & x,", "s[2],"), params, config)
    assert broken.status == "counterexample" and broken.reason.startswith("cycle "), broken


def test_a_proof_that_runs_out_of_time_is_unknown():
    params = parse_params({"ppa": False, "function": "formal", "formal_timeout_s": 2})
    outcome = formal.check(MULTIPLIER_REF, MULTIPLIER_SHIFTED, params, tools.sandbox_config(params))
    assert outcome.status == "unknown" and not outcome.passed
    assert re.search(r"timeout", outcome.reason), outcome


def test_no_hostile_design_passes_the_proof(formal_params):
    params, config = formal_params
    assert len(CORPUS) >= 20
    for path in CORPUS:
        expect, task, *body = path.read_text().splitlines()
        assert expect.startswith("// expect: ") and task.startswith("// task: "), path.name
        outcome = formal.check(CORPUS_REFS[task.removeprefix("// task: ")], "\n".join(body), params, config)
        assert not outcome.passed, (path.name, outcome)
        assert re.search(expect.removeprefix("// expect: "), f"{outcome.status}: {outcome.reason}"), (path.name, outcome)


def _score(task: dict, source: str, **params):
    return rtl_reward(Sample("p", fenced(source), reference(task)), **{"ppa": False, **params})


CORNER_BUG = ADD8["solution"].replace("a + b", "(a == 8'hff && b == 8'h01) ? 9'd0 : a + b")


def test_the_function_modes_end_to_end():
    # simulation misses a bug on one input pair in 65536; the proof does not
    missed = _score(ADD8, CORNER_BUG)
    assert (missed.score, missed.info, "equiv" in missed.components) == (1.0, "", False)
    for function in ("formal", "both"):
        caught = _score(ADD8, CORNER_BUG, function=function)
        assert caught.score == 0.2 and caught.components["func_pass"] == 0.0, caught
        assert (caught.components["equiv"], caught.components["mismatches"]) == (0.0, 0.0)
        assert caught.info.startswith("formal: counterexample at cycle 1: sum: ref 100000000 vs 000000000"), caught.info
        good = _score(ADD8, ADD8["solution"], function=function)
        assert (good.score, good.info) == (1.0, "formal: proven")
        assert (good.components["equiv"], good.components["equiv_depth"]) == (1.0, 0.0)
    wrong = _score(ADD8, ADD8["solution"].replace("a + b", "a - b"), function="formal")
    assert wrong.score == 0.2 and wrong.info.startswith("function: 300 mismatches in 300 samples; formal: counterexample")


def test_an_unknown_proof_keeps_the_simulation_verdict():
    for source, score in ((ADD8["solution"], 1.0), (CORNER_BUG, 1.0), (ADD8["solution"].replace("a + b", "a - b"), 0.2)):
        result = _score(ADD8, source, function="formal", formal_timeout_s=0.01)
        assert result.score == score and result.components["equiv"] == 0.5, result
        assert re.search(r"formal: unknown \(.*timeout\), simulation verdict kept", result.info), result.info


def test_a_sequential_rewrite_is_proven_through_the_reward_with_its_ppa_bonus():
    result = rtl_reward(Sample("p", fenced(LEAN_COUNTER), reference(COUNT2X)), function="both")
    assert result.components["equiv"] == 1.0 and result.components["equiv_depth"] == 20.0, result
    assert re.match(r"formal: (proven \(by temporal induction\)|bounded-proven \(no difference in 20 cycles)", result.info)
    assert result.score > 1.0 and result.components["ppa_bonus"] > 0.01, result


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"function": "prove"}, r"rtl: param function: Input should be 'simulate', 'formal' or 'both'"),
        ({"formal_depth": 0}, r"rtl: param formal_depth: Input should be greater than 0"),
        ({"formal_timeout_s": -1}, r"rtl: param formal_timeout_s: "),
        ({"formal_induction": -1}, r"rtl: param formal_induction: "),
    ],
)
def test_bad_formal_params_name_the_key(params, message):
    with pytest.raises(ValueError, match=message):
        parse_params(params)


LATE_DIVERGENCE = """module TopModule (
  input        clk,
  input        reset,
  input        en,
  output [3:0] q
);
  reg [3:0] c;
  reg [4:0] age;  // cycles since reset, saturating: the output goes wrong from cycle 24 on
  always @(posedge clk) begin
    if (reset) begin
      c <= 4'd0;
      age <= 5'd0;
    end else begin
      if (en) c <= c + 4'd1;
      if (age != 5'd31) age <= age + 5'd1;
    end
  end
  assign q = age >= 5'd24 ? ~c : c;
endmodule
"""


def test_a_bounded_proof_defers_to_the_simulation_and_a_deeper_one_finds_the_late_bug():
    names = ("ref", "test")
    task = {"task_id": "count4en", **{n: (TASKS / f"Prob006_count4en_{n}.sv").read_text() for n in names}}
    shallow = rtl_reward(Sample("p", fenced(LATE_DIVERGENCE), task), ppa=False, function="formal")
    assert shallow.score == 0.2 and shallow.components["equiv"] == 1.0 and shallow.components["mismatches"] > 0, shallow
    assert re.search(r"mismatches in 300 samples; formal: bounded-proven \(no difference in 20 cycles", shallow.info)
    deep = rtl_reward(Sample("p", fenced(LATE_DIVERGENCE), task), ppa=False, function="formal", formal_depth=30)
    assert deep.score == 0.2 and deep.components["equiv"] == 0.0 and "formal: counterexample at cycle 2" in deep.info, deep
