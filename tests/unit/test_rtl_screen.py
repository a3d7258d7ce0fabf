"""The rtl reward's static screen (rewards.rtl.screen) and its lexer: a whitelist over the token stream."""

from __future__ import annotations

import pytest

from rewards.rtl.lexer import tokens
from rewards.rtl.screen import reserved_names, screen
from tests.conftest import ROOT

TOP = "module TopModule(input [3:0] a, output [3:0] y);\n  assign y = a;\nendmodule\n"
TB = """`define OK 12
module stimulus_gen(input clk, output reg [3:0] a);
  task wavedrom_start(input [511:0] title = ""); endtask
endmodule
module tb();
  stimulus_gen stim1 (.clk, .*);
  RefModule good1 (.a(a), .y(y_ref));
  TopModule #(.W(4)) top_module1 (.a(a), .y(y_dut));
  function automatic int count_it(input x); count_it = x; endfunction
endmodule
"""
REF = "module RefModule(input [3:0] a, output [3:0] y);\n  assign y = a;\nendmodule\nmodule helper(input x); endmodule\n"
RESERVED = reserved_names(REF, TB)


def _in_top(body: str) -> str:
    return TOP.replace("endmodule", f"  {body}\nendmodule")


def test_lexer_tells_comments_strings_escaped_names_system_names_directives_and_numbers_apart():
    kinds = [(t.kind, t.name, t.line) for t in tokens('// c $x\n\\tb  `foo $bits "a$b" 4\'hF 1.5e3 /* x\n*/ a.b ::')]
    assert kinds == [
        ("comment", "// c $x", 1), ("escaped", "tb", 2), ("directive", "`foo", 2), ("sysid", "$bits", 2),
        ("string", '"a$b"', 2), ("number", "4'hF", 2), ("number", "1.5e3", 2), ("comment", "/* x\n*/", 2),
        ("ident", "a", 3), ("op", ".", 3), ("ident", "b", 3), ("op", "::", 3),
    ]  # fmt: skip


