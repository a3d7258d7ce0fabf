"""The ports and parameters of a Verilog module, read from its header with a small tokenizer.

Tokens: identifiers (escaped ones too), numbers (based literals such as `8'hff` are one token),
strings, compiler directives and single punctuation characters; whitespace, comments and
attributes `(* ... *)` are dropped. Reading the tokens rather than the text accepts any legal
spacing (`output wire[7:0]clock`, `input [3:0]a,b`), comments and attributes inside the header,
ANSI headers (`module m #(parameter W = 8) (input signed [W-1:0] x, output reg [W-1:0] q);`)
and non-ANSI ones (names in the header, `input`/`output` declarations in the body; a range given
only on the `reg`/`wire` declaration of a port counts). `input`s of functions and tasks are not
ports. Unsupported, each a ValueError naming the file: `inout` ports, unpacked-array ports,
interface ports, default port values, macros in a port range, a range using a name that is not
a parameter of the module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""
    (?P<skip>\s+|//[^\n]*|/\*.*?\*/|\(\*(?!\)).*?\*\))
    |(?P<string>"(?:\\.|[^"\\])*")
    |(?P<number>(?:\d[\d_]*\s*)?'[sS]?[bodhBODH]\s*[0-9a-fA-FxXzZ?_]+|'[01xXzZ]|\d[\d_]*(?:\.\d+)?(?:[eE][+-]?\d+)?)
    |(?P<word>[A-Za-z_][\w$]*|\\\S+|\$[A-Za-z_]\w*|`[A-Za-z_]\w*)
    |(?P<punct>\S)
    """,
    re.S | re.X,
)
DIRECTIONS = ("input", "output", "inout")
_KINDS = {"wire", "reg", "logic", "var", "tri", "bit", "wand", "wor", "uwire", "supply0", "supply1", "integer", "int"}
_INT32 = {"integer", "int"}
_PARAM_WORDS = {"parameter", "localparam"}
_PARAM_TYPES = {"integer", "int", "logic", "bit", "signed", "unsigned", "real", "time", "reg"}
_SKIP_BLOCKS = {"function": "endfunction", "task": "endtask"}


@dataclass(frozen=True)
class Port:
    """One port: name, direction ('input' | 'output' | 'inout'), packed range text ('' or e.g. '[W-1:0]', dims
    concatenated) and whether it is signed."""

    name: str
    dir: str
    range: str = ""
    signed: bool = False


def tokenize(source: str) -> list[str]:
    """The tokens of `source` (see the module docstring); comments, whitespace and attributes are dropped."""
    return [m.group() for m in _TOKEN.finditer(source) if m.lastgroup != "skip"]


def text(tokens: list[str]) -> str:
    """Tokens joined back into compact source text (a space only where two tokens would fuse)."""
    out = ""
    for tok in tokens:
        if out and (_wordy(out[-1]) and _wordy(tok[0]) or out[-1] in "+-*/<>=!&|^~" and tok[0] in "+-*/<>=!&|^~"):
            out += " "
        out += tok
    return out


def _wordy(ch: str) -> bool:
    return ch.isalnum() or ch in "_$'`\\"


def split_top(tokens: list[str], sep: str = ",") -> list[list[str]]:
    """Split tokens at `sep` outside (), [] and {}; an empty token list gives no parts."""
    parts: list[list[str]] = [[]]
    depth = 0
    for tok in tokens:
        if tok in "([{":
            depth += 1
        elif tok in ")]}":
            depth -= 1
        if tok == sep and depth == 0:
            parts.append([])
        else:
            parts[-1].append(tok)
    return parts if tokens else []


def _group(tokens: list[str], start: int, where: str) -> tuple[list[str], int]:
    """The tokens inside the bracket group opening at `start`, and the index after its close."""
    depth = 0
    for i in range(start, len(tokens)):
        depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(tokens[i], 0)
        if depth == 0:
            return tokens[start + 1 : i], i + 1
    raise ValueError(f"verilog: {where}: unbalanced brackets in a module header")


