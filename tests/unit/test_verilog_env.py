"""The verilog environment: bundled tasks (each reference passes its testbench, each mutant fails),
the VerilogEval / RTLLM / jsonl loaders on small fake checkouts, and bad input.

iverilog and yosys are required: a missing tool fails these tests, it does not skip them.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from envs.verilog import BUNDLED, VERILOG, make_rows, parse_ports
from envs.verilog_ports import Port, tokenize
from envs.verilog_ports import text as join_tokens
from envs.verilog_tb import LEGACY, Stimulus, equivalence_testbench
from rlpost.config import EnvSpec
from rlpost.data import load_env
from rlpost.envs import bundled_split, get_env
from rlpost.tinymodel import CHARS

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "verilog"
VERDICT = re.compile(r"^Mismatches: (\d+) in (\d+) samples$", re.M)
ALL_ROWS = make_rows("train", {}) + make_rows("test", {})
BY_ID = {row["task_id"]: row for row in ALL_ROWS}


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed (make install / apt-get install iverilog yosys); these tests need it"
    return path


def simulate(tmp_path: Path, test: str, ref: str, candidate: str) -> tuple[int, int]:
    """(mismatches, samples) of the testbench run on the reference and the candidate TopModule with iverilog."""
    iverilog, vvp = _tool("iverilog"), _tool("vvp")
    for name, text in (("tb.sv", test), ("ref.sv", ref), ("cand.sv", candidate)):
        (tmp_path / name).write_text(text)
    cmd = [iverilog, "-Wall", "-Winfloop", "-Wno-timescale", "-g2012", "-s", "tb", "-o", "sim.vvp", "tb.sv", "ref.sv", "cand.sv"]
    built = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert built.returncode == 0, built.stderr
    run = subprocess.run([vvp, "-n", "sim.vvp"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "TIMEOUT" not in run.stdout
    verdicts = VERDICT.findall(run.stdout)
    assert len(verdicts) == 1, run.stdout
    return int(verdicts[0][0]), int(verdicts[0][1])


# --------------------------------------------------------------------------------------
# bundled tasks
# --------------------------------------------------------------------------------------


def test_registered_with_the_rtl_reward():
    assert get_env("verilog") is VERILOG
    assert [r.name for r in VERILOG.rewards] == ["rtl"]
    assert VERILOG.reference_fields == ("task_id", "ref", "test")


def test_bundled_split_sizes_and_fields():
    train, test = make_rows("train", {}), make_rows("test", {})
    assert len(train) == 12 and len(test) == 3
    ids = sorted(BY_ID)
    held_out = bundled_split("verilog", [{"task_id": i} for i in ids], "test")
    assert len(ids) == 15 and [r["task_id"] for r in test] == [r["task_id"] for r in held_out]
    # one combinational, one sequential and one state-machine task are held out
    assert [r["task_id"] for r in test] == ["Prob005_cmps8", "Prob010_downcnt", "Prob015_rrarb"]
    assert not {r["task_id"] for r in train} & {r["task_id"] for r in test}
    for row in ALL_ROWS:
        assert list(row) == ["task_id", "prompt", "ref", "test", "solution"]
        assert re.fullmatch(r"Prob\d{3}_\w+", row["task_id"])
        assert "module named TopModule" in row["prompt"] and row["prompt"].endswith("in a ```verilog block.")
        assert len(row["prompt"]) < 700
        assert re.search(r"\bmodule\s+RefModule\b", row["ref"]) and re.search(r"\bmodule\s+tb\b", row["test"])
        assert re.search(r"\bmodule\s+TopModule\b", row["solution"]) and "RefModule" not in row["solution"]
        assert 'Mismatches: %0d in %0d samples", mismatches, samples);\n    $finish;' in row["test"]
        assert VERILOG.sft_target(row) == f"```verilog\n{row['solution']}\n```"
    assert len(make_rows("train", {"limit": 4})) == 4


def test_the_tiny_tokenizer_spells_every_prompt_and_solution():
    text = "".join(row["prompt"] + VERILOG.sft_target(row) for row in ALL_ROWS)
    assert set(text) <= set(CHARS), sorted(set(text) - set(CHARS))


def test_only_the_testbench_uses_system_tasks():
    for row in ALL_ROWS:
        assert "$" not in row["solution"], row["task_id"]


def test_template_and_load_env():
    rows = make_rows("test", {"template": "Spec:\n{spec}\nVerilog:"})
    assert rows[0]["prompt"].startswith("Spec:\nWrite a module named TopModule") and rows[0]["prompt"].endswith("\nVerilog:")
    loaded = load_env(EnvSpec(name="verilog", params={"limit": 2}), "train")
    assert len(loaded.rows) == 2 and loaded.rows[0]["task_id"] == "Prob001_mux4"


@pytest.mark.parametrize("task_id", sorted(BY_ID))
def test_reference_passes_and_mutant_fails(tmp_path, task_id):
    row = BY_ID[task_id]
    mismatches, samples = simulate(tmp_path, row["test"], row["ref"], row["solution"])
    assert mismatches == 0 and samples >= 100
    mutant = (FIXTURES / f"{task_id}_mutant.sv").read_text()
    bad, bad_samples = simulate(tmp_path, row["test"], row["ref"], mutant)
    assert bad > 0 and bad_samples == samples


def test_every_fixture_belongs_to_a_task():
    names = sorted(p.name for p in FIXTURES.glob("*.sv"))
    assert {n.rsplit("_", 1)[0] for n in names} == set(BY_ID)
    assert [n for n in names if not n.endswith("_mutant.sv")] == ["Prob002_add8c_bloated.sv", "Prob002_add8c_lean.sv"]


def _generic_cells(tmp_path: Path, source: str) -> int:
    (tmp_path / "d.sv").write_text(source)
    cmd = [_tool("yosys"), "-q", "-p", "read_verilog -sv d.sv; synth -top TopModule -flatten; tee -o stat.txt stat"]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return int(re.findall(r"Number of cells:\s+(\d+)", (tmp_path / "stat.txt").read_text())[-1])


def test_lean_and_bloated_adders_are_correct_and_sized_around_the_reference(tmp_path):
    """The PPA fixtures: both correct; the reference is deliberately wasteful, so lean < reference < bloated."""
    row = BY_ID["Prob002_add8c"]
    lean, bloated = (FIXTURES / "Prob002_add8c_lean.sv").read_text(), (FIXTURES / "Prob002_add8c_bloated.sv").read_text()
    for design in (lean, bloated):
        assert simulate(tmp_path, row["test"], row["ref"], design)[0] == 0
    sizes = [_generic_cells(tmp_path, s) for s in (lean, row["solution"], bloated)]
    assert sizes[0] < sizes[1] < sizes[2], sizes


# --------------------------------------------------------------------------------------
# a VerilogEval checkout
# --------------------------------------------------------------------------------------

VE_TEST = """`timescale 1 ps/1 ps
module stimulus_gen (input clk, output reg [3:0] x);
  initial x = 0;
  always @(posedge clk) x <= x + 1;
endmodule

module tb();
  reg clk = 0;
  initial forever #5 clk = ~clk;
  wire [3:0] x;
  wire y_ref, y_dut;
  integer errors = 0, clocks = 0;
  stimulus_gen stim1 (.clk, .x);
  RefModule good1 (.x, .y(y_ref));
  TopModule top_module1 (.x, .y(y_dut));
  always @(negedge clk) begin
    clocks++;
    if (y_ref !== y_dut) errors++;
    if (clocks == 80) begin
      $display("Mismatches: %1d in %1d samples", errors, clocks);
      $finish;
    end
  end
endmodule
"""


def _ve_task(root: Path, task_id: str, expr: str, helper: bool = False) -> None:
    body = "  helper h (.x(x), .y(y));\nendmodule\nmodule helper (input [3:0] x, output y);\n" if helper else ""
    (root / f"{task_id}_prompt.txt").write_text(f"Implement TopModule: y = {expr}.\n - input x (4 bits)\n - output y\n")
    (root / f"{task_id}_ref.sv").write_text(
        f"module RefModule (input [3:0] x, output y);\n{body}  assign y = {expr};\nendmodule\n"
    )
    (root / f"{task_id}_test.sv").write_text(VE_TEST)


def _verilog_eval_dir(tmp_path: Path, count: int = 6) -> Path:
    root = tmp_path / "verilog-eval" / "dataset_spec-to-rtl"
    root.mkdir(parents=True)
    for i in range(1, count + 1):
        _ve_task(root, f"Prob{i:03d}_bit{i % 4}", f"x[{i % 4}]", helper=i == 2)
    return root


def test_verilog_eval_checkout(tmp_path):
    root = _verilog_eval_dir(tmp_path)
    train, test = make_rows("train", {"verilog_eval_dir": str(root)}), make_rows("test", {"verilog_eval_dir": str(root)})
    assert [r["task_id"] for r in test] == ["Prob005_bit1"] and len(train) == 5
    row = train[1]
    assert row["task_id"] == "Prob002_bit2" and row["prompt"].startswith("Implement TopModule: y = x[2].")
    # the reference's helper module is renamed so that a candidate may define its own 'helper'
    assert "module RefModule_helper" in row["ref"] and "module helper" in row["solution"]
    assert simulate(tmp_path, row["test"], row["ref"], row["solution"]) == (0, 80)
    mismatches, _ = simulate(tmp_path, row["test"], row["ref"], row["solution"].replace("assign y = x[2]", "assign y = x[1]"))
    assert mismatches > 0


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda r: (r / "Prob003_bit3_test.sv").unlink(), r"task 'Prob003_bit3' has no Prob003_bit3_test\.sv"),
        (lambda r: (r / "Prob003_bit3_ref.sv").unlink(), r"task 'Prob003_bit3' has no Prob003_bit3_ref\.sv"),
        (lambda r: (r / "Prob003_bit3_prompt.txt").unlink(), r"Prob003_bit3_(ref|test)\.sv has no Prob003_bit3_prompt\.txt"),
        (lambda r: (r / "Prob003_bit3_prompt.txt").write_text("  \n"), r"Prob003_bit3_prompt\.txt is empty"),
        (
            lambda r: (r / "Prob003_bit3_ref.sv").write_text("module Ref (input x, output y);\nendmodule\n"),
            r"Prob003_bit3_ref\.sv: no 'module RefModule'",
        ),
        (
            lambda r: (r / "Prob003_bit3_test.sv").write_text(VE_TEST.replace("Mismatches:", "Errors:")),
            r"Prob003_bit3_test\.sv: the testbench never prints",
        ),
        (
            lambda r: (r / "Prob003_bit3_test.sv").write_text(VE_TEST.replace("module tb()", "module bench()")),
            r"Prob003_bit3_test\.sv: no testbench 'module tb'",
        ),
        (
            lambda r: (r / "Prob003_bit3_test.sv").write_text(VE_TEST.replace("TopModule", "DUT")),
            r"Prob003_bit3_test\.sv: the testbench must",
        ),
    ],
)
def test_verilog_eval_bad_checkouts_name_the_file(tmp_path, damage, match):
    root = _verilog_eval_dir(tmp_path)
    damage(root)
    with pytest.raises(ValueError, match=match):
        make_rows("train", {"verilog_eval_dir": str(root)})


def test_verilog_eval_missing_or_empty_directory(tmp_path):
    with pytest.raises(ValueError, match=r"params.verilog_eval_dir: directory .*nowhere.* not found"):
        make_rows("train", {"verilog_eval_dir": str(tmp_path / "nowhere")})
    with pytest.raises(ValueError, match=r"no \*_prompt.txt task files"):
        make_rows("train", {"verilog_eval_dir": str(tmp_path)})


# --------------------------------------------------------------------------------------
# an RTLLM checkout
# --------------------------------------------------------------------------------------

ADD4 = """`timescale 1ns/1ps
module verified_add4(
  input wire [3:0] a, b,
  output [4:0] s
);
  assign s = a + b;  // add4
