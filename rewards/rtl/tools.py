"""The EDA tools the `rtl` reward runs, how they are found, and one sandboxed run of one of them.

Tools come from Debian packages (`make rtl-deps` installs them as root): iverilog / vvp
(iverilog), yosys / yosys-abc (yosys), sta (opensta), verilator (verilator). The liberty is
the `rtl.liberty` param, else $RLPOST_LIBERTY, else <sys.prefix>/share/rlpost/osu018_stdcells.lib
(where `make rtl-deps` puts the osu018 library of Debian's qflow-tech-osu018). A missing tool
or liberty is an error naming it and the make target, never a skipped stage.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from functools import cache
from pathlib import Path

from rewards.rtl.params import RtlParams
from rlpost import sandbox

PACKAGES = {
    "iverilog": "iverilog",
    "vvp": "iverilog",
    "yosys": "yosys",
    "yosys-abc": "yosys",
    "sta": "opensta",
    "verilator": "verilator",
}
LIBERTY_ENV = "RLPOST_LIBERTY"
LIBERTY_NAME = "osu018_stdcells.lib"


class ToolMissing(RuntimeError):
    """An RTL tool or the liberty file is not installed."""


@cache
def tool(name: str) -> str:
    """Absolute path of tool `name` (a key of PACKAGES)."""
    path = shutil.which(name)
    if not path:
        raise ToolMissing(
            f"rtl: `{name}` not found on PATH; install the Debian package {PACKAGES[name]} "
            f"(run `make rtl-deps` as root, or apt-get install {PACKAGES[name]})"
        )
    return os.path.realpath(path)


def needed_tools(params: RtlParams) -> tuple[str, ...]:
    """The tools the enabled stages run: the formal stage (`function` formal or both) needs yosys even without PPA."""
    formal = params.function != "simulate"
    return (
        ("iverilog", "vvp")
        + (("verilator",) if params.verilator_lint else ())
        + (("yosys", "yosys-abc", "sta") if params.ppa else ("yosys",) if formal else ())
    )


def liberty(params: RtlParams) -> str:
    """The liberty file for synthesis, timing and power (absolute path)."""
    for source, path in (("param liberty", params.liberty), (f"${LIBERTY_ENV}", os.environ.get(LIBERTY_ENV))):
        if path:
            if not Path(path).is_file():
                raise ToolMissing(f"rtl: liberty file {path!r} (from {source}) does not exist")
            return os.path.realpath(path)
    default = Path(sys.prefix, "share", "rlpost", LIBERTY_NAME)
    if default.is_file():
        return str(default)
    raise ToolMissing(
        f"rtl: no liberty file: {default} is missing and neither the param liberty nor ${LIBERTY_ENV} is set; "
        "run `make rtl-deps` (it extracts osu018_stdcells.lib from Debian's qflow-tech-osu018)"
    )


def file_stamp(path: str) -> str:
    """Path, size and modification time of a file: part of a cache key that changes when the file does."""
    info = os.stat(path)
    return f"{path}:{info.st_size}:{info.st_mtime_ns}"


def sandbox_config(params: RtlParams) -> sandbox.SandboxConfig:
    """Sandbox settings for every tool run of one sample: the liberty (when PPA is on) and tools outside /usr bound read-only."""
    paths = [tool(name) for name in needed_tools(params)]
    binds = tuple(sorted({str(Path(p).parents[1]) for p in paths if not p.startswith("/usr/")}))
    if params.ppa:
        binds += (liberty(params),)
    return sandbox.SandboxConfig(limits=limits(params, params.timeout_s), ro_binds=binds, tmp_root=params.tmp_root)


def limits(params: RtlParams, seconds: float) -> sandbox.SandboxLimits:
    """Sandbox limits for a run of `seconds` of wall-clock and CPU time."""
    return sandbox.SandboxLimits(wall_s=seconds, cpu_s=max(1, round(seconds)), **params.limits.model_dump())


@cache
def vpi_dir() -> str:
    """The directory of Icarus' VPI modules (system.vpi, v2009.vpi, ...), next to the installed iverilog."""
    prefix = Path(tool("iverilog")).parents[1]
    found = sorted(prefix.glob("lib*/**/ivl/system.vpi"))
    if not found:
        raise ToolMissing(f"rtl: Icarus' VPI modules (ivl/system.vpi) not found under {prefix}/lib*; reinstall iverilog")
    return str(found[0].parent)


def run(
    workdir: sandbox.Workdir, name: str, args: list[str], params: RtlParams, seconds: float | None = None
) -> sandbox.SandboxResult:
    """Run tool `name` with `args` in `workdir` for at most `seconds` (default: the timeout_s param)."""
    return workdir.run([tool(name), *args], limits=limits(params, seconds or params.timeout_s))


def run_script(workdir: sandbox.Workdir, script: str, params: RtlParams) -> sandbox.SandboxResult:
    """Run the /bin/sh `script` (built by the harness, never from a candidate) in `workdir` for at most timeout_s."""
    return workdir.run(["/bin/sh", "-c", script], limits=limits(params, params.timeout_s))


_DIAGNOSTIC = re.compile(r"\b(?:error|sorry|fatal)\b", re.IGNORECASE)
_SUMMARY = re.compile(
    r"^\d+ error\(s\)|error\(s\) during elaboration|program not runnable|^i give up|elaboration failed|^%Error: Exiting",
    re.IGNORECASE,
)


def failure(result: sandbox.SandboxResult, limit: int = 160) -> str:
    """Why a tool run failed, in one line: the limit it hit, else its first diagnostic (error or sorry), else its exit code.

    Summaries ("3 error(s) during elaboration", "Program not runnable, 1 errors") are never the reason.
    """
    if result.reason != "ok" and not result.reason.startswith("exit code"):
        return result.reason
    text = (result.stderr + b"\n" + result.stdout).decode(errors="replace")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not _SUMMARY.search(line.strip())]
    first = next((line for line in lines if _DIAGNOSTIC.search(line)), lines[0] if lines else result.reason)
    return first[:limit]
