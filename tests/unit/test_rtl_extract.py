"""Finding the Verilog in a response (rewards.rtl.extract)."""

from __future__ import annotations

import pytest

from rewards.rtl.extract import extract_verilog, module_names, normalise

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


def test_byte_order_marks_and_cr_line_ends_are_normalised_away():
    assert normalise("\ufeffmodule a;\r\nendmodule\r") == "module a;\nendmodule\n"
    assert extract_verilog(f"\ufeff```verilog\r\n{TOP.replace(chr(10), chr(13) + chr(10))}```") == TOP