@dataclass(frozen=True)
class _Decl:
    """A declaration item: direction (or None), kind words, signed, packed dims text, name, what follows the name."""

    dir: str | None
    kinds: tuple[str, ...]
    signed: bool
    range: str
    name: str
    tail: list[str]


def _declaration(tokens: list[str], where: str) -> _Decl:
    """Read `[direction] [kinds] [signed] [packed dims] name [rest]`; the caller decides what a non-empty rest means."""
    i, direction, kinds, signed, dims = 0, None, [], False, []
    if i < len(tokens) and tokens[i] in DIRECTIONS:
        direction, i = tokens[i], i + 1
    while i < len(tokens) and (tokens[i] in _KINDS or tokens[i] in ("signed", "unsigned")):
        if tokens[i] == "signed":
            signed = True
        elif tokens[i] != "unsigned":
            kinds.append(tokens[i])
        i += 1
    while i < len(tokens) and tokens[i] == "[":
        inner, i = _group(tokens, i, where)
        if any(t.startswith("`") for t in inner):
            raise ValueError(f"verilog: {where}: the port declaration {text(tokens)!r} uses a macro in its range")
        dims.append(f"[{text(inner)}]")
    if i >= len(tokens) or not re.fullmatch(r"[A-Za-z_][\w$]*", tokens[i]) or tokens[i] in _KINDS:
        why = "interface ports and user-defined types are not supported"
        raise ValueError(f"verilog: {where}: cannot read the port declaration {text(tokens)!r} ({why})")
    if any(k in _INT32 for k in kinds) and not dims:
        dims, signed = ["[31:0]"], signed or "integer" in kinds or "int" in kinds
    return _Decl(direction, tuple(kinds), signed, "".join(dims), tokens[i], tokens[i + 1 :])


def _port(decl: _Decl, direction: str, where: str) -> Port:
    """The declared port; after its name only an initial value (`= ...`) may follow."""
    if decl.tail and decl.tail[0] != "=":
        why = (
            "unpacked arrays are not supported"
            if decl.tail[0] == "["
            else "interface ports and user-defined types are not supported"
        )
        raise ValueError(f"verilog: {where}: cannot read the port declaration of {decl.name!r} ({why})")
    return Port(decl.name, direction, decl.range, decl.signed)


def _statements(body: list[str]) -> list[list[str]]:
    """The body's `;`-separated statements, leaving out function and task declarations."""
    out, cur, skip_until = [], [], None
    for tok in body:
        if skip_until:
            skip_until = None if tok == skip_until else skip_until
            continue
        if tok in _SKIP_BLOCKS:
            out.append(cur)
            cur, skip_until = [], _SKIP_BLOCKS[tok]
            continue
        if tok == ";":
            out.append(cur)
            cur = []
        else:
            cur.append(tok)
    return [s for s in out if s]


def _parameters(items: list[list[str]]) -> list[tuple[str, str]]:
    """(name, value text) of parameter declarations; each item starts with its keyword or, in a header, a name."""
    params = []
    for item in items:
        i = 0
        while i < len(item) and (item[i] in _PARAM_WORDS or item[i] in _PARAM_TYPES):
            i += 1
        while i < len(item) and item[i] == "[":
            i = _group(item, i, "parameter")[1]
        for decl in split_top(item[i:]):
            if len(decl) >= 3 and decl[1] == "=" and re.fullmatch(r"[A-Za-z_]\w*", decl[0]):
                params.append((decl[0], text(decl[2:])))
    return params


