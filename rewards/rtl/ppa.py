"""Stage 3: power, performance and area from yosys and OpenSTA against a standard-cell liberty.

In one sandbox work dir: yosys synthesises the design (flattened, flip-flops and logic mapped
to the liberty's cells by dfflibmap and abc) and writes `stat -liberty` to a file and the
netlist to `net.v`; OpenSTA reads the netlist with a clock of `clock_period_ns` on the
`clock_port` input (a virtual clock when there is none; inputs and outputs constrained at 0),
then reports the worst path and the power. Units: area in the liberty's unit (µm² for osu018),
delay in ns (the clock period minus the worst slack: the shortest clock the design meets, or
the longest input-to-output path of a combinational one), power in W (total, OpenSTA's default
activities). A design whose synthesis finds a combinational loop is not measured.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass

from rewards.rtl import tools
from rewards.rtl.cache import CACHE, key
from rewards.rtl.params import RtlParams
from rlpost import sandbox

# ratios (reference / candidate, one per metric) -> the value clamped into the bonus
PPA_FORMS: dict[str, Callable[[list[float]], float]] = {
    "geomean": lambda ratios: math.prod(ratios) ** (1 / len(ratios)) - 1,
    "product": lambda ratios: math.prod(ratios) - 1,
}
_CELLS = re.compile(r"^\s*Number of cells:\s+(\d+)\s*$", re.M)
_AREA = re.compile(r"^\s*Chip area for module '[^']*':\s+([0-9.eE+-]+)\s*$", re.M)
_SLACK = re.compile(r"^\s*(-?[0-9.]+(?:[eE][+-]?\d+)?)\s+slack \((?:MET|VIOLATED)\)\s*$", re.M)
_POWER = re.compile(r"^Total(?:\s+\S+){3}\s+([0-9.eE+-]+)\s", re.M)
_LOOP = re.compile(r"found logic loop in module")


@dataclass(frozen=True)
class Ppa:
    """Area (liberty units), cell count, critical-path delay (ns) and total power (W) of one synthesised design."""

    area: float
    cells: int
    delay: float
    power: float


@dataclass(frozen=True)
class Measurement:
    """A design's PPA, or why there is none; `fatal` when it must score `fail` (a limit hit, a combinational loop)."""

    ppa: Ppa | None
    reason: str = ""
    fatal: bool = False


class ParseError(ValueError):
    """Tool output without the expected report."""


def parse_stat(text: str) -> tuple[float, int]:
    """(area, cells) from yosys `stat -liberty`; a design of no cells has no area line and area 0."""
    cells = _CELLS.findall(text)
    if not cells:
        raise ParseError("no 'Number of cells' in the yosys statistics")
    area = _AREA.findall(text)
    if not area and int(cells[-1]):
        raise ParseError("no 'Chip area' in the yosys statistics (cells missing from the liberty?)")
    return float(area[-1]) if area else 0.0, int(cells[-1])


def parse_sta(text: str, period_ns: float) -> tuple[float, float]:
    """(delay ns, power W) from OpenSTA's `report_checks` and `report_power`; no timing path means delay 0."""
    errors = [line for line in text.splitlines() if line.startswith("Error")]
    if errors:
        raise ParseError(errors[0][:160])
    power = _POWER.search(text)
    if not power:
        raise ParseError("no 'Total' row in OpenSTA's power report")
    slack = _SLACK.search(text)
    if not slack and "No paths found" not in text:
        raise ParseError("no slack in OpenSTA's timing report")
    return (round(period_ns - float(slack.group(1)), 6) if slack else 0.0), float(power.group(1))


def synth_script(top: str, liberty: str) -> str:
    """yosys commands for `design.sv` -> statistics in `stat.txt`, netlist in `net.v`."""
    return (
        f"read_verilog -sv design.sv\nhierarchy -check -top {top}\nsynth -top {top} -flatten\n"
        f"dfflibmap -liberty {liberty}\nabc -liberty {liberty}\nopt_clean\nsplitnets -ports -format _\nopt_clean -purge\n"
        f"tee -q -o stat.txt stat -liberty {liberty}\nwrite_verilog -noattr net.v\n"
    )


