"""Stages 1 and 2: the candidate elaborates on its own, fits the testbench, and matches the reference in simulation.

Files in one sandbox work dir: `cand.sv` (the candidate), `ref.sv` (the task's `RefModule`) and
`tb.sv` (the task's testbench, VerilogEval v2 spec-to-rtl layout: `module tb` drives both
designs, counts mismatching samples and ends with one `$display("Mismatches: %0d in %0d
samples", ...)`). Steps, each a sandboxed run of its own:

1. `iverilog -g2012 -t null -s TopModule cand.sv`: the candidate alone, so a reference up into
   the testbench (`tb.mismatches`) does not elaborate; optionally `verilator --lint-only` too;
2. `iverilog ... -s tb -o sim.vvp tb.sv ref.sv cand.sv`: it fits the testbench (a port the
   testbench does not have, a missing one or one of another width fails here);
3. `vvp -n sim.vvp`: the verdict.

The verdict cannot be forged from the candidate: the harness writes a random nonce into the
testbench's verdict `$display` for every run, exactly one line must carry it, and its sample
count must equal the one of the reference simulated against itself (run once per task).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from rewards.rtl import tools
from rewards.rtl.cache import CACHE, key
from rewards.rtl.extract import TOP, module_names
from rewards.rtl.params import RtlParams
from rlpost import sandbox

REF = "RefModule"
_VERDICT_DISPLAY = re.compile(r'(\$display\s*\(\s*")(Mismatches:)')
_ANY_VERDICT = re.compile(r"Mismatches: *\d+ in \d+ samples", re.IGNORECASE)
_PORT_WARNING = re.compile(
    r"^.*warning: (?:Port \d+ \(\S+\) of TopModule expects|Instantiating module TopModule with dangling).*$", re.M
)
COMPILE = ["-Wall", "-Winfloop", "-Wno-timescale", "-g2012"]


@dataclass(frozen=True)
class Task:
    """The reference fields of one row: its id (for messages), reference design and testbench."""

    task_id: str
    ref: str
    test: str

    @classmethod
    def from_reference(cls, reference: dict) -> Task:
        """Validate the fields `task_id` (optional), `ref` and `test`; a bad row is a ValueError naming the field."""
        task_id = str(reference.get("task_id", "?"))
        for field in ("ref", "test"):
            if not isinstance(reference.get(field), str) or not reference[field].strip():
                raise ValueError(f"rtl: task {task_id}: reference field {field!r} is missing or empty")
        if REF not in module_names(reference["ref"]):
            raise ValueError(f"rtl: task {task_id}: reference field 'ref' declares no module {REF}")
        if "tb" not in module_names(reference["test"]):
            raise ValueError(f"rtl: task {task_id}: reference field 'test' declares no module tb")
        found = len(_VERDICT_DISPLAY.findall(reference["test"]))
        if found != 1:
            raise ValueError(f'rtl: task {task_id}: the testbench must have one $display("Mismatches: ...") (found {found})')
        return cls(task_id, reference["ref"], reference["test"])

    def ref_as_top(self) -> str:
        """The reference renamed to TopModule (its helper modules renamed too, so both copies elaborate side by side)."""
        source = self.ref
        for name in module_names(self.ref):
            if not name.startswith("\\"):
                source = re.sub(rf"\b{re.escape(name)}\b", TOP if name == REF else f"{name}__rlpost_top", source)
        return source


@dataclass(frozen=True)
class Verdict:
    """The testbench's count of mismatching samples out of all samples."""

    mismatches: int
    samples: int


@dataclass(frozen=True)
class SimOutcome:
    """How far a design got: `syntax_ok` (stage 1: elaborates alone and fits the testbench), then its verdict.

    No verdict with `syntax_ok` means the simulation ended abnormally (a limit, a crash, no or a
    forged verdict); `reason` says why.
    """

    syntax_ok: bool
    verdict: Verdict | None = None
    reason: str = ""