endmodule
"""
CNT_W = """module cnt_w (clk, rst_n, en, q, wrap);
  parameter W = 4;
  localparam TOP = (1 << W) - 1;
  input clk, rst_n;
  input en;
  output reg [W-1:0] q;
  output wrap;
  assign wrap = q == TOP;
  always @(posedge clk or negedge rst_n)
    if (!rst_n) q <= 0;
    else if (en) q <= q + 1'b1;
endmodule
"""
REGBUF = """/* two modules */
module slot #(parameter WIDTH = 8) (input clk, input we, input [WIDTH-1:0] d, output reg [WIDTH-1:0] q);
  always @(posedge clk) if (we) q <= d;
endmodule

module verified_regbuf #(
  parameter WIDTH = 8,
  parameter DEPTH = 4
)(
  input clk,
  input we,
  input [$clog2(DEPTH)-1:0] addr,
  input [WIDTH-1:0] wdata,
  output [WIDTH-1:0] rdata
);
  wire [WIDTH-1:0] q [0:DEPTH-1];
  genvar i;
  generate for (i = 0; i < DEPTH; i = i + 1) begin : g
    slot #(.WIDTH(WIDTH)) slot (.clk(clk), .we(we && addr == i), .d(wdata), .q(q[i]));
  end endgenerate
  assign rdata = q[addr];