def parse_ports(source: str, module: str, where: str) -> tuple[list[Port], list[tuple[str, str]]]:
    """Ports of `module` in header order and the parameters (name, default value text) their ranges need, in order."""
    tokens = tokenize(source)
    start = next((i for i in range(len(tokens) - 1) if tokens[i] in ("module", "macromodule") and tokens[i + 1] == module), None)
    if start is None:
        raise ValueError(f"verilog: {where}: no module {module!r}")
    i = start + 2
    header_params: list[list[str]] = []
    if tokens[i : i + 1] == ["#"]:
        inner, i = _group(tokens, i + 1, where)
        header_params = split_top(inner)
    port_items: list[list[str]] = []
    if tokens[i : i + 1] == ["("]:
        inner, i = _group(tokens, i, where)
        port_items = split_top(inner)
    end = tokens.index("endmodule", i) if "endmodule" in tokens[i:] else len(tokens)
    statements = _statements(tokens[i + 1 : end])
    params = _parameters(header_params + [s for s in statements if s[0] in _PARAM_WORDS])
    if port_items and any(item and item[0] in DIRECTIONS for item in port_items):
        ports = _ansi_ports(port_items, module, where)
    else:
        ports = _non_ansi_ports(port_items, statements, module, where)
    if not ports:
        raise ValueError(f"verilog: {where}: module {module!r} has no ports")
    for p in ports:
        if p.dir == "inout":
            raise ValueError(f"verilog: {where}: inout port {p.name!r} is not supported")
    return ports, _needed(ports, params, module, where)


def _ansi_ports(items: list[list[str]], module: str, where: str) -> list[Port]:
    """Ports of an ANSI header; an item without a direction, kind or range continues the previous declaration."""
    ports: list[Port] = []
    for item in items:
        decl = _declaration(item, where)
        if decl.dir is None and not ports:
            raise ValueError(f"verilog: {where}: port {text(item)!r} of {module!r} has no direction")
        if decl.dir is None and not decl.kinds and not decl.range and not decl.signed:
            last = ports[-1]
            _port(decl, last.dir, where)  # only an initial value may follow the name
            ports.append(Port(decl.name, last.dir, last.range, last.signed))
        else:
            ports.append(_port(decl, decl.dir or ports[-1].dir, where))
    return ports


def _non_ansi_ports(items: list[list[str]], statements: list[list[str]], module: str, where: str) -> list[Port]:
    """Ports of a non-ANSI header: names in the header, directions (and ranges) from the body's declarations."""
    declared: dict[str, Port] = {}
    nets: dict[str, tuple[str, bool]] = {}  # name: (range, signed) of reg/wire declarations with a range
    for s in statements:
        if s[0] not in DIRECTIONS and s[0] not in _KINDS:
            continue
        first, *more = split_top(s)
        if s[0] not in DIRECTIONS:
            try:
                decl = _declaration(first, where)
            except ValueError:  # not a net or variable a port could be
                continue
            if decl.range or decl.signed:
                nets.update({n: (decl.range, decl.signed) for n in [decl.name, *(m[0] for m in more if m)]})
            continue
        decl = _declaration(first, where)
        _port(decl, decl.dir, where)  # only an initial value may follow the name
        for extra in more:
            if not extra or len(extra) > 1 and extra[1] != "=":
                raise ValueError(f"verilog: {where}: cannot read the port declaration {text(s)!r}")
        for n in [decl.name, *(m[0] for m in more)]:
            declared[n] = Port(n, decl.dir, decl.range, decl.signed)
    ports = []
    for item in items:
        name = text(item)
        if name not in declared:
            raise ValueError(f"verilog: {where}: port {name!r} of {module!r} has no input/output declaration")
        p = declared[name]
        if not p.range and name in nets:
            p = Port(name, p.dir, *nets[name])
        ports.append(p)
    return ports


def _identifiers(expr: str) -> list[str]:
    """Identifiers of a constant expression, leaving out numbers and system functions ($clog2)."""
    return [t for t in tokenize(expr) if re.fullmatch(r"[A-Za-z_]\w*", t)]


def _needed(ports: list[Port], params: list[tuple[str, str]], module: str, where: str) -> list[tuple[str, str]]:
    """The parameters the port ranges use, directly or through other parameters, in declaration order."""
    known = dict(params)
    needed: set[str] = set()
    todo = [w for p in ports for w in _identifiers(p.range)]
    while todo:
        word = todo.pop()
        if word in needed:
            continue
        if word not in known:
            raise ValueError(f"verilog: {where}: a port range of {module!r} uses {word!r}, which is not a parameter")
        needed.add(word)
        todo += _identifiers(known[word])
    return [(n, e) for n, e in params if n in needed]
