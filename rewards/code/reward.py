"""The `code` reward: run model-written Python against a task's tests in the bubblewrap sandbox.

Reference fields: `test_list` (assert statements, MBPP style), optional `test_setup_code` and
optional `io_tests` (a list of {"input", "output"}: the program reads stdin and must print the
output; trailing whitespace is ignored). All assert tests share one sandboxed run of
`harness.py`; each stdin/stdout case is a run of its own. Programs run on this Python's base
interpreter with the standard library only (`-I -S`: no site-packages, which also halves
start-up).

Score: passed / total, or 2 * passed / total - 1 with `scale: signed` (GPPO's code recipe).
Params: timeout_s (per leaf / stage), limits (SandboxLimits fields but wall_s / cpu_s, which
follow from timeout_s), max_code_chars, tmp_root (where run directories go).
Components: passed, total, timeouts (tests that ended on a time limit, or never ran because
the run hit one), uncheckable (tests `checks.plan` refused). `info` names the first failure.

Threat model: the program is hostile and runs with the harness in one sandboxed interpreter,
so it controls everything there: frames, gc, builtins, the tag, the records written. The
verdict is therefore never made there. This process splits each assert (`checks.plan`): the
sandbox only evaluates leaf expressions such as `add(1, 2)` and reports plain values; the
expected values never leave this process; the comparison runs here on values decoded into
genuine builtins (`records.decode`), so lying `__eq__`, subclasses and non-plain objects
cannot reach it. Forged, duplicate, malformed or out-of-phase records fail the run
(`records.parse`), and a test's score cannot exceed 1 because it is counted here, one bool per
test. The setup code runs before the program, and values the test takes from it are
reported before the program starts. io tests compare the program's stdout here.
"""

from __future__ import annotations

import json
import math
import secrets
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from rewards.code import records
from rewards.code.checks import Check, Leaf, LeafResult, Outcome, Uncheckable, decide, plan, setup_names
from rewards.code.extract import extract_code
from rlpost import sandbox
from rlpost.rewards import RewardResult, Sample, register_reward

HARNESS = (Path(__file__).parent / "harness.py").read_text()
SCALES = ("rate", "signed")
DEFAULT_LIMITS = sandbox.SandboxLimits(memory_mb=1024, max_procs=16, file_size_mb=8, output_bytes=256 << 10)
STARTUP_S = 2.0


def _limits(overrides: dict[str, Any] | None) -> sandbox.SandboxLimits:
    allowed = {f.name for f in fields(sandbox.SandboxLimits)} - {"wall_s", "cpu_s"}
    unknown = set(overrides or {}) - allowed
    if unknown:
        raise ValueError(f"code: unknown limits key(s) {sorted(unknown)}; expected some of {sorted(allowed)}")
    return replace(DEFAULT_LIMITS, **(overrides or {}))


@dataclass(frozen=True)
class Runner:
    """How to run one sample's programs: the per-test timeout, sandbox limits and where run directories go."""

    timeout_s: float
    limits: sandbox.SandboxLimits
    tmp_root: str | None = None

    def config(self, seconds: float) -> sandbox.SandboxConfig:
        """Sandbox settings for a run of `seconds` (plus interpreter start-up) of wall and CPU time."""
        timed = replace(self.limits, wall_s=seconds + STARTUP_S, cpu_s=max(1, math.ceil(seconds + STARTUP_S)))
        return sandbox.SandboxConfig(limits=timed, ro_binds=sandbox.python_binds(), tmp_root=self.tmp_root)


def run_asserts(code: str, tests: list[str], setup: str, runner: Runner) -> list[Outcome]:
    """One sandboxed harness run evaluating every test's leaves, then each verdict decided here."""
    names = setup_names(setup)
    planned: list[Check | str] = []
    for test in tests:
        try:
            planned.append(plan(test, names))
        except Uncheckable as e:
            planned.append(e.args[0])
    checks = [c for c in planned if isinstance(c, Check)]
    leaves = [leaf for c in checks for leaf in c.leaves]
    results = _evaluate(code, setup, leaves, runner) if leaves else []
    outcomes, start = [], 0
    for check in planned:
        if isinstance(check, str):
            outcomes.append(Outcome(False, f"uncheckable: {check}", uncheckable=True))
            continue
        outcomes.append(decide(check, results[start : start + len(check.leaves)]))
        start += len(check.leaves)
    return outcomes