endmodule
"""
RTLLM = {
    "Arithmetic/Adder/add4": (
        "Please act as a professional Verilog designer.\n\nImplement a 4-bit adder.\n\nModule name:\n    add4\n"
        "Input ports:\n    a [3:0], b [3:0]\nOutput ports:\n    s [4:0]: a + b\n\nGive me the complete code.\n",
        "verified_add4.v",
        ADD4,
    ),
    "Control/Counter/cnt_w": (
        "Module name: cnt_w\nA counter with an active-low asynchronous reset rst_n and an enable en.\n",
        "verified_cnt_w.v",
        CNT_W,
    ),
    "Memory/Buffer/regbuf": (
        "Module name:\n  regbuf\nA register file of DEPTH entries of WIDTH bits; rdata shows entry addr.\n",
        "verified_regbuf.v",
        REGBUF,
    ),
}
MUTATIONS = {"add4": ("a + b", "a - b"), "cnt_w": ("q + 1'b1", "q + 2'd2"), "regbuf": ("q[addr]", "q[0]")}


def _rtllm_dir(tmp_path: Path) -> Path:
    root = tmp_path / "RTLLM"
    for rel, (description, verified, source) in RTLLM.items():
        design = root / rel
        design.mkdir(parents=True)
        (design / "design_description.txt").write_text(description)
        (design / verified).write_text(source)
        (design / "testbench.v").write_text('module testbench;\n  initial $display("Your Design Passed");\nendmodule\n')
        (design / "makefile").write_text(f"TEST_DESIGN = {design.name}\n")
    return root


def test_rtllm_checkout_rows(tmp_path):
    root = _rtllm_dir(tmp_path)
    rows = make_rows("train", {"rtllm_dir": str(root)})
    assert [r["task_id"] for r in rows] == ["add4", "cnt_w", "regbuf"] and make_rows("test", {"rtllm_dir": str(root)}) == []
    add4 = rows[0]
    assert "Module name:\n    TopModule" in add4["prompt"] and "add4" not in add4["prompt"]
    assert "module RefModule(" in add4["ref"] and "module TopModule(" in add4["solution"]
    assert "module RefModule_slot" in rows[2]["ref"] and "module slot" in rows[2]["solution"]
    for row in rows:
        assert 'Mismatches: %0d in %0d samples", mismatches, samples);\n    $finish;' in row["test"]
        # 1000 steps of 3 samples (clocked: before and after the rising edge, after the falling one)
        assert simulate(tmp_path, row["test"], row["ref"], row["solution"]) == (0, 3000)
        old, new = MUTATIONS[row["task_id"]]
        assert old in row["solution"]
        mismatches, samples = simulate(tmp_path, row["test"], row["ref"], row["solution"].replace(old, new))
        assert mismatches > 0 and samples == 3000, row["task_id"]


def test_rtllm_rows_score_through_the_rtl_reward(tmp_path):
    """The generated testbench keeps the reward's contract: the reference is functional, a mutant scores 'compiles'."""
    from rewards.rtl.reward import rtl_reward
    from rlpost.rewards import Sample

    row = make_rows("train", {"rtllm_dir": str(_rtllm_dir(tmp_path))})[1]
    ref = {k: row[k] for k in ("task_id", "ref", "test")}
    good = rtl_reward(Sample(row["prompt"], VERILOG.sft_target(row), ref), ppa=False)
    assert (good.score, good.components["samples"]) == (1.0, 3000.0), good
    mutant = row["solution"].replace("q + 1'b1", "q + 2'd2")
    bad = rtl_reward(Sample(row["prompt"], f"```verilog\n{mutant}\n```", ref), ppa=False)
    assert bad.score == 0.2 and bad.components["mismatches"] > 0, bad


