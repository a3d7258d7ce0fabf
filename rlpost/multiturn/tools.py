"""Tool calls in the policy's turns, the built-in tools and the `tools` interaction.

A tool call is written as Qwen2/2.5/3 and Hermes chat templates write it (format `hermes`):
`<tool_call>{"name": "calculator", "arguments": {"expression": "347*29"}}</tool_call>` (whitespace
around the JSON allowed; `arguments` may also be a JSON string of the object), or compactly as a
tag per tool (format `tag`): `<calculator>347*29</calculator>`, the body being the tool's first
required argument. The `tools`
interaction runs every call of a turn (at most `max_calls` of them) and answers with their outputs,
one per line, as a `tool` observation; a turn without a call ends the episode. A malformed call, an
unknown tool, bad arguments or a failing tool give an `error: ...` line the policy reads: nothing a
policy writes can stop the run.

Built-in tools: `calculator` (arithmetic on numbers, evaluated here on the parsed expression tree,
with bounded sizes) and `python` (a program run in the bubblewrap sandbox, standard library only;
its stdout and stderr come back, cut to `PYTHON_OUTPUT_CHARS`). Register more with `register_tool`.
"""

from __future__ import annotations

import ast
import json
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rlpost import sandbox
from rlpost.multiturn.api import Finish, Observation, Reply, register_interaction
from rlpost.plugins import register_once

CALL = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)
OPEN_TAG = "<tool_call>"
MAX_EXPRESSION_CHARS = 200
MAX_RESULT_DIGITS = 100
MAX_EXPONENT = 64


@dataclass(frozen=True)
class Tool:
    """`run(**arguments) -> str`; `parameters` is the JSON schema of the arguments object (for chat templates)."""

    name: str
    description: str
    parameters: dict[str, Any]
    run: Callable[..., str]

    def schema(self) -> dict[str, Any]:
        function = {"name": self.name, "description": self.description, "parameters": self.parameters}
        return {"type": "function", "function": function}


TOOLS: dict[str, Tool] = {}


def register_tool(tool: Tool) -> Tool:
    return register_once(TOOLS, tool.name, tool, "tool")


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


def parse_tool_calls(text: str, tools: dict[str, Tool] | None = None) -> list[ToolCall | str]:  # noqa: ARG001
    """The `hermes` format: every `<tool_call>{json}</tool_call>` of a turn, in order: a `ToolCall`, or an error
    message for one that is malformed."""
    out: list[ToolCall | str] = []
    for match in CALL.finditer(text):
        out.append(_parse_call(match.group(1)))
    if text.count(OPEN_TAG) > len(out):
        out.append("error: a <tool_call> without its closing </tool_call>")
    return out


def _parse_call(body: str) -> ToolCall | str:
    try:
        call = json.loads(body)
    except ValueError:
        return "error: the tool call is not valid JSON"
    if not isinstance(call, dict) or not isinstance(call.get("name"), str):
        return 'error: a tool call needs {"name": ..., "arguments": {...}}'
    args = call.get("arguments", {})
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except ValueError:
            return "error: the tool call's arguments are not valid JSON"
    if not isinstance(args, dict):
        return "error: the tool call's arguments must be an object"
    return ToolCall(call["name"], args)


def parse_tag_calls(text: str, tools: dict[str, Tool]) -> list[ToolCall | str]:
    """The `tag` format: `<calculator>347*29</calculator>`, a tag per offered tool whose body is the tool's first
    required argument (compact, for small models and raw prompts); calls in the order they appear."""
    found: list[tuple[int, ToolCall | str]] = []
    for name, tool in tools.items():
        required = tool.parameters.get("required") or list(tool.parameters.get("properties", {}))
        if not required:
            continue
        pattern = re.compile(rf"<{re.escape(name)}>(.*?)</{re.escape(name)}>", re.DOTALL)
        matches = list(pattern.finditer(text))
        found += [(m.start(), ToolCall(name, {required[0]: m.group(1)})) for m in matches]
        opened = [m.start() for m in re.finditer(re.escape(f"<{name}>"), text)]
        if len(opened) > len(matches):
            found.append((opened[-1], f"error: a <{name}> without its closing </{name}>"))
    return [call for _, call in sorted(found, key=lambda item: item[0])]


CALL_FORMATS: dict[str, Callable[[str, dict[str, Tool]], list[ToolCall | str]]] = {
    "hermes": parse_tool_calls,
    "tag": parse_tag_calls,
}


# ----- calculator --------------------------------------------------------------------------------
_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}  # fmt: skip
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}


def _too_big(value: float | int) -> bool:
    if isinstance(value, int):
        return value.bit_length() > MAX_RESULT_DIGITS * 10 // 3
    return not math.isfinite(value) or abs(value) >= 10.0**MAX_RESULT_DIGITS


