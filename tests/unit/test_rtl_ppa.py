"""The rtl reward's PPA parsers on captured yosys / OpenSTA output, its ratios and bonus, and its params."""

from __future__ import annotations

from pathlib import Path

import pytest

from rewards.rtl.params import parse_params
from rewards.rtl.ppa import ParseError, Ppa, bonus, parse_sta, parse_stat, ratios, sta_script, synth_script, vanished

OUTPUTS = Path(__file__).parent / "rtl_tool_outputs"  # captured from yosys 0.23 and OpenSTA 2.0.17 with osu018


def _text(name: str) -> str:
    return (OUTPUTS / name).read_text()


def test_parse_stat():
    assert parse_stat(_text("stat_adder8.txt")) == (1421.0, 40)
    assert parse_stat(_text("stat_counter.txt")) == (665.0, 15)
    assert parse_stat(_text("stat_no_cells.txt")) == (0.0, 0)
    with pytest.raises(ParseError, match="Number of cells"):
        parse_stat("")
    with pytest.raises(ParseError, match="Chip area"):
        parse_stat("   Number of cells:                 3\n")


def test_parse_sta():
    # combinational: the input-to-output path; 10 ns clock, slack 8.9833 (MET)
    assert parse_sta(_text("sta_adder8_10ns.txt"), 10.0) == (pytest.approx(1.0167), 7.309287e-05)
    # sequential at 0.5 ns: slack -0.1805 (VIOLATED) -> 0.6805 ns, setup time included
    assert parse_sta(_text("sta_counter_0.5ns.txt"), 0.5) == (pytest.approx(0.6805), 2.248484e-03)
    assert parse_sta(_text("sta_no_paths.txt"), 10.0) == (0.0, 0.0)
    with pytest.raises(ParseError, match="Error: Nope is not a verilog module"):
        parse_sta(_text("sta_error.txt"), 10.0)
    with pytest.raises(ParseError, match="power report"):
        parse_sta("No paths found.\n", 10.0)


def test_scripts_name_the_top_liberty_and_clock():
    synth = synth_script("RefModule", "/lib/x.lib")
    assert "hierarchy -check -top RefModule" in synth and "abc -liberty /lib/x.lib" in synth and "stat.txt" in synth
    sta = sta_script("TopModule", "/lib/x.lib", 2.5, "clock")
    assert "link_design TopModule" in sta and "-period 2.5 [get_ports clock]" in sta and "get_ports -quiet clock" in sta


REF = Ppa(area=1000.0, cells=40, delay=2.0, power=1e-4)


def test_ratios_are_reference_over_candidate():
    lean = Ppa(area=500.0, cells=20, delay=1.0, power=5e-5)
    assert ratios(REF, lean, ("area", "delay", "power")) == {"area": 2.0, "delay": 2.0, "power": pytest.approx(2.0)}
    assert ratios(Ppa(0.0, 0, 0.0, 0.0), Ppa(0.0, 0, 0.0, 0.0), ("area", "cells")) == {"area": 1.0, "cells": 1.0}
    assert ratios(Ppa(0.0, 0, 0.0, 0.0), lean, ("area",)) == {"area": 0.0}


def test_vanished_metrics():
    assert vanished(REF, Ppa(0.0, 0, 0.0, 0.0), ("cells", "area", "delay")) == ["cells", "area", "delay"]
    assert vanished(Ppa(0.0, 0, 0.0, 0.0), Ppa(0.0, 0, 0.0, 0.0), ("cells", "area")) == []
    assert vanished(REF, REF, ("cells", "area", "delay", "power")) == []


@pytest.mark.parametrize(
    ("metric_ratios", "params", "expected"),
    [
        ({"area": 1.0, "delay": 1.0, "power": 1.0}, {}, 0.01),  # equal to the reference: the floor
        ({"area": 2.0, "delay": 1.0, "power": 1.0}, {}, 2 ** (1 / 3) - 1),
        ({"area": 8.0, "delay": 8.0, "power": 8.0}, {}, 0.6),  # clamped
        ({"area": 0.5, "delay": 0.5, "power": 0.5}, {}, 0.01),
        ({"area": 0.5, "delay": 0.5, "power": 0.5}, {"ppa_min": -1.0}, -0.5),
        ({"area": 1.2, "delay": 1.2}, {"ppa_form": "product", "ppa_max": 1.0}, 0.44),
        ({"area": 2.0}, {"ppa_weight": 0.5, "ppa_max": 2.0}, 0.5),
    ],
)
def test_bonus(metric_ratios, params, expected):
    assert bonus(metric_ratios, parse_params(params)) == pytest.approx(expected)


def test_param_defaults_follow_the_chipseek_reimplementation():
    p = parse_params({})
    assert (p.fail, p.compiles, p.functional, p.synthesizes) == (0.0, 0.2, 1.0, 0.0)
    assert (p.ppa_form, p.ppa_metrics, p.ppa_min, p.ppa_max) == ("geomean", ("area", "delay", "power"), 0.01, 0.6)
    assert p.clock_period_ns == 10.0 and p.limits.memory_mb == 2048


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"compile": 0.3}, r"rtl: param compile: Extra inputs are not permitted"),
        ({"ppa_form": "sum"}, r"rtl: params: ppa_form 'sum' is not one of \['geomean', 'product'\]"),
        ({"ppa_min": 0.7}, r"rtl: params: ppa_min \(0.7\) is above ppa_max \(0.6\)"),
        ({"ppa_metrics": ["area", "speed"]}, r"rtl: param ppa_metrics.1: Input should be 'area', 'cells', 'delay' or 'power'"),
        ({"ppa_metrics": []}, r"rtl: param ppa_metrics: "),
        ({"timeout_s": 0}, r"rtl: param timeout_s: Input should be greater than 0"),
        ({"limits": {"memory_mb": -1}}, r"rtl: param limits.memory_mb: Input should be greater than 0"),
        ({"limits": {"wall_s": 1}}, r"rtl: param limits.wall_s: Extra inputs"),
        ({"clock_port": "clk; exit"}, r"rtl: param clock_port: String should match pattern"),
        ({"functional": "high"}, r"rtl: param functional: Input should be a valid number"),
    ],
)
def test_bad_params_name_the_param(params, match):
    with pytest.raises(ValueError, match=match):
        parse_params(params)