def test_rtllm_generated_testbench_drives_clocks_and_resets(tmp_path):
    row = make_rows("train", {"rtllm_dir": str(_rtllm_dir(tmp_path))})[1]
    assert "localparam W = 4;" in row["test"] and "reg [W-1:0]" not in row["test"] and "wire [W-1:0] q_ref, q_top;" in row["test"]
    assert "rst_n = (i < 3 || pulse_rst_n > 0) ? 1'b0 : 1'b1;" in row["test"]
    assert "clk = 1;" in row["test"] and "repeat (($bits(en) + 31) / 32) en = {en, $random(seed)};" in row["test"]
    assert "if (hold_en == 0) begin" in row["test"] and "hold_clk" not in row["test"]
    # a candidate that ignores the (active-low) reset is caught
    ignores_reset = row["solution"].replace("if (!rst_n) q <= 0;\n    else ", "")
    assert simulate(tmp_path, row["test"], row["ref"], ignores_reset)[0] > 0


def test_generated_testbench_reset_and_clock_names():
    names = ["clk_in", "clk_b", "nreset", "first", "sys_rst", "wrstn", "d", "clk_en"]
    ports = [Port(n, "input", "[3:0]" if n == "d" else "") for n in names]
    tb = equivalence_testbench([*ports, Port("y", "output", "[7:0]", signed=True)], [], seed=1)
    assert (
        "clk_in = 1;" in tb and "clk_b = 1;" in tb and "repeat (($bits(first) + 31) / 32) first = {first, $random(seed)};" in tb
    )
    assert "nreset = (i < 3 || pulse_nreset > 0) ? 1'b0 : 1'b1;" in tb
    assert "sys_rst = (i < 3 || pulse_sys_rst > 0) ? 1'b1 : 1'b0;" in tb
    assert "wrstn = (i < 3 || pulse_wrstn > 0) ? 1'b0 : 1'b1;" in tb
    assert "if (hold_clk_en == 0) begin" in tb  # an enable, not a clock
    assert "reg [3:0] d;" in tb and "wire signed [7:0] y_ref, y_top;" in tb
    legacy = equivalence_testbench([*ports, Port("y", "output")], [], seed=1, stim=LEGACY)
    assert "nreset = (i < 3 || ($random(seed) & 63) == 0) ? 1'b0 : 1'b1;" in legacy and "hold_" not in legacy
    assert tb == equivalence_testbench([*ports, Port("y", "output", "[7:0]", signed=True)], [], seed=1)
    with pytest.raises(ValueError, match="phases 1 or 3"):
        Stimulus(phases=2)