def _value(node: ast.AST) -> float | int:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_value(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Pow) and (
            abs(right) > MAX_EXPONENT or (abs(left) > 1 and right * math.log10(abs(left)) > MAX_RESULT_DIGITS)
        ):
            raise ValueError(f"power beyond {MAX_RESULT_DIGITS} digits (or an exponent beyond {MAX_EXPONENT})")
        result = _BINARY[type(node.op)](left, right)
        if isinstance(result, complex) or _too_big(result):
            raise ValueError(f"result beyond {MAX_RESULT_DIGITS} digits")
        return result
    raise ValueError("only numbers, + - * / // % ** and parentheses are allowed")


def calculate(expression: str) -> str:
    """The value of an arithmetic expression, as text (integers exact, floats by repr)."""
    if not isinstance(expression, str) or len(expression) > MAX_EXPRESSION_CHARS:
        raise ValueError(f"expression must be a string of at most {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        raise ValueError("not an arithmetic expression") from None
    try:
        value = _value(tree.body)
    except ZeroDivisionError:
        raise ValueError("division by zero") from None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


register_tool(Tool(
    "calculator", "Evaluate an arithmetic expression (numbers, + - * / // % ** and parentheses).",
    {"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]}, calculate,
))  # fmt: skip


# ----- python ------------------------------------------------------------------------------------
PYTHON_LIMITS = sandbox.SandboxLimits(wall_s=5.0, cpu_s=5, memory_mb=1024, max_procs=16, file_size_mb=4, output_bytes=64 << 10)


PYTHON_OUTPUT_CHARS = 2000


def run_python(code: str) -> str:
    """stdout then stderr of `code` run in the sandbox (standard library only, `PYTHON_LIMITS`), cut to
    `PYTHON_OUTPUT_CHARS` characters."""
    if not isinstance(code, str):
        raise ValueError("code must be a string")
    config = sandbox.SandboxConfig(limits=PYTHON_LIMITS, ro_binds=sandbox.python_binds())
    result = sandbox.run([sandbox.python_executable(), "-I", "-S", "-B", "main.py"], {"main.py": code}, b"", config)
    text = (result.stdout + result.stderr).decode("utf-8", errors="replace")
    if result.reason != "ok":
        text += f"\n[{result.reason}]"
    if len(text) > PYTHON_OUTPUT_CHARS:
        text = text[:PYTHON_OUTPUT_CHARS] + f"\n[cut at {PYTHON_OUTPUT_CHARS} characters]"
    return text


register_tool(Tool(
    "python", "Run a Python program (standard library only) and return what it prints.",
    {"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]}, run_python,
))  # fmt: skip


# ----- the interaction ---------------------------------------------------------------------------
class ToolSession:
    """Answers a turn's tool calls with their outputs; a turn without one finishes the episode."""

    def __init__(self, tools: dict[str, Tool], max_calls: int, call_format: str = "hermes"):
        self.tools, self.max_calls, self.parse = tools, max_calls, CALL_FORMATS[call_format]

    def reply(self, turn: str) -> Reply:
        calls = self.parse(turn, self.tools)
        if not calls:
            return Finish()
        lines = [self.run(c) for c in calls[: self.max_calls]]
        if len(calls) > self.max_calls:
            lines.append(f"error: at most {self.max_calls} tool call(s) per turn; {len(calls) - self.max_calls} not run")
        return Observation("\n".join(lines), "tool")

    def run(self, call: ToolCall | str) -> str:
        if isinstance(call, str):
            return call
        tool = self.tools.get(call.name)
        if tool is None:
            return f"error: unknown tool {call.name[:40]!r}; available: {', '.join(sorted(self.tools))}"
        allowed = tool.parameters.get("properties", {})
        required = tool.parameters.get("required", [])
        if set(call.arguments) - set(allowed) or set(required) - set(call.arguments):
            return f"error: {tool.name} takes the arguments {sorted(allowed)} ({', '.join(required)} required)"
        try:
            return tool.run(**call.arguments)
        except Exception as e:  # noqa: BLE001 - a failing tool is an observation, not a crash
            return f"error: {e}"[:300]


@register_interaction("tools")
def tools(
    row: dict[str, Any], tools: list[str] = ("calculator",), max_calls: int = 1, format: str = "hermes"  # noqa: A002, ARG001
) -> ToolSession:
    """The named tools (default: the calculator), at most `max_calls` calls run per turn, written in `format`
    (`hermes`: the chat templates' `<tool_call>{json}</tool_call>`; `tag`: `<calculator>347*29</calculator>`)."""
    unknown = [t for t in tools if t not in TOOLS]
    if unknown:
        raise ValueError(f"unknown tool(s) {unknown}; registered: {sorted(TOOLS)}")
    if format not in CALL_FORMATS:
        raise ValueError(f"unknown tool-call format {format!r}; expected one of {sorted(CALL_FORMATS)}")
    return ToolSession({t: TOOLS[t] for t in tools}, max_calls, format)


def _schemas(tools: list[str] = ("calculator",), max_calls: int = 1, format: str = "hermes") -> list[dict[str, Any]]:  # noqa: A002, ARG001
    """What a chat template shows the model: the schemas of the tools the interaction is given."""
    return [TOOLS[t].schema() for t in tools if t in TOOLS]


tools.tool_schemas = _schemas
