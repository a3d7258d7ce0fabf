"""Stages 1 and 2: the candidate elaborates on its own, fits the testbench, and matches the reference in simulation.

Sources: the candidate, the task's `RefModule` (`ref`) and testbench (`test`, VerilogEval v2
spec-to-rtl layout: `module tb` drives both designs, counts mismatching samples and prints one
`$display("Mismatches: %d in %d samples", ...)`). Every source is preprocessed alone
(`iverilog -E`, a sandboxed run of its own; the reference's and testbench's once per task), so
no macro crosses files. Steps for a candidate, each a sandboxed run in one work dir:

1. `iverilog -E` on the candidate alone, in a work dir of its own (nothing to include) -> `cand.sv`;
2. `iverilog -g2012 -s TopModule cand.sv` alone (a reference up into the testbench does not
   elaborate), then, in the same sandboxed run, `vvp -s -n` of that image with its VPI module list replaced by v2009 only:
   any system task or function the candidate calls that a VPI module provides ($display,
   $finish, $stop, $fopen, $ivlh_*, $random, $time, ...) is "not defined by any module" and
   fails here; optionally `verilator --lint-only` too;
3. `iverilog ... -s tb tb.sv ref.sv cand.sv` (the preprocessed files, candidate last; not `-u`,
   which would also reset the testbench's `timescale` for the reference and the candidate): it
   fits the testbench;
4. the simulation: the image's VPI list is replaced by system, v2005_math, va_math and v2009
   (no VHDL textio / sys modules), the image is piped into `vvp -N /dev/stdin` and every file
   in the work dir is deleted before the pipe closes, i.e. before the simulation starts.

Threat model: the candidate is arbitrary text (the static screen may be bypassed); it runs
inside the sandbox (rlpost.sandbox: no network, a throw-away /tmp as its only writable
place, read-only /usr and /lib, limits). A forged `functional` needs a verdict line with zero
mismatches that the testbench did not print for the candidate. Closed because:
- the verdict line carries a random nonce the harness writes into the testbench's `$display`
  per run; the nonce is only in the compiled image, which no file holds once the simulation
  runs (sources and image deleted, the pipe drained), so file tasks find nothing to read;
- the candidate's own code cannot print, open files, read plusargs or end the run: step 2
  proves it calls no VPI system task (it is the same preprocessed text in step 3), and vvp
  gets no plusargs; `-N` turns a `$stop` into a failure;
- exactly one line must carry the nonce, any other verdict-shaped line fails the run, the
  run must exit 0, and its sample count must equal the reference's own run (a run ended
  early counts fewer samples and never yields a verdict);
- macros of the testbench cannot reach the candidate, nor the candidate's the testbench or
  the reference (per-file preprocessing; the candidate is compiled last and the screen allows
  nothing but modules and directives at its file level, so it declares nothing in `$unit`);
- UTF-8 byte-order marks and CR line ends are normalised away in every source (normalise).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from functools import lru_cache

from rewards.rtl import tools
from rewards.rtl.cache import CACHE, key
from rewards.rtl.extract import TOP, module_names, normalise
from rewards.rtl.params import RtlParams
from rewards.rtl.screen import reserved_names
from rlpost import sandbox

REF = "RefModule"
_VERDICT_DISPLAY = re.compile(r'(\$display\s*\(\s*")(Mismatches:)')
_ANY_VERDICT = re.compile(r"Mismatches: *\d+ in \d+ samples", re.IGNORECASE)
_PORT_WARNING = re.compile(
    r"^.*warning: (?:Port \d+ \(\S+\) of TopModule expects|Instantiating module TopModule with dangling).*$", re.M
)
COMPILE = ["-Wall", "-Winfloop", "-Wno-timescale", "-g2012"]
ALONE_MODULES = ("v2009",)  # pure functions only ($countones, $onehot, ...): what a design may call
SIM_MODULES = ("system", "v2005_math", "va_math", "v2009")  # what the testbench needs; no VHDL textio
_STRIP_VPI = "grep -v '^:vpi_module' {src} > {dst}"


@dataclass(frozen=True)
class Task:
    """The reference fields of one row: its id (for messages), reference design and testbench (BOM / CRLF normalised)."""

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
        ref, test = normalise(reference["ref"]), normalise(reference["test"])
        if REF not in module_names(ref):
            raise ValueError(f"rtl: task {task_id}: reference field 'ref' declares no module {REF}")
        if "tb" not in module_names(test):
            raise ValueError(f"rtl: task {task_id}: reference field 'test' declares no module tb")
        found = len(_VERDICT_DISPLAY.findall(test))
        if found != 1:
            raise ValueError(f'rtl: task {task_id}: the testbench must have one $display("Mismatches: ...") (found {found})')
        return cls(task_id, ref, test)

    @property
    def reserved(self) -> frozenset[str]:
        """Names of the reference and testbench a candidate may not use (rewards.rtl.screen.reserved_names)."""
        return _reserved(self.ref, self.test)

    def ref_as_top(self) -> str:
        """The reference renamed to TopModule (its helper modules renamed too, so both copies elaborate side by side)."""
        source = self.ref
        for name in module_names(self.ref):
            if not name.startswith("\\"):
                source = re.sub(rf"\b{re.escape(name)}\b", TOP if name == REF else f"{name}__rlpost_top", source)
        return source


@lru_cache(maxsize=256)
def _reserved(ref: str, test: str) -> frozenset[str]:
    return reserved_names(ref, test)


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
    run = _simulate(task, normalise(candidate), params, config)
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

    return CACHE.get_or_compute("refsim", key(task.ref, task.test, " ".join(COMPILE), "v2"), compute, params.cache_dir)


def preprocessed(task: Task, params: RtlParams, config: sandbox.SandboxConfig) -> dict:
    """{tb, ref}: the testbench and reference each preprocessed alone (cached per task); a failure is a ValueError."""

    def compute() -> dict:
        out = {}
        for name, source in (("tb", task.test), ("ref", task.ref)):
            text, why = preprocess(source, f"{name}.sv", params, config)
            if why:
                raise ValueError(f"rtl: task {task.task_id}: reference field {'test' if name == 'tb' else 'ref'}: {why}")
            out[name] = text
        return out

    return CACHE.get_or_compute("refpre", key(task.ref, task.test), compute, params.cache_dir)


def preprocess(source: str, name: str, params: RtlParams, config: sandbox.SandboxConfig) -> tuple[str, str]:
    """(`source` preprocessed alone by `iverilog -E` in a work dir of its own as file `name`, '') or ('', why it failed)."""
    with sandbox.Workdir({name: source}, config) as wd:
        done = tools.run(wd, "iverilog", ["-g2012", "-E", "-o", "preprocessed.sv", name], params)
        most = 8 * len(source) + (1 << 16)
        text = wd.read("preprocessed.sv", most + 1) if done.reason == "ok" else None
    if text is None:
        return "", f"preprocessing: {tools.failure(done)}"
    if len(text) > most:
        return "", f"preprocessing: the macros expand to more than {most} bytes"
    return text.decode(errors="replace"), ""


def _simulate(task: Task, candidate: str, params: RtlParams, config: sandbox.SandboxConfig) -> _Run:
    """The steps in one fresh sandbox work dir, with a new nonce in the testbench's verdict line."""
    pre = preprocessed(task, params, config)
    nonce = secrets.token_hex(12)
    test = _VERDICT_DISPLAY.sub(lambda m: f"{m.group(1)}{nonce} {m.group(2)}", pre["tb"])
    cand, why = preprocess(candidate, "cand.sv", params, config)
    if why:
        return _Run(SimOutcome(False, reason=f"syntax: {why}"))
    with sandbox.Workdir({"tb.sv": test, "ref.sv": pre["ref"], "cand.sv": cand}, config) as wd:
        compile_alone = f"{tools.tool('iverilog')} -g2012 -o alone.vvp -s {TOP} cand.sv"
        alone = tools.run_script(wd, f"{compile_alone} && {vvp_script('alone.vvp', ALONE_MODULES, '-s -n', feed=False)}", params)
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
        ran = tools.run_script(wd, vvp_script("sim.vvp", SIM_MODULES, "-N", feed=True), params)
    return _Run(read_verdict(ran, nonce), warnings)