def test_parse_ports_ansi_non_ansi_and_parameters():
    ports, params = parse_ports(REGBUF, "verified_regbuf", "f.v")
    assert [(p.name, p.dir, p.range) for p in ports] == [
        ("clk", "input", ""),
        ("we", "input", ""),
        ("addr", "input", "[$clog2(DEPTH)-1:0]"),
        ("wdata", "input", "[WIDTH-1:0]"),
        ("rdata", "output", "[WIDTH-1:0]"),
    ]
    assert params == [("WIDTH", "8"), ("DEPTH", "4")]
    ports, params = parse_ports(ADD4, "verified_add4", "f.v")
    assert [(p.name, p.range) for p in ports] == [("a", "[3:0]"), ("b", "[3:0]"), ("s", "[4:0]")] and params == []
    src = "module m (input [N:0] a, output y);\n  parameter M = 8'hff;\n  assign y = a[0];\nendmodule\n"
    with pytest.raises(ValueError, match=r"f.v: a port range of 'm' uses 'N', which is not a parameter"):
        parse_ports(src, "m", "f.v")


def _ports(source: str, module: str = "m") -> list[tuple[str, str, str, bool]]:
    return [(p.name, p.dir, p.range, p.signed) for p in parse_ports(source, module, "f.v")[0]]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # no space between the kind, the range and the name (RTLLM's traffic_light)
        ("module m(input clk, output wire[7:0]clock);", [("clk", "input", "", False), ("clock", "output", "[7:0]", False)]),
        (
            "module m(input [3:0]a,b, output y);",
            [("a", "input", "[3:0]", False), ("b", "input", "[3:0]", False), ("y", "output", "", False)],
        ),
        (
            "module m(input signed [7:0] x, output reg signed[7:0]y);",
            [("x", "input", "[7:0]", True), ("y", "output", "[7:0]", True)],
        ),
        (
            "module m #(parameter WIDTH=4)(input clk, output reg [WIDTH-1:0] q = 0);",
            [("clk", "input", "", False), ("q", "output", "[WIDTH-1:0]", False)],
        ),
        (
            "module m ( // the clock\n (* keep = 1 *) input wire clk /* rising */,"
            " (* mark *) output logic [1:0][3:0] y, output integer n);",
            [("clk", "input", "", False), ("y", "output", "[1:0][3:0]", False), ("n", "output", "[31:0]", True)],
        ),
        # non-ANSI: a range given on the reg declaration, a function's inputs are not ports
        (
            "module m(a, q);\n input a;\n output q;\n reg [2:0] q;\n function [2:0] f;\n  input [2:0] z;\n  f = z;\n"
            " endfunction\n always @(*) q = f({3{a}});\nendmodule",
            [("a", "input", "", False), ("q", "output", "[2:0]", False)],
        ),
    ],
)
def test_parse_ports_spacing_attributes_and_kinds(source, expected):
    assert _ports(source) == expected


