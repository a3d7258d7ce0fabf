"""The tools the rtl reward's enabled stages need (rewards.rtl.tools.needed_tools)."""

from __future__ import annotations

import pytest

from rewards.rtl.params import parse_params
from rewards.rtl.tools import needed_tools


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"ppa": False}, ("iverilog", "vvp")),
        ({"ppa": False, "function": "formal"}, ("iverilog", "vvp", "yosys")),
        ({"ppa": False, "function": "both"}, ("iverilog", "vvp", "yosys")),
        ({"ppa": True}, ("iverilog", "vvp", "yosys", "yosys-abc", "sta")),
        ({"ppa": True, "function": "both"}, ("iverilog", "vvp", "yosys", "yosys-abc", "sta")),
        ({"ppa": False, "verilator_lint": True}, ("iverilog", "vvp", "verilator")),
    ],
)
def test_needed_tools(params, expected):
    assert needed_tools(parse_params(params)) == expected
