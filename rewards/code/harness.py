"""Runs inside the sandbox: run the setup code, then the program, and report each leaf expression's value.

Reads its spec from stdin ({"tag", "timeout_s", "setup", "leaves": [{"source", "phase"}]}),
runs the setup code, evaluates the "setup" leaves, writes the end-of-setup record, and only
then runs solution.py and evaluates the "program" leaves, each under a per-leaf alarm. Every
record is one line `TAG JSON` on a private duplicate of stdout; the program's own stdout goes
to stderr. A value is reported as tagged JSON of plain builtins only (see `encode`).

Threat model: the program shares this interpreter, so it can read and rewrite anything here
(frames, gc, the tag, this module, builtins, the output descriptor) and may print any record
it likes. That is allowed for by construction, not prevented: this process holds no
expected value and decides no verdict. All it can report is a plain value per leaf, which is
exactly what an honest program choosing its return values could produce. Records of the setup
leaves are written before the program starts, so it cannot change them; a forged duplicate
of one makes the reward fail the run. Standard library only.
"""

import json
import os
import signal
import sys
from collections.abc import Iterator

LAZY = (Iterator, range, type({}.keys()), type({}.values()), type({}.items()))  # read item by item, sent as "iterator"

MAX_DEPTH = 40
MAX_VALUE_CHARS = 80_000
MAX_NODES = 8_000


class LeafTimeout(BaseException):
    """Raised by the per-step alarm; a BaseException so that `except Exception` in the program does not swallow it."""


class NotPlain(Exception):
    """The value is not made of plain builtins (or is too deep); the message says why."""


def _on_alarm(signum, frame):
    raise LeafTimeout()


def _items(value, depth, budget):
    return [encode(item, depth + 1, budget) for item in value]


def encode(value, depth=0, budget=None):
    """Tagged JSON of a plain value: ["none"], ["bool", b], ["int", hex], ["float", repr], ["complex", re, im],
    ["str", s], ["bytes", hex], ["list"|"tuple"|"set"|"frozenset"|"iterator", items], ["dict", [[k, v], ...]]
    (an iterator, range or dict view as the items it yields, each counted against the budget).
    A subclass of one of these is read through its base type's own methods; anything else, or more than
    MAX_NODES parts, raises NotPlain."""
    budget = [MAX_NODES] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0:
        raise NotPlain(f"value of more than {MAX_NODES} parts")
    if depth > MAX_DEPTH:
        raise NotPlain(f"value nested deeper than {MAX_DEPTH}")
    if value is None:
        return ["none"]
    if isinstance(value, bool):
        return ["bool", value is True]
    if isinstance(value, int):
        return ["int", int.__format__(value, "x")]
    if isinstance(value, float):
        return ["float", float.__repr__(value)]
    if isinstance(value, complex):
        return ["complex", float.__repr__(complex.real.__get__(value)), float.__repr__(complex.imag.__get__(value))]
    if isinstance(value, str):
        return ["str", str.__str__(value)]
    if isinstance(value, bytes):
        return ["bytes", bytes.hex(value)]
    if isinstance(value, dict):
        return ["dict", [[encode(k, depth + 1, budget), encode(v, depth + 1, budget)] for k, v in dict.items(value)]]
    for base in (list, tuple, set, frozenset):
        if isinstance(value, base):
            return [base.__name__, _items(base.__iter__(value), depth, budget)]
    if isinstance(value, LAZY):
        return ["iterator", _items(value, depth, budget)]
    raise NotPlain(f"value of type {type(value).__name__} is not a plain value")


def describe(exc):
    try:
        text = str(exc)
    except BaseException:  # noqa: BLE001 - a hostile __str__ must not break the report
        text = ""
    name = type(exc).__name__
    return f"{name}: {text[:120]}" if text else name


def timed(fn, timeout_s):
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def main():
    spec = json.loads(sys.stdin.read())
    out = os.dup(1)
    os.dup2(2, 1)
    tag, timeout_s, pid = spec["tag"], spec["timeout_s"], os.getpid()

    def report(**record):
        if os.getpid() != pid:  # a child the program forked went on into the harness: it reports nothing
            os._exit(0)
        data = f"{tag} {json.dumps(record)}\n".encode()
        while data:
            data = data[os.write(out, data) :]

    def run(source, filename):
        exec(compile(source, filename, "exec"), namespace)

    def evaluate(i, source):
        try:
            encoded = timed(lambda: encode(eval(compile(source, f"leaf_{i}", "eval"), namespace)), timeout_s)
            if len(json.dumps(encoded)) > MAX_VALUE_CHARS:
                raise NotPlain(f"value longer than {MAX_VALUE_CHARS} characters encoded")
            report(leaf=i, value=encoded)
        except LeafTimeout:
            report(leaf=i, error="timeout", timeout=True)
        except BaseException as exc:  # noqa: BLE001 - any failure of the leaf is its result
            report(leaf=i, error=describe(exc), timeout=False)

    signal.signal(signal.SIGALRM, _on_alarm)
    namespace = {"__name__": "solution"}
    leaves = list(enumerate(leaf["source"] for leaf in spec["leaves"]))
    phases = [leaf["phase"] for leaf in spec["leaves"]]
    for stage, source, filename in (("setup", spec["setup"], "setup"), ("program", None, "solution.py")):
        try:
            if source is None:
                with open(filename) as f:
                    source = f.read()
            timed(lambda s=source, n=filename: run(s, n), timeout_s)
        except LeafTimeout:
            report(phase=stage, error="timeout", timeout=True)
            return
        except BaseException as exc:  # noqa: BLE001 - any failure of the code is its result
            report(phase=stage, error=describe(exc), timeout=False)
            return
        for i, leaf_source in leaves:
            if phases[i] == stage:
                evaluate(i, leaf_source)
        if stage == "setup":
            report(phase="setup")


if __name__ == "__main__":
    main()
