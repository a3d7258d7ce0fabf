"""Runs inside the sandbox: execute solution.py, then each assert test, one tagged JSON line per result.

Reads and deletes tests.json ({"tag", "timeout_s", "setup", "tests"}) before the solution runs,
and writes results to a private duplicate of stdout, so the solution's own prints and a closed
or replaced `sys.stdout` do not mix with them. Standard library only.
"""

import json
import os
import signal


class TestTimeout(BaseException):
    """Raised by the per-test alarm; a BaseException so that `except Exception` in the solution does not swallow it."""


def _on_alarm(signum, frame):
    raise TestTimeout()


def _describe(exc: BaseException) -> str:
    try:
        text = str(exc)
    except BaseException:  # noqa: BLE001 - a hostile __str__ must not break the report
        text = ""
    name = type(exc).__name__
    return f"{name}: {text[:120]}" if text else name


def _run(source: str, filename: str, namespace: dict, timeout_s: float) -> None:
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        exec(compile(source, filename, "exec"), namespace)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def main() -> None:
    with open("tests.json") as f:
        spec = json.load(f)
    os.remove("tests.json")
    with open("solution.py") as f:
        solution = f.read()
    out = os.fdopen(os.dup(1), "w")
    tag = spec.pop("tag")

    def report(**record) -> None:
        out.write(f"{tag} {json.dumps(record)}\n")
        out.flush()

    signal.signal(signal.SIGALRM, _on_alarm)
    namespace = {"__name__": "solution"}
    try:
        _run(solution, "solution.py", namespace, spec["timeout_s"])
        _run(spec["setup"], "setup", namespace, spec["timeout_s"])
    except TestTimeout:
        report(stage="solution", error="timeout", timeout=True)
        return
    except BaseException as exc:  # noqa: BLE001 - any failure of the solution is its result
        report(stage="solution", error=_describe(exc))
        return
    for i, test in enumerate(spec["tests"]):
        try:
            _run(test, f"test_{i}", namespace, spec["timeout_s"])
            report(test=i, passed=True)
        except TestTimeout:
            report(test=i, passed=False, error="timeout", timeout=True)
        except BaseException as exc:  # noqa: BLE001
            report(test=i, passed=False, error=_describe(exc))


if __name__ == "__main__":
    main()