def _evaluate(code: str, setup: str, leaves: list[Leaf], runner: Runner) -> list[LeafResult]:
    """Each leaf's value from one sandboxed harness run; a leaf without a record takes the run's reason."""
    tag = secrets.token_hex(16)
    spec = {"tag": tag, "timeout_s": runner.timeout_s, "setup": setup, "leaves": [asdict(leaf) for leaf in leaves]}
    argv = [sandbox.python_executable(), "-I", "-S", "-B", "harness.py"]
    config = runner.config(runner.timeout_s * (len(leaves) + 2))
    result = sandbox.run(argv, {"solution.py": code, "harness.py": HARNESS}, json.dumps(spec).encode(), config)
    phases = [leaf.phase for leaf in leaves]
    report = records.parse(result.stdout, tag, phases)
    if report.protocol:
        return [LeafResult(None, report.protocol)] * len(leaves)
    missing = _failed_run(result)
    out = []
    for i, phase in enumerate(phases):
        if i in report.results:
            out.append(report.results[i])
        elif report.stage_error is not None and (phase == "program" or report.stage == "setup"):
            out.append(report.stage_error)
        else:
            out.append(LeafResult(None, missing.error, missing.timeout))
    return out


def _failed_run(result: sandbox.SandboxResult) -> Outcome:
    """The outcome of a test whose run ended without a verdict for it."""
    reason = result.reason
    if reason == "ok":
        reason = "program exited before the test ran"
    elif reason.startswith("exit code"):
        last = result.stderr.decode(errors="replace").strip().splitlines()[-1:]
        reason = f"{reason}: {last[0][:120]}" if last else reason
    return Outcome(False, reason, result.timed_out or reason == "CPU time limit")


def run_io(code: str, case: dict[str, Any], runner: Runner) -> Outcome:
    """Run the program on one stdin and compare its stdout, ignoring trailing whitespace."""
    argv = [sandbox.python_executable(), "-I", "-S", "-B", "solution.py"]
    result = sandbox.run(argv, {"solution.py": code}, str(case["input"]).encode(), runner.config(runner.timeout_s))
    if result.reason != "ok":
        return _failed_run(result)
    if _normalise(result.stdout.decode(errors="replace")) == _normalise(str(case["output"])):
        return Outcome(True)
    return Outcome(False, "wrong output")


def _normalise(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip().splitlines()]


def _check_reference(reference: dict[str, Any]) -> tuple[list[str], str, list[dict[str, Any]]]:
    tests = list(reference.get("test_list") or [])
    setup = reference.get("test_setup_code") or ""
    io_tests = list(reference.get("io_tests") or [])
    if not tests and not io_tests:
        raise ValueError("code: the sample has no tests (reference fields test_list / io_tests are empty or missing)")
    if not all(isinstance(t, str) for t in tests):
        raise ValueError("code: test_list must be a list of strings (assert statements)")
    if not all(isinstance(c, dict) and {"input", "output"} <= set(c) for c in io_tests):
        raise ValueError("code: io_tests must be a list of {input, output} objects")
    return tests, setup, io_tests


@register_reward("code")
def code_reward(
    sample: Sample,
    scale: str = "rate",
    timeout_s: float = 4.0,
    limits: dict[str, Any] | None = None,
    max_code_chars: int = 20_000,
    tmp_root: str | None = None,
) -> RewardResult:
    """Fraction of tests the response's Python passes in the bubblewrap sandbox (scale signed: 2*rate-1)."""
    if scale not in SCALES:
        raise ValueError(f"code: unknown scale {scale!r}; expected one of {SCALES}")
    tests, setup, io_tests = _check_reference(sample.reference)
    runner = Runner(timeout_s, _limits(limits), tmp_root)
    total = len(tests) + len(io_tests)
    code = extract_code(sample.response)
    if not code.strip():
        outcomes = [Outcome(False, "no code in the response")] * total
    elif len(code) > max_code_chars:
        outcomes = [Outcome(False, f"code longer than {max_code_chars} characters")] * total
    else:
        outcomes = run_asserts(code, tests, setup, runner) if tests else []
        outcomes += [run_io(code, case, runner) for case in io_tests]
    passed = sum(o.passed for o in outcomes)
    rate = passed / total
    first = next(((i, o) for i, o in enumerate(outcomes) if not o.passed), None)
    info = f"test {first[0]}: {first[1].error}"[:200] if first else ""
    components = {
        "passed": float(passed),
        "total": float(total),
        "timeouts": float(sum(o.timeout for o in outcomes)),
        "uncheckable": float(sum(o.uncheckable for o in outcomes)),
    }
    return RewardResult(2 * rate - 1 if scale == "signed" else rate, components, info)