def test_reserved_names_are_the_tasks_modules_instances_subroutines_and_macros_not_the_shared_ports():
    assert RESERVED == {
        "tb", "RefModule", "stimulus_gen", "helper", "stim1", "good1", "top_module1", "wavedrom_start", "count_it", "OK",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (_in_top('initial $ivlh_file_open(f, "sim.vvp");'), "line 3: system task $ivlh_file_open is not allowed (allowed: $bits"),
        (_in_top("initial $finish;"), "line 3: system task $finish is not allowed"),
        (_in_top("initial $finish_and_return(0);"), "line 3: system task $finish_and_return is not allowed"),
        (_in_top('initial $display("hello");'), "line 3: system task $display is not allowed"),
        (_in_top("wire [3:0] r = $random;"), "line 3: system task $random is not allowed"),
        (_in_top("wire x = $root.tb.y;"), "line 3: system task $root is not allowed"),
        (_in_top("wire x = $unit::y;"), "line 3: system task $unit is not allowed"),
        (_in_top("wire x = p::y;"), "line 3: '::' is not allowed"),
        (_in_top("wire [3:0] x = good1.y;"), "line 3: hierarchical reference good1.y is not allowed"),
        (_in_top("wire [3:0] x = u.v;"), "line 3: hierarchical reference u.v is not allowed"),
        (_in_top("wire [3:0] x = m[0].v;"), "line 3: hierarchical reference ].v is not allowed"),
        (_in_top("wire [3:0] good1;"), "line 3: name good1 belongs to the testbench or the reference"),
        (_in_top("wire [3:0] \\good1 ;"), "line 3: name good1 (written \\good1) belongs to the testbench"),
        (_in_top("initial wavedrom_start();"), "line 3: name wavedrom_start belongs to the testbench"),
        (_in_top("assign #1 y = a;"), "line 3: delay '#' is not allowed"),
        (_in_top("always @(a) #(2) r = a;"), "line 3: delay '#' is not allowed"),
        (_in_top("initial fork join"), "line 3: 'fork' is not synthesisable RTL"),
        (_in_top("initial wait (a);"), "line 3: 'wait' is not synthesisable RTL"),
        (_in_top("initial force y = 0;"), "line 3: 'force' is not synthesisable RTL"),
        (_in_top("defparam x.P = 1;"), "line 3: hierarchical reference x.P"),
        (_in_top("event e;"), "line 3: 'event' is not synthesisable RTL"),
        (_in_top("initial -> e;"), "line 3: '->' is not allowed"),
        ('`include "tb.sv"\n' + TOP, "line 1: `include is neither an allowed directive (default_nettype, define"),
        ("`resetall\n" + TOP, "line 1: `resetall is neither"),
        ("`undefineall\n" + TOP, "line 1: `undefineall is neither"),
        ('`line 1 "tb.sv" 0\n' + TOP, "line 1: `line is neither"),
        ("`pragma protect\n" + TOP, "line 1: `pragma is neither"),
        ("`celldefine\n" + TOP, "line 1: `celldefine is neither"),
        ('`begin_keywords "1364-1995"\n' + TOP, "line 1: `begin_keywords is neither"),
        (_in_top("wire [31:0] l = `__LINE__;"), "line 3: `__LINE__ is neither"),
        (_in_top("wire [3:0] x = `OK;"), "line 3: `OK is neither an allowed directive"),
        ("`ifdef OK\n" + TOP + "`endif\n", "line 1: `ifdef OK: the design did not define `OK before"),
        ("`undef OK\n" + TOP, "line 1: `undef OK: the design did not define `OK before"),
        ("`define OK 0\n" + TOP, "line 1: name OK belongs to the testbench or the reference"),
        ("`define F(x) x\n" + TOP, "line 1: macro `F takes arguments"),
        ('`define S(x) `"x`"\n' + TOP, "line 1: macro `S takes arguments"),
        ("`define P a``b\n" + TOP, "line 1: token pasting or stringification"),
        ("`define B b /* x */\n" + TOP, "line 1: a block comment inside the definition of `B"),
        ("`define B b\n" + _in_top("wire x = t`B ;"), "line 4: macro `B is glued to a neighbouring word"),
        ("`define B u\n" + _in_top("wire x = `B .v;"), "line 4: hierarchical reference `B.v is not allowed"),
        ("`define B b\n" + _in_top('wire x = `B"a";'), "line 4: macro `B is glued"),
        ("function int f(input x); f = x; endfunction\n" + TOP, "line 1: 'function' outside a module"),
        (TOP + "localparam P = 1;\n", "line 4: 'localparam' outside a module"),
        ("`define M module\n`M Top2; endmodule\n" + TOP, "line 2: '`M' outside a module"),
        (_in_top('wire [7:0] s = "unterminated;'), "line 3: unterminated string or block comment"),
        ("module tb; endmodule\n" + TOP, "declares module tb, which the testbench or the reference owns"),
        ("module \\RefModule (); endmodule\n" + TOP, "declares module RefModule"),
        ("module helper(input x); endmodule\n" + TOP, "declares module helper"),
        (TOP.replace("TopModule", "Top"), "no module named TopModule (declares Top)"),
        ("", "no Verilog in the response"),
        ("  \n", "no Verilog in the response"),
    ],
)
def test_screen_rejects_what_is_not_synthesisable_rtl_of_its_own_naming_the_construct_and_line(source, reason):
    assert screen(source, 10_000, RESERVED).startswith(reason), screen(source, 10_000, RESERVED)


def test_an_overlong_design_is_rejected_unread():
    assert screen(TOP + "// " + "x" * 200, 100, RESERVED) == "design longer than 100 characters"


@pytest.mark.parametrize(
    "body",
    [
        "wire [3:0] s = $signed(a) + $unsigned(a) + $clog2(16) + $bits(a) + $size(a);",
        "wire c = $countones(a) == 1 && $onehot(a) || $onehot0(a);",
        "reg [3:0] q; initial q = 4'd0; always @(posedge a[0]) q <= q + 1'b1;",
        "// a comment naming tb, $display and `include is no construct",
        'localparam [63:0] NAME = "tb.sv $finish";',
        "wire [3:0] in, out, clk;",  # the testbench's signal names are the candidate's own
        "Sub #(.W(4)) u0 (.x(a[0]), .*);",
        "always_comb begin : blk y2 = a; end",
        "wire r = 1.5e3 > 2'b01;",
    ],
)
def test_screen_allows_ordinary_rtl(body):
    source = "`timescale 1ns / 1ps\n`default_nettype none\n`define W 4\n`ifdef W\n`else\n`endif\n"
    source += _in_top(body) + "module Sub #(parameter W = 1) (input x, input [3:0] a); endmodule\n"
    assert screen(source, 10_000, RESERVED) == ""


def test_every_bundled_reference_renamed_to_top_module_passes():
    from rewards.rtl.harness import Task

    refs = sorted((ROOT / "envs" / "data" / "verilog").glob("*_ref.sv"))
    assert len(refs) == 15
    for path in refs:
        task = Task.from_reference({"ref": path.read_text(), "test": path.with_name(path.name[:-6] + "test.sv").read_text()})
        assert screen(task.ref_as_top(), 100_000, task.reserved) == "", path.name
