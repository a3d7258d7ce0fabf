"""Read the harness's output strictly: one record per leaf, decoded into genuine builtin values.

Input: the sandbox's stdout (bytes), the run's tag and the leaves' phases. Lines not starting
with the tag are the program's and are ignored. The protocol the harness follows: the setup
leaves' records, then `{"phase": "setup"}` (or a setup failure), then either a program failure
or the program leaves' records. Anything else — a line that is not a JSON object of the
expected shape, an unknown or duplicate leaf, a record in the wrong phase, a value nested too
deep, of an unknown type or too large — can only come from the program and fails the whole
run (`Report.protocol`); it never raises.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rewards.code.checks import LeafResult

MAX_LINE_CHARS = 100_000  # bounds a value to ~8,000 nodes, so the verifier's work on it (even hashing
# crafted colliding ints into a set) stays small
MAX_DEPTH = 48
STAGE_NAMES = {"setup": "setup", "program": "solution"}


class Iterated:
    """A lazy iterable the program returned (a `map` or `filter` object, a generator, a range, a dict view),
    as the items it yielded: iterable (so `list()`, `sorted()`, `set()` read it), without a length, equal
    to nothing but itself, as such an object compares with a list."""

    __slots__ = ("items",)

    def __init__(self, items: tuple):
        self.items = items

    def __iter__(self):
        return iter(self.items)

    def __repr__(self) -> str:
        return f"<iterator of {len(self.items)} items>"


class Malformed(Exception):
    """A record that the harness would never write; `args[0]` says what is wrong."""


@dataclass
class Report:
    """What one run reported: per-leaf results, and why leaves are missing (stage failure or protocol)."""

    results: dict[int, LeafResult] = field(default_factory=dict)
    setup_done: bool = False
    stage_error: LeafResult | None = None  # the setup or the program failed; its leaves take this
    stage: str = ""
    protocol: str = ""


def _text(payload: list, size: int) -> list:
    if len(payload) != size or not all(isinstance(p, str) for p in payload):
        raise Malformed(f"expected {size} string(s)")
    return payload


def _items(payload: list, depth: int) -> list:
    if len(payload) != 1 or not isinstance(payload[0], list):
        raise Malformed("expected one list of items")
    return [decode(item, depth + 1) for item in payload[0]]


def _pairs(payload: list, depth: int) -> dict:
    if len(payload) != 1 or not isinstance(payload[0], list):
        raise Malformed("expected one list of pairs")
    if not all(isinstance(p, list) and len(p) == 2 for p in payload[0]):
        raise Malformed("a dict item is not a [key, value] pair")
    return {decode(k, depth + 1): decode(v, depth + 1) for k, v in payload[0]}


def _none(payload: list, depth: int) -> None:
    if payload:
        raise Malformed("none takes no payload")


def _bool(payload: list, depth: int) -> bool:
    if len(payload) != 1 or not isinstance(payload[0], bool):
        raise Malformed("expected one JSON boolean")
    return payload[0]


DECODERS: dict[str, Callable[[list, int], Any]] = {
    "none": _none,
    "bool": _bool,
    "int": lambda p, d: int(_text(p, 1)[0], 16),
    "float": lambda p, d: float(_text(p, 1)[0]),
    "complex": lambda p, d: complex(*map(float, _text(p, 2))),
    "str": lambda p, d: _text(p, 1)[0],
    "bytes": lambda p, d: bytes.fromhex(_text(p, 1)[0]),
    "list": _items,
    "tuple": lambda p, d: tuple(_items(p, d)),
    "set": lambda p, d: set(_items(p, d)),
    "frozenset": lambda p, d: frozenset(_items(p, d)),
    "iterator": lambda p, d: Iterated(tuple(_items(p, d))),
    "dict": _pairs,
}


def decode(node: Any, depth: int = 0) -> Any:
    """The builtin value a tagged JSON node stands for; raises Malformed for anything else."""
    if depth > MAX_DEPTH:
        raise Malformed(f"value nested deeper than {MAX_DEPTH}")
    if not isinstance(node, list) or not node or not isinstance(node[0], str) or node[0] not in DECODERS:
        raise Malformed("not a tagged value")
    try:
        return DECODERS[node[0]](node[1:], depth)
    except (ValueError, TypeError, OverflowError) as e:
        raise Malformed(f"bad {node[0]} value: {e}") from None


def _leaf_result(record: dict) -> LeafResult:
    if set(record) == {"leaf", "value"}:
        return LeafResult(decode(record["value"]))
    if set(record) == {"leaf", "error", "timeout"} and isinstance(record["error"], str) and record["error"]:
        if isinstance(record["timeout"], bool):
            return LeafResult(None, record["error"][:160], record["timeout"])
    raise Malformed("not a leaf record")


def _stage(record: dict) -> LeafResult | None:
    if record == {"phase": "setup"}:
        return None
    if set(record) == {"phase", "error", "timeout"} and record["phase"] in ("setup", "program"):
        if isinstance(record["error"], str) and isinstance(record["timeout"], bool):
            return LeafResult(None, f"{STAGE_NAMES[record['phase']]}: {record['error'][:160]}", record["timeout"])
    raise Malformed("not a phase record")


def _take(report: Report, record: Any, phases: list[str]) -> None:
    if not isinstance(record, dict):
        raise Malformed("not a JSON object")
    if report.stage_error is not None:
        raise Malformed("record after a failed stage")
    if "leaf" in record:
        i = record["leaf"]
        if type(i) is not int or not 0 <= i < len(phases):
            raise Malformed("unknown leaf")
        if i in report.results:
            raise Malformed(f"second record for leaf {i}")
        if (phases[i] == "setup") == report.setup_done:
            raise Malformed(f"record for leaf {i} in the wrong phase")
        report.results[i] = _leaf_result(record)
        return
    failure = _stage(record)
    if record["phase"] == "setup" and report.setup_done:
        raise Malformed("second end of the setup")
    if record["phase"] == "program" and not report.setup_done:
        raise Malformed("program failure before the setup ended")
    report.setup_done = report.setup_done or failure is None
    report.stage_error, report.stage = failure, record["phase"]


def parse(stdout: bytes, tag: str, phases: list[str]) -> Report:
    """The run's report; a record the harness would not write sets `protocol` and stops reading."""
    report = Report()
    text = stdout.decode(errors="replace")
    lines = text.split("\n")[:-1]  # a last line without its newline was cut off with the run
    for number, line in enumerate(lines, start=1):
        if not line.startswith(tag + " "):
            continue
        try:
            if len(line) > MAX_LINE_CHARS:
                raise Malformed(f"record longer than {MAX_LINE_CHARS} characters")
            _take(report, json.loads(line[len(tag) + 1 :]), phases)
        except (Malformed, ValueError, RecursionError) as e:
            report.protocol = f"harness output line {number}: {e}"[:160]
            return report
    return report