def test_tokenizer_keeps_literals_and_drops_comments():
    assert tokenize("a/*x*/+8 'hFF//c\n(* k *)- -1 >>> \\esc ") == ["a", "+", "8 'hFF", "-", "-", "1", ">", ">", ">", "\\esc"]
    assert join_tokens(tokenize("W - - 1 : 0")) == "W- -1:0" and join_tokens(tokenize("$clog2 ( D ) - 1")) == "$clog2(D)-1"
    assert tokenize("always @(*) y = a; (* full *)") == ["always", "@", "(", "*", ")", "y", "=", "a", ";"]


def _ref_and_tb(source: str, stim: Stimulus = Stimulus()) -> tuple[str, str]:
    """The reference (module m renamed RefModule) and its generated testbench."""
    ports, params = parse_ports(source, "m", "f.v")
    return source.replace("module m", "module RefModule"), equivalence_testbench(ports, params, seed=7, stim=stim)


TRISTATE = (
    "module m(input [1:0] op, input [3:0] a, output [3:0] y, output flag);\n"
    "  assign y = op == 2'd3 ? 4'bx : a;\n  assign flag = op == 2'd0 ? a[0] : 1'bz;\nendmodule\n"
)


def test_z_in_the_reference_is_compared_exactly_and_x_matches_anything(tmp_path):
    ref, tb = _ref_and_tb(TRISTATE)
    assert "hold_" not in tb  # no clock: new values every step
    top = TRISTATE.replace("module m", "module TopModule")
    assert simulate(tmp_path, tb, ref, top) == (0, 3000)
    # x in the reference: the candidate may drive anything there
    assert simulate(tmp_path, tb, ref, top.replace("4'bx : a", "4'b0101 : a"))[0] == 0
    # z in the reference: driving 0 instead of releasing the output is a mismatch, so is an x where the reference is 0/1
    assert simulate(tmp_path, tb, ref, top.replace("1'bz", "1'b0"))[0] > 0
    assert simulate(tmp_path, tb, ref, top.replace("? a[0] :", "? 1'bx :"))[0] > 0