def sta_script(top: str, liberty: str, period_ns: float, clock_port: str) -> str:
    """OpenSTA commands for `net.v`: a clock on `clock_port` (virtual without one), I/O at 0, worst path and power."""
    return (
        f"read_liberty {liberty}\nread_verilog net.v\nlink_design {top}\n"
        f"if {{[llength [get_ports -quiet {clock_port}]] > 0}} {{\n"
        f"  create_clock -name clk -period {period_ns} [get_ports {clock_port}]\n"
        f"  set inputs [delete_from_list [all_inputs] [get_ports {clock_port}]]\n"
        f"}} else {{\n  create_clock -name clk -period {period_ns}\n  set inputs [all_inputs]\n}}\n"
        "set_input_delay 0 -clock clk $inputs\nset_output_delay 0 -clock clk [all_outputs]\n"
        "report_checks -path_delay max -digits 4\nreport_power -digits 6\n"
    )


def measure(source: str, top: str, params: RtlParams, config: sandbox.SandboxConfig) -> Measurement:
    """Synthesise and time `source` with top module `top`."""
    lib = tools.liberty(params)
    files = {
        "design.sv": source,
        "synth.ys": synth_script(top, lib),
        "sta.tcl": sta_script(top, lib, params.clock_period_ns, params.clock_port),
    }
    with sandbox.Workdir(files, config) as wd:
        synth = tools.run(wd, "yosys", ["-q", "-s", "synth.ys"], params, params.synth_timeout_s)
        log = (synth.stdout + synth.stderr).decode(errors="replace")
        if _LOOP.search(log):
            return Measurement(None, "synthesis: combinational loop", fatal=True)
        if synth.reason != "ok":
            hit_limit = not synth.reason.startswith("exit code")
            return Measurement(None, f"synthesis: {tools.failure(synth)}", fatal=hit_limit)
        stat = wd.read("stat.txt", 1 << 20)
        timing = tools.run(wd, "sta", ["-no_init", "-no_splash", "-exit", "sta.tcl"], params)
    try:
        area, cells = parse_stat((stat or b"").decode(errors="replace"))
        if timing.reason != "ok":
            raise ParseError(tools.failure(timing))
        delay, power = parse_sta(timing.stdout.decode(errors="replace"), params.clock_period_ns)
    except ParseError as e:
        return Measurement(None, f"PPA: {e}")
    return Measurement(Ppa(area, cells, delay, power))


def reference_ppa(ref: str, top: str, params: RtlParams, config: sandbox.SandboxConfig) -> Measurement:
    """`measure` of a task's reference design, cached per source, scripts and liberty file."""
    lib = tools.liberty(params)
    stamp = tools.file_stamp(lib)
    digest = key(ref, synth_script(top, lib), sta_script(top, lib, params.clock_period_ns, params.clock_port), stamp)

    def compute() -> dict:
        found = measure(ref, top, params, config)
        return {"ppa": asdict(found.ppa) if found.ppa else None, "reason": found.reason}

    value = CACHE.get_or_compute("refppa", digest, compute, params.cache_dir)
    return Measurement(Ppa(**value["ppa"]) if value["ppa"] else None, value["reason"])


def vanished(reference: Ppa, candidate: Ppa, metrics: tuple[str, ...]) -> list[str]:
    """Metrics that are 0 for the candidate but not for the reference (a design synthesised to nothing)."""
    return [m for m in metrics if getattr(candidate, m) == 0 < getattr(reference, m)]


def ratios(reference: Ppa, candidate: Ppa, metrics: tuple[str, ...]) -> dict[str, float]:
    """reference / candidate per metric (above 1: the candidate is smaller, faster or leaner); 0 / 0 counts as 1.

    Only for designs with no `vanished` metric.
    """
    return {m: getattr(reference, m) / getattr(candidate, m) if getattr(candidate, m) else 1.0 for m in metrics}


def ppa_score(metric_ratios: dict[str, float], params: RtlParams) -> float:
    """form(ratios), unclamped: 0 for the reference's PPA, above 0 better, below 0 worse."""
    return PPA_FORMS[params.ppa_form](list(metric_ratios.values()))


def bonus(metric_ratios: dict[str, float], params: RtlParams) -> float:
    """ppa_weight * clamp(ppa_score, ppa_min, ppa_max)."""
    return params.ppa_weight * min(max(ppa_score(metric_ratios, params), params.ppa_min), params.ppa_max)