@dataclass(frozen=True)
class _Run:
    outcome: SimOutcome
    port_warnings: frozenset[str] = frozenset()


def check(task: Task, candidate: str, params: RtlParams, config: sandbox.SandboxConfig) -> SimOutcome:
    """Stages 1 and 2 for `candidate` (a source declaring TopModule), judged against the reference's own run."""
    expected = reference_run(task, params, config)
    run = _simulate(task, candidate, params, config)
    extra = sorted(run.port_warnings - set(expected["port_warnings"]))
    if extra:
        return SimOutcome(False, reason=f"does not fit the testbench: {extra[0][:160]}")
    verdict = run.outcome.verdict
    if verdict and verdict.samples != expected["samples"]:
        return SimOutcome(
            True, reason=f"simulation: the verdict counts {verdict.samples} samples, the reference run {expected['samples']}"
        )
    return run.outcome


def reference_run(task: Task, params: RtlParams, config: sandbox.SandboxConfig) -> dict:
    """{samples, port_warnings} of the reference simulated against itself (cached per ref + testbench)."""

    def compute() -> dict:
        run = _simulate(task, task.ref_as_top(), params, config)
        verdict = run.outcome.verdict
        if verdict is None or verdict.mismatches:
            why = run.outcome.reason or f"{verdict.mismatches} mismatches in {verdict.samples} samples"
            raise ValueError(f"rtl: task {task.task_id}: the reference does not pass its own testbench ({why})")
        return {"samples": verdict.samples, "port_warnings": sorted(run.port_warnings)}

    return CACHE.get_or_compute("refsim", key(task.ref, task.test, " ".join(COMPILE)), compute, params.cache_dir)


def _simulate(task: Task, candidate: str, params: RtlParams, config: sandbox.SandboxConfig) -> _Run:
    """The three steps in one fresh sandbox work dir, with a new nonce in the testbench's verdict line."""
    nonce = secrets.token_hex(12)
    test = _VERDICT_DISPLAY.sub(lambda m: f"{m.group(1)}{nonce} {m.group(2)}", task.test)
    with sandbox.Workdir({"tb.sv": test, "ref.sv": task.ref, "cand.sv": candidate}, config) as wd:
        alone = tools.run(wd, "iverilog", ["-g2012", "-t", "null", "-s", TOP, "cand.sv"], params)
        if alone.reason != "ok":
            return _Run(SimOutcome(False, reason=f"syntax: {tools.failure(alone)}"))
        if params.verilator_lint:
            lint = tools.run(wd, "verilator", ["--lint-only", "-Wno-fatal", "--timing", "--top-module", TOP, "cand.sv"], params)
            if lint.reason != "ok":
                return _Run(SimOutcome(False, reason=f"verilator lint: {tools.failure(lint)}"))
        built = tools.run(wd, "iverilog", [*COMPILE, "-s", "tb", "-o", "sim.vvp", "tb.sv", "ref.sv", "cand.sv"], params)
        if built.reason != "ok":
            return _Run(SimOutcome(False, reason=f"does not fit the testbench: {tools.failure(built)}"))
        warnings = frozenset(_PORT_WARNING.findall(built.stderr.decode(errors="replace")))
        ran = tools.run(wd, "vvp", ["-n", "sim.vvp"], params)
    stdout = ran.stdout.decode(errors="replace")
    verdicts = re.findall(rf"{nonce} Mismatches: (\d+) in (\d+) samples$", stdout, re.MULTILINE)
    if len(_ANY_VERDICT.findall(stdout)) > len(verdicts):
        return _Run(SimOutcome(True, reason="simulation: the design printed a verdict line of its own"), warnings)
    if ran.reason != "ok" or len(verdicts) != 1:
        why = tools.failure(ran) if ran.reason != "ok" else f"{len(verdicts)} verdict lines"
        return _Run(SimOutcome(True, reason=f"simulation: no verdict ({why})"), warnings)
    return _Run(SimOutcome(True, Verdict(int(verdicts[0][0]), int(verdicts[0][1]))), warnings)