HELD = """module m(input clk, input rst, input [3:0] d, output reg seen);
  reg [3:0] last; reg [2:0] run;
  always @(posedge clk)
    if (rst) begin run <= 0; seen <= 0; last <= 0; end
    else begin
      last <= d;
      run <= d == last ? (run == 3'd7 ? run : run + 1'b1) : 3'd0;
      seen <= run >= 3'd5;
    end
endmodule
"""
NEGEDGE = """module m(input clk, input rst_n, input [3:0] d, output reg [3:0] q, output reg div2);
  always @(negedge clk or negedge rst_n)
    if (!rst_n) begin q <= 0; div2 <= 0; end
    else begin q <= d; div2 <= ~div2; end
endmodule
"""


@pytest.mark.parametrize(
    ("source", "old", "new"),
    [
        # an input that must stay the same for 6 cycles: per-cycle random values never do
        (HELD, "run >= 3'd5", "run >= 3'd6"),
        # falling-edge logic and a divided clock: a rising-edge copy looks the same when sampled once per cycle
        (NEGEDGE, "negedge clk or", "posedge clk or"),
    ],
    ids=["held-inputs", "falling-edge"],
)
def test_held_inputs_and_sampling_phases_catch_what_the_legacy_testbench_misses(tmp_path, source, old, new):
    mutant = source.replace(old, new).replace("module m", "module TopModule")
    assert mutant != source.replace("module m", "module TopModule")
    ref, legacy = _ref_and_tb(source, LEGACY)
    assert simulate(tmp_path, legacy, ref, mutant) == (0, 200)
    ref, tb = _ref_and_tb(source)
    assert simulate(tmp_path, tb, ref, source.replace("module m", "module TopModule")) == (0, 3000)
    assert simulate(tmp_path, tb, ref, mutant)[0] > 0


@pytest.mark.parametrize(
    ("rel", "change", "match"),
    [
        (
            "Arithmetic/Adder/add4",
            lambda d: (d / "verified_add4.v").unlink(),
            r"add4'?: expected one reference verified_\*\.v, found none",
        ),
        (
            "Arithmetic/Adder/add4",
            lambda d: (d / "verified_other.v").write_text("module x; endmodule\n"),
            r"found \['verified_add4.v', 'verified_other.v'\]",
        ),
        (
            "Arithmetic/Adder/add4",
            lambda d: (d / "verified_add4.v").write_text(
                "module a1(input a, output b); endmodule\nmodule a2(input a, output b); endmodule\n"
            ),
            r"verified_add4.v: no module 'add4' or 'verified_add4'",
        ),
        (
            "Arithmetic/Adder/add4",
            lambda d: (d / "verified_add4.v").write_text("module add4(inout [3:0] a, output s);\nendmodule\n"),
            r"verified_add4.v: inout port 'a' is not supported",
        ),
        (
            "Arithmetic/Adder/add4",
            lambda d: (d / "verified_add4.v").write_text("module add4(input [3:0] a [0:1], output s);\nendmodule\n"),
            r"verified_add4.v: cannot read the port declaration of 'a' \(unpacked arrays are not supported\)",
        ),
        (
            "Arithmetic/Adder/add4",
            lambda d: (d / "verified_add4.v").write_text("module add4(output s, bus_if.mp bus);\nendmodule\n"),
            r"cannot read the port declaration of 'bus_if' \(interface ports",
        ),
        (
            "Arithmetic/Adder/add4",
            lambda d: (d / "verified_add4.v").write_text("module add4(input [`W-1:0] a, output s);\nendmodule\n"),
            r"the port declaration 'input\[`W-1:0\]a' uses a macro in its range",
        ),
        (
            "Arithmetic/Adder/add4",
            lambda d: (d / "verified_add4.v").write_text("module add4(a, s);\n  input [3:0] a;\nendmodule\n"),
            r"verified_add4.v: port 's' of 'add4' has no input/output declaration",
        ),
        (
            "Arithmetic/Adder/add4",
            lambda d: (d / "verified_add4.v").write_text("module add4;\nendmodule\n"),
            r"module 'add4' has no ports",
        ),
        (
            "Arithmetic/Adder/add4",
            lambda d: (d / "verified_add4.v").write_text("module add4(input a);\nendmodule\n"),
            r"verified_add4.v: module 'add4' has no outputs to compare",
        ),
    ],
)
def test_rtllm_unreadable_designs_are_skipped_with_a_logged_reason(tmp_path, caplog, rel, change, match):
    root = _rtllm_dir(tmp_path)
    change(root / rel)
    with caplog.at_level(logging.WARNING, logger="envs.verilog"):
        rows = make_rows("train", {"rtllm_dir": str(root)})
    assert [r["task_id"] for r in rows] == ["cnt_w", "regbuf"]
    [message] = [r.getMessage() for r in caplog.records if r.name == "envs.verilog"]
    assert message.startswith(f"verilog: RTLLM design {root / rel} skipped: ") and re.search(match, message), message


