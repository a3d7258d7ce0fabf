"""The one-edit mutant generator of the RTL benchmarks (benchmarks/rtl_mutants.py)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from benchmarks.rtl_mutants import blank_comments, mutants

REFERENCES = sorted((Path(__file__).parents[2] / "envs" / "data" / "verilog").glob("*_ref.sv"))
HEADER = re.compile(r"\bmodule\b.*?\)\s*;", re.S)
# a non-ANSI header (a port list of plain names) and declarations listing several names
NON_ANSI = """module TopModule (p, rdy, clk, reset, a, b);
  input clk, reset;
  input [7:0] a, b;
  output [15:0] p;
  output rdy;
  wire [15:0] x, y, u, v;
  assign x = {a, b};
  assign y = a - b;
  assign p = rdy ? x : y;
  assign rdy = a[0] & ~b[3];
endmodule
"""


def changed_span(source: str, mutant: str) -> tuple[int, int]:
    """[start, end) of the part of `source` the mutant replaced (common prefix and suffix stripped)."""
    prefix = len(os.path.commonprefix([source, mutant]))
    suffix = len(os.path.commonprefix([source[prefix:][::-1], mutant[prefix:][::-1]]))
    return prefix, len(source) - suffix


def test_references_found():
    assert len(REFERENCES) >= 10


@pytest.mark.parametrize("path", REFERENCES, ids=lambda p: p.name)
def test_same_seed_same_mutants(path):
    source = path.read_text()
    assert mutants(source, 6, seed=7) == mutants(source, 6, seed=7)


def test_seed_changes_the_draw():
    drawn = {tuple(m for _, m in mutants(p.read_text(), 3, seed=s)) for p in REFERENCES for s in (1, 2)}
    assert len(drawn) > len(REFERENCES)


@pytest.mark.parametrize("text", [p.read_text() for p in REFERENCES] + [NON_ANSI])
def test_one_edit_outside_the_header(text):
    source = blank_comments(text)
    drawn = mutants(text, 12, seed=0)
    assert drawn and len({m for _, m in drawn}) == len(drawn)
    headers = [h.span() for h in HEADER.finditer(source)]
    for kind, mutant in drawn:
        assert mutant != source, kind
        start, end = changed_span(source, mutant)
        assert "\n" not in source[start:end], (kind, source[start:end])
        assert not any(h_start < end and start < h_end for h_start, h_end in headers), (kind, source[start:end])


def test_no_edit_of_a_declaration():
    for seed in range(5):
        for kind, mutant in mutants(NON_ANSI, 40, seed):
            declarations = [line for line in mutant.splitlines() if line.lstrip().startswith(("input", "output", "wire"))]
            assert declarations == [line for line in NON_ANSI.splitlines() if line in declarations], kind
            assert len(declarations) == 5, kind
