"""The harness's value encoding (`rewards/code/harness.py`) and the reward's strict reading of its records."""

from __future__ import annotations

import json
import math
import re
from collections import Counter, OrderedDict, namedtuple

import pytest

from rewards.code import harness
from rewards.code.checks import LeafResult
from rewards.code.records import decode, parse

TAG = "t" * 32


class LyingInt(int):
    __eq__ = lambda self, other: True  # noqa: E731
    __hash__ = int.__hash__
    __index__ = __int__ = lambda self: 3  # noqa: E731
    __repr__ = __str__ = __format__ = lambda self, *a: "3"  # noqa: E731


class LyingStr(str):
    __str__ = __repr__ = lambda self: "forged"  # noqa: E731
    __eq__ = lambda self, other: True  # noqa: E731
    __hash__ = str.__hash__


class LyingList(list):
    __iter__ = lambda self: iter([3])  # noqa: E731
    __eq__ = lambda self, other: True  # noqa: E731


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (None, ["none"]),
        (True, ["bool", True]),
        (-255, ["int", "-ff"]),
        pytest.param(2**20000, ["int", "1" + "0" * 5000], id="int past the decimal digit limit"),
        (-0.0, ["float", "-0.0"]),
        (math.inf, ["float", "inf"]),
        (1 + 2j, ["complex", "1.0", "2.0"]),
        ("é\n", ["str", "é\n"]),
        (b"\x00\xff", ["bytes", "00ff"]),
        ([1, (2,)], ["list", [["int", "1"], ["tuple", [["int", "2"]]]]]),
        ({"a": frozenset()}, ["dict", [[["str", "a"], ["frozenset", []]]]]),
        (LyingInt(0), ["int", "0"]),
        (LyingStr("x"), ["str", "x"]),
        (LyingList([1]), ["list", [["int", "1"]]]),
        (OrderedDict(a=1), ["dict", [[["str", "a"], ["int", "1"]]]]),
        (Counter("aa"), ["dict", [[["str", "a"], ["int", "2"]]]]),
        (namedtuple("P", "x")(1), ["tuple", [["int", "1"]]]),
    ],
)
def test_plain_values_and_subclasses_encode_as_their_base_type(value, encoded):
    assert harness.encode(value) == encoded


@pytest.mark.parametrize(("value", "message"), [(object(), "type object is not"), (len, "builtin_function_or_method")])
def test_other_values_are_not_plain(value, message):
    with pytest.raises(harness.NotPlain, match=message):
        harness.encode(value)


def test_cycles_and_deep_nesting_are_not_plain():
    cycle: list = []
    cycle.append(cycle)
    with pytest.raises(harness.NotPlain, match="deeper than"):
        harness.encode(cycle)
    assert len(harness.encode(list(range(7999)))[1]) == 7999
    with pytest.raises(harness.NotPlain, match="more than 8000 parts"):
        harness.encode({i: i for i in range(4000)})


@pytest.mark.parametrize(
    ("node", "value"),
    [
        (["int", "-ff"], -255),
        (["float", "nan"], None),
        (["float", "-0.0"], -0.0),
        (["dict", [[["tuple", [["int", "1"]]], ["set", [["str", "a"]]]]]], {(1,): {"a"}}),
        (["bytes", "00ff"], b"\x00\xff"),
    ],
)
def test_decode_gives_builtin_values(node, value):
    decoded = decode(node)
    if value is None:
        assert math.isnan(decoded)
    else:
        assert decoded == value and type(decoded) is type(value)
        assert str(decoded) == str(value)


def _lines(*records: object) -> bytes:
    return "".join(f"{TAG} {r if isinstance(r, str) else json.dumps(r)}\n" for r in records).encode()


def test_parse_reads_the_harness_protocol_and_ignores_untagged_lines():
    out = b"hello\n" + _lines({"leaf": 1, "value": ["int", "7"]}, {"phase": "setup"}, {"leaf": 0, "value": ["none"]}) + \
        _lines({"leaf": 2, "error": "ValueError: x", "timeout": False})  # fmt: skip
    report = parse(out + f"other {TAG}\n".encode(), TAG, ["program", "setup", "program"])
    assert report.protocol == "" and report.setup_done
    assert report.results == {0: LeafResult(None), 1: LeafResult(7), 2: LeafResult(None, "ValueError: x", False)}


def test_a_failed_stage_and_a_cut_off_last_line():
    report = parse(_lines({"phase": "setup"}, {"phase": "program", "error": "SyntaxError", "timeout": False}), TAG, ["program"])
    assert report.stage_error == LeafResult(None, "solution: SyntaxError", False) and report.results == {}
    report = parse(_lines({"phase": "setup"}) + f'{TAG} {{"leaf": 0, "val'.encode(), TAG, ["program"])
    assert report.protocol == "" and report.results == {}


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"leaf": 0, "value": ["int", "1"]}'], "wrong phase"),
        (['{"phase": "setup"}', '{"leaf": 0, "value": ["int", "1"]}', '{"leaf": 0, "value": ["int", "1"]}'], "second record"),
        (['{"phase": "setup"}', '{"phase": "setup"}'], "second end"),
        (['{"phase": "program", "error": "x", "timeout": false}'], "before the setup ended"),
        (['{"phase": "setup"}', '{"leaf": 0, "passed": 333}'], "not a leaf record"),
        (['{"phase": "setup"}', '{"leaf": 0, "value": ["bool", 333]}'], "expected one JSON boolean"),
        (['{"phase": "setup"}', '{"leaf": true, "value": ["none"]}'], "unknown leaf"),
        (['{"phase": "setup"}', '{"leaf": 5, "value": ["none"]}'], "unknown leaf"),
        (['{"phase": "setup"}', '{"leaf": 0, "value": ["int", "zz"]}'], "bad int value"),
        (['{"phase": "setup"}', '{"leaf": 0, "value": ["set", [["list", []]]]}'], "bad set value"),
        (['{"phase": "setup"}', '{"leaf": 0, "value": ["object", "x"]}'], "not a tagged value"),
        (['{"phase": "setup"}', '{"leaf": 0, "value": ["dict", [[["none"]]]]}'], "not a .key, value. pair"),
        (['{"phase": "setup"}', '{"leaf": 0, "value": ' + '["list", [' * 60 + "]]" * 60 + "}"], "nested deeper"),
        (['{"phase": "setup"}', '{"leaf": 0, "value": ' + "[" * 100000 + "]" * 100000 + "}"], "recursion|long"),
        (['{"phase": "setup"}', "{not json"], "Expecting"),
        (['{"phase": "setup"}', "[1, 2]"], "not a JSON object"),
        (['{"phase": "setup"}', '{"leaf": 0, "error": "", "timeout": false}'], "not a leaf record"),
        (['{"phase": "setup", "error": "x", "timeout": false}', '{"phase": "setup"}'], "after a failed stage"),
    ],
)
def test_records_the_harness_never_writes_fail_the_run_without_raising(lines, message):
    report = parse(_lines(*lines), TAG, ["program"])
    assert report.protocol.startswith("harness output line ")
    assert re.search(message, report.protocol), report.protocol