def test_rtllm_checkout_with_no_readable_design(tmp_path):
    root = _rtllm_dir(tmp_path)
    for verified in root.rglob("verified_*.v"):
        verified.write_text("module nothing;\nendmodule\n")
    with pytest.raises(ValueError, match=r"params.rtllm_dir: none of the 3 designs below .* could be read"):
        make_rows("train", {"rtllm_dir": str(root)})


def test_rtllm_missing_empty_or_duplicate(tmp_path):
    with pytest.raises(ValueError, match=r"params.rtllm_dir: directory .* not found"):
        make_rows("train", {"rtllm_dir": str(tmp_path / "nowhere")})
    with pytest.raises(ValueError, match=r"no design_description.txt below"):
        make_rows("train", {"rtllm_dir": str(tmp_path)})
    root = _rtllm_dir(tmp_path)
    shutil.copytree(root / "Arithmetic/Adder/add4", root / "Other/add4")
    with pytest.raises(ValueError, match=r"two designs named 'add4'"):
        make_rows("train", {"rtllm_dir": str(root)})


# --------------------------------------------------------------------------------------
# rows from a file, bad params
# --------------------------------------------------------------------------------------


def test_jsonl_rows_and_bad_rows(tmp_path):
    good = {k: BY_ID["Prob001_mux4"][k] for k in ("task_id", "ref", "test")} | {"prompt": "Make a 4-to-1 mux TopModule."}
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps(good) + "\n")
    [row] = make_rows("train", {"data_files": str(path)})
    assert row["prompt"].startswith("Make a 4-to-1 mux TopModule.\n") and row["solution"].startswith("module TopModule")
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "test": ""}) + "\n")
    with pytest.raises(ValueError, match=r"tasks.jsonl row 2: 'test' must be a non-empty string"):
        make_rows("train", {"data_files": str(path)})
    path.write_text(json.dumps({**good, "ref": "module Other; endmodule"}) + "\n")
    with pytest.raises(ValueError, match=r"tasks.jsonl row 1 'ref': no 'module RefModule'"):
        make_rows("train", {"data_files": str(path)})


def test_bad_params(tmp_path):
    with pytest.raises(ValueError, match=r"verilog: unknown params key\(s\) \['bogus'\]"):
        make_rows("train", {"bogus": 1})
    with pytest.raises(ValueError, match=r"must be a string containing '\{spec\}'"):
        make_rows("train", {"template": "no placeholder"})
    with pytest.raises(ValueError, match=r"give one source, not params.verilog_eval_dir and params.rtllm_dir"):
        make_rows("train", {"verilog_eval_dir": str(tmp_path), "rtllm_dir": str(tmp_path)})
    with pytest.raises(ValueError, match="verilog: unknown split 'validation'"):
        make_rows("validation", {})
    assert BUNDLED.is_dir()