def vvp_script(image: str, modules: tuple[str, ...], flags: str, feed: bool) -> str:
    """A shell script: `image` with its VPI module list replaced by `modules`, run by vvp with `flags`.

    `feed`: pipe the image into vvp and delete every file of the work dir before the pipe closes
    (vvp reads its whole input before simulating), so the simulation finds no file to read.
    """
    vvp = f"{tools.tool('vvp')} -M {tools.vpi_dir()} {' '.join(f'-m {m}' for m in modules)} {flags}"
    strip = _STRIP_VPI.format(src=image, dst="run.vvp")
    if not feed:
        return f"{strip} && exec {vvp} run.vvp"
    return f"{strip} && rm -f -- {image} && {{ cat run.vvp; rm -f -- ./* ./.[!.]*; }} | {vvp} /dev/stdin"


def read_verdict(ran: sandbox.SandboxResult, nonce: str) -> SimOutcome:
    """The simulation's verdict: exactly one line with the nonce, no other verdict-shaped line, a clean exit."""
    stdout = ran.stdout.decode(errors="replace")
    verdicts = re.findall(rf"{nonce} Mismatches: (\d+) in (\d+) samples$", stdout, re.MULTILINE)
    if len(_ANY_VERDICT.findall(stdout)) > len(verdicts):
        return SimOutcome(True, reason="simulation: the design printed a verdict line of its own")
    if ran.reason != "ok" or len(verdicts) != 1:
        why = tools.failure(ran) if ran.reason != "ok" else f"{len(verdicts)} verdict lines"
        return SimOutcome(True, reason=f"simulation: no verdict ({why})")
    return SimOutcome(True, Verdict(int(verdicts[0][0]), int(verdicts[0][1])))
