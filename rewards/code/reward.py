"""The `code` reward: run model-written Python against a task's tests in the bubblewrap sandbox.

Reference fields: `test_list` (assert statements, MBPP style), optional `test_setup_code` (run
once before them) and optional `io_tests` (a list of {"input", "output"}: the program reads
stdin and must print the output; trailing whitespace is ignored). All assert tests share one
sandboxed run of `harness.py`; each stdin/stdout case is a run of its own. Programs run on this
Python's base interpreter with the standard library only (`-I -S`: no site-packages, which
also halves start-up).

Score: passed / total, or 2 * passed / total - 1 with `scale: signed` (GPPO's code recipe).
Params: timeout_s (per test), limits (SandboxLimits fields but wall_s / cpu_s, which follow
from timeout_s), max_code_chars, tmp_root (where run directories go).
Components: passed, total, timeouts (tests that ended on a time limit, or never ran because
the run hit one). `info` names the first failure. A test counts as passed only when the
harness reports it on a per-run tag the program never sees on its files, argv or environment;
code that digs through the harness's own frames could still forge it (no Python-level
isolation can stop that), which is why the sandbox, not the harness, holds the security line.
"""

from __future__ import annotations

import json
import math
import secrets
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from rewards.code.extract import extract_code
from rlpost import sandbox
from rlpost.rewards import RewardResult, Sample, register_reward

HARNESS = (Path(__file__).parent / "harness.py").read_text()
SCALES = ("rate", "signed")
DEFAULT_LIMITS = sandbox.SandboxLimits(memory_mb=1024, max_procs=16, file_size_mb=8, output_bytes=256 << 10)
STARTUP_S = 2.0


@dataclass
class Outcome:
    """One test's result; `error` says briefly why it failed."""

    passed: bool
    error: str = ""
    timeout: bool = False


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
    """One sandboxed harness run for all assert tests; tests without a result take the run's reason."""
    tag = secrets.token_hex(16)
    spec = {"tag": tag, "timeout_s": runner.timeout_s, "setup": setup, "tests": tests}
    files = {"solution.py": code, "harness.py": HARNESS, "tests.json": json.dumps(spec)}
    argv = [sandbox.python_executable(), "-I", "-S", "-B", "harness.py"]
    result = sandbox.run(argv, files, config=runner.config(runner.timeout_s * (len(tests) + 1)))
    outcomes: dict[int, Outcome] = {}
    for line in result.stdout.decode(errors="replace").splitlines():
        if not line.startswith(tag + " "):
            continue
        record = json.loads(line[len(tag) + 1 :])
        if record.get("stage") == "solution":
            failed = Outcome(False, f"solution: {record['error']}", bool(record.get("timeout")))
            return [failed] * len(tests)
        outcomes[record["test"]] = Outcome(record["passed"], record.get("error", ""), bool(record.get("timeout")))
    missing = _failed_run(result)
    return [outcomes.get(i) or missing for i in range(len(tests))]


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
    components = {"passed": float(passed), "total": float(total), "timeouts": float(sum(o.timeout for o in outcomes))}
    return RewardResult(2 * rate - 1 if scale == "signed" else rate, components, info)
