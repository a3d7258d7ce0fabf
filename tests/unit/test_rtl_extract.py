"""The rtl reward's pure parts: finding the Verilog in a response and the static screen."""

from __future__ import annotations

import pytest

from rewards.rtl.extract import extract_verilog, module_names
from rewards.rtl.screen import screen

TOP = "module TopModule(input a, output y);\n  assign y = a;\nendmodule\n"
HELPER = "module inv(input a, output y);\n  assign y = ~a;\nendmodule\n"


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (f"```verilog\n{TOP}```", TOP),
        (f"```systemverilog\n{TOP}```", TOP),
        (f"```sv\n{TOP}```\nthat is all", TOP),
        (f"Use this:\n```\n{TOP}```", TOP),
        (f"```verilog\n{TOP}", TOP),  # cut off by the token budget before the closing fence
        # the last block that declares TopModule, not a later helper-only block
        (f"```verilog\nmodule TopModule(); // draft\nendmodule\n```\n```verilog\n{TOP}```\n```verilog\n{HELPER}```", TOP),
        (f"```verilog\n{HELPER}```\n```verilog\n{HELPER}// second\n```", f"{HELPER}// second\n"),
        (f"```python\nprint(1)\n```\n```\n{TOP}```", TOP),
        ("```python\nprint(1)\n```", ""),
        (f"Sure. {HELPER}\nand the top:\n{TOP}\nDone.", f"{HELPER.strip()}\n\n{TOP.strip()}"),
        ("no code at all", ""),
    ],
)
def test_extracts_the_design(response, expected):
    assert extract_verilog(response) == expected


def test_module_names_in_order():
    assert module_names(f"{HELPER}\n{TOP}\nmodule \\odd$name (); endmodule") == ["inv", "TopModule", "\\odd$name"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('initial $system("rm -rf /");', "calls $system"),
        ('integer f; initial f = $fopen("x", "w");', "uses file I/O ('$fopen')"),
        ('initial $fwrite(1, "x");', "uses file I/O ('$fwrite')"),
        ('initial $fdisplay(1, "x");', "uses file I/O"),
        ('reg [7:0] m [0:3]; initial $readmemh("/etc/passwd", m);', "uses file I/O ('$readmemh')"),
        ('initial $writememb("out", m);', "uses file I/O"),
        ('initial $dumpfile("w.vcd");', "uses file I/O"),
        ('integer v; initial if ($value$plusargs("x=%d", v)) ;', "reads plusargs"),
        ('import "DPI-C" function int getpid();', "imports or exports DPI functions"),
        ("initial #5 $finish;", "ends the simulation itself"),
        ("initial $stop;", "ends the simulation itself"),
        ('initial $display("Mismatches: 0 in 10 samples");', "prints the testbench's verdict line"),
        ('initial $display("mismatches : 0");', "prints the testbench's verdict line"),
        ('`include "tb.sv"', "includes a file"),
        ("`define F(x) $``x", "pastes tokens in a macro"),
    ],
)
def test_screen_rejects_what_a_design_never_needs(body, reason):
    source = TOP.replace("endmodule", f"  {body}\nendmodule")
    assert screen(source, 10_000).startswith(reason)


@pytest.mark.parametrize(
    "body",
    ['initial $display("hello %d", a);', "real r; initial r = $floor(2.5);", "wire f = $signed(a);", "// a comment"],
)
def test_screen_allows_ordinary_designs(body):
    assert screen(TOP.replace("endmodule", f"  {body}\nendmodule"), 10_000) == ""


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("", "no Verilog in the response"),
        ("  \n", "no Verilog in the response"),
        (TOP + "// " + "x" * 200, "design longer than 100 characters"),
        (HELPER, "no module named TopModule (declares inv)"),
        ("module tb; endmodule\n" + TOP, "declares module tb, which the testbench owns"),
        ("module RefModule(); endmodule\n" + TOP, "declares module RefModule"),
    ],
)
def test_screen_needs_one_top_module_of_its_own(source, reason):
    assert screen(source, 100 if "x" * 200 in source else 10_000).startswith(reason)
