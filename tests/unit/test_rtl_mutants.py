"""The one-edit mutant generator of the RTL benchmarks (benchmarks/rtl_mutants.py)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from benchmarks.rtl_mutants import blank_comments, mutants

REFERENCES = sorted((Path(__file__).parents[2] / "envs" / "data" / "verilog").glob("*_ref.sv"))
HEADER = re.compile(r"\bmodule\b.*?\)\s*;", re.S)


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


@pytest.mark.parametrize("path", REFERENCES, ids=lambda p: p.name)
def test_one_edit_outside_the_header(path):
    source = blank_comments(path.read_text())
    drawn = mutants(path.read_text(), 12, seed=0)
    assert drawn and len({m for _, m in drawn}) == len(drawn)
    headers = [h.span() for h in HEADER.finditer(source)]
    for kind, mutant in drawn:
        assert mutant != source, kind
        start, end = changed_span(source, mutant)
        assert "\n" not in source[start:end], (kind, source[start:end])
        assert not any(h_start < end and start < h_end for h_start, h_end in headers), (kind, source[start:end])
