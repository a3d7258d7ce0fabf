"""A generated equivalence testbench: module `tb` drives RefModule and TopModule alike and counts mismatching samples.

It keeps the spec-to-rtl contract (`rewards.rtl.harness.Task.from_reference`): `module tb`,
RefModule and TopModule instantiated with identical connections, and one final
`$display("Mismatches: %0d in %0d samples", mismatches, samples); $finish;`.

Inputs by name (1-bit only): clocks (`clk`, `wclk`, `clk_in`, `clk_a`, `sys_clock`, all in
phase, period 10 time units, rising at 3, falling at 8) and resets (`rst`, `reset`, `rst_n`,
`wrstn`, `nreset`; active low with an `n`, `_b` or `_l` suffix or an `n` prefix); every other
input is data. All inputs change at time 0 of a cycle, away from the clock edges. With
`Stimulus.hold` (the default) and a clock, each data input keeps its value for a random run of
cycles (1 with probability 1/2, else 1, 2, 4, 8, 16 or 32 alike), so designs that need an input
held (serial-to-parallel, enables, programmable dividers) see both held and per-cycle-changing
inputs (a design without a clock gets new values every step: holding would only repeat samples);
with `Stimulus.corners` (the default) a new value is all zeros or all ones with probability 1/8
each, else uniform bits. Resets are asserted for the first 3 cycles, then start a pulse of 1-4
cycles (`hold`) or 1 cycle with probability 1/64 per cycle. Samples: `Stimulus.phases` per clock
cycle after the first 3 (3: before the rising edge, after it, after the falling edge, so clock-
like outputs and falling-edge logic are compared; 1: before the rising edge only); a design
without a clock input is sampled at the same times of each 10-unit step (2, 5 and 9; or 5),
which also compares an output clock it generates itself.

Comparison, per output bit: an `x` in the reference matches anything (as VerilogEval does: the
reference does not care); `0`, `1` and `z` must be matched exactly (`===`), so a reference that
releases an output to `z` (a tri-state flag) passes against itself and a candidate must release
it too. Outputs wider than 4096 bits are not supported (the testbench then ends without a
verdict). Random values come from `$random(seed)` with a per-task seed: deterministic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from envs.verilog_ports import Port

VERDICT = '$display("Mismatches: %0d in %0d samples", mismatches, samples);'
WARM = 3  # cycles of reset before sampling starts
MAX_OUTPUT_BITS = 4096
_CLOCK = re.compile(r"[a-z0-9]*_?(clk|clock)(_?in?|_[a-z]|_?\d+)?")  # clk, wclk, sys_clk, clk_in, clk_i, clk_a, clk2
_RESET = re.compile(r"(?P<pre>[a-z0-9]+_|[a-z]?)(rst|reset)(?P<suf>_?n|_b|_l|_ni|_i|_in)?")  # rst, rst_n, wrstn, nreset


@dataclass(frozen=True)
class Stimulus:
    """How the testbench drives and samples: clock cycles (steps without a clock), held inputs, samples per cycle."""

    cycles: int = 1000
    hold: bool = True
    phases: int = 3
    corners: bool = True  # new values all zeros / all ones with probability 1/8 each

    def __post_init__(self) -> None:
        if self.cycles < 1 or self.phases not in (1, 3):
            raise ValueError(f"verilog: testbench stimulus needs cycles >= 1 and phases 1 or 3, got {self}")


LEGACY = Stimulus(cycles=200, hold=False, phases=1, corners=False)  # the testbench before held inputs and phases


def classify(inputs: list[Port]) -> tuple[list[str], dict[str, bool], list[Port]]:
    """(clock names, {reset name: active low}, data inputs) by the naming rules of the module docstring."""
    clocks = [p.name for p in inputs if not p.range and _CLOCK.fullmatch(p.name.lower())]
    resets = {}
    for p in inputs:
        m = _RESET.fullmatch(p.name.lower())
        if m and not p.range and p.name not in clocks:
            resets[p.name] = m.group("pre") == "n" or m.group("suf") in ("n", "_n", "_b", "_l", "_ni")
    data = [p for p in inputs if p.name not in clocks and p.name not in resets]
    return clocks, resets, data


def _decl(kind: str, p: Port, names: str) -> str:
    return f"  {kind} {'signed ' if p.signed else ''}{p.range + ' ' if p.range else ''}{names};"


def equivalence_testbench(ports: list[Port], params: list[tuple[str, str]], seed: int, stim: Stimulus = Stimulus()) -> str:
    """Module `tb` comparing RefModule and TopModule under seeded stimulus `stim` (module docstring)."""
    inputs = [p for p in ports if p.dir == "input"]
    outputs = [p for p in ports if p.dir == "output"]
    clocks, resets, data = classify(inputs)
    warm = WARM if clocks else 0
    if not clocks:  # nothing holds state across steps: a held input would only repeat a sample
        stim = replace(stim, hold=False)
    lines = ["module tb;"]
    lines += [f"  localparam {n} = {e};" for n, e in params]
    lines += [_decl("reg", p, p.name) for p in inputs]
    lines += [_decl("wire", p, f"{p.name}_ref, {p.name}_top") for p in outputs]
    lines.append(f"  reg [{MAX_OUTPUT_BITS - 1}:0] got_ref, got_top;")
    lines.append(f"  integer seed = {seed}, i, k, bad, samples = 0, mismatches = 0;")
    if stim.hold:
        lines += [f"  integer hold_{p.name} = 0;" for p in data] + [f"  integer pulse_{n} = 0;" for n in resets]
    lines.append("")
    for inst, suffix in (("RefModule ref_i", "_ref"), ("TopModule top_i", "_top")):
        conns = [f".{p.name}({p.name})" for p in inputs] + [f".{p.name}({p.name}{suffix})" for p in outputs]
        lines.append(f"  {inst} ({', '.join(conns)});")
    lines += ["", "  // an x in the reference matches anything; 0, 1 and z must match exactly", "  task compare;"]
    lines += ["    begin", "      samples = samples + 1;", "      bad = 0;"]
    for p in outputs:
        r, t = f"{p.name}_ref", f"{p.name}_top"
        lines.append(f"      if ({r} !== {t}) begin")
        lines.append(f"        got_ref = {r};")
        lines.append(f"        got_top = {t};")
        lines.append(f"        for (k = 0; k < $bits({r}); k = k + 1)")
        lines.append("          if (got_ref[k] !== 1'bx && got_ref[k] !== got_top[k]) bad = 1;")
        lines.append("      end")
    lines += ["      mismatches = mismatches + bad;", "    end", "  endtask", ""]
    lines.append("  initial begin")
    width = " + ".join(f"$bits({p.name}_ref)" for p in outputs)
    lines.append(f"    if ({' || '.join(f'$bits({p.name}_ref) > {MAX_OUTPUT_BITS}' for p in outputs)}) begin")
    lines += [f'      $display("an output is wider than {MAX_OUTPUT_BITS} bits ({width})");', "      $finish;", "    end"]
    lines += [f"    {c} = 0;" for c in clocks]
    lines += [f"    {p.name} = 0;" for p in data]
    lines.append(f"    for (i = 0; i < {stim.cycles + warm}; i = i + 1) begin")
    lines += _resets(resets, warm, stim)
    lines += _data(data, stim)
    lines += _cycle(clocks, warm, stim)
    lines += ["    end", f"    {VERDICT}", "    $finish;", "  end", ""]
    watchdog = 10 * (stim.cycles + warm) + 1000
    lines += ["  initial begin", f"    #{watchdog};", '    $display("TIMEOUT");', "    $finish;", "  end", "endmodule", ""]
    return "\n".join(lines)


def _resets(resets: dict[str, bool], warm: int, stim: Stimulus) -> list[str]:
    lines = []
    for name, low in resets.items():
        on, off = ("1'b0", "1'b1") if low else ("1'b1", "1'b0")
        if stim.hold:
            lines.append(f"      if (pulse_{name} == 0 && ($random(seed) & 63) == 0) pulse_{name} = 1 + ($random(seed) & 3);")
            lines.append(f"      {name} = (i < {warm} || pulse_{name} > 0) ? {on} : {off};")
            lines.append(f"      if (pulse_{name} > 0) pulse_{name} = pulse_{name} - 1;")
        else:
            lines.append(f"      {name} = (i < {warm} || ($random(seed) & 63) == 0) ? {on} : {off};")
    return lines


def _data(data: list[Port], stim: Stimulus) -> list[str]:
    lines = []
    for p in data:
        n, pad = p.name, "  " if stim.hold else ""
        if stim.hold:
            lines.append(f"      if (hold_{n} == 0) begin")
            lines.append(f"        hold_{n} = ($random(seed) & 1) ? 1 : 1 << ((($random(seed) >>> 1) & 32'h7fffffff) % 6);")
        draw = f"repeat (($bits({n}) + 31) / 32) {n} = {{{n}, $random(seed)}};"
        if stim.corners:
            lines.append(f"      {pad}case ($random(seed) & 7)")
            lines.append(f"      {pad}  0: {n} = 0;")
            lines.append(f"      {pad}  1: begin {n} = 0; {n} = ~{n}; end")
            lines.append(f"      {pad}  default: {draw}")
            lines.append(f"      {pad}endcase")
        else:
            lines.append(f"      {pad}{draw}")
        if stim.hold:
            lines += ["      end", f"      hold_{n} = hold_{n} - 1;"]
    return lines


def _cycle(clocks: list[str], warm: int, stim: Stimulus) -> list[str]:
    """One step of 10 time units: sample(s) around the clock edges (inputs changed at time 0)."""
    sample = [f"      if (i >= {warm}) compare;"]
    if not clocks:
        return (
            ["      #5;", *sample, "      #5;"]
            if stim.phases == 1
            else ["      #2;", *sample, "      #3;", *sample, "      #4;", *sample, "      #1;"]
        )
    rise = [f"      {c} = 1;" for c in clocks]
    fall = [f"      {c} = 0;" for c in clocks]
    if stim.phases == 1:
        return ["      #2;", *sample, "      #1;", *rise, "      #5;", *fall, "      #2;"]
    return ["      #2;", *sample, "      #1;", *rise, "      #2;", *sample, "      #3;", *fall, "      #1;", *sample, "      #1;"]
