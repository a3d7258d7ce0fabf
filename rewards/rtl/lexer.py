"""A small Verilog / SystemVerilog lexer: source text -> tokens with kind, text, line and offset.

Kinds: `comment` (line and block), `string`, `ident` (plain), `escaped` (`\\foo ` with the
backslash and the ending whitespace stripped from `name`), `sysid` (`$name`), `directive`
(`` `name ``), `backtick` (a backtick not starting a name: `` `` ``, `` `" ``, `` `\\`" ``),
`number`, `op` (`::`, `->`, `->>`, `##`, `.*`, `'`, else one character). Whitespace (CR and
form feed included) is skipped. Lexing never fails: an unterminated string or comment ends
the text and is reported by kind `unterminated`.

It recognises exactly what the rtl screen needs to tell apart; it is not a parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RULES = (
    ("comment", r"//[^\n]*|/\*.*?\*/"),
    ("unterminated", r"/\*.*|\"(?:[^\"\\\n]|\\.)*(?:\n|\Z)"),
    ("string", r"\"(?:[^\"\\\n]|\\.)*\""),
    ("escaped", r"\\\S+"),
    ("sysid", r"\$[A-Za-z0-9_$]+"),
    ("directive", r"`[A-Za-z_][A-Za-z0-9_$]*"),
    ("backtick", r"`"),
    (
        "number",
        r"(?:\d[\d_]*\s*)?'[sS]?[bBoOdDhH]\s*[0-9a-fA-FxXzZ?_]+|\d[\d_]*(?:\.[\d_]+)?(?:[eE][+-]?\d[\d_]*)?"
        r"|'[01xXzZ](?![\w$])",
    ),
    ("ident", r"[A-Za-z_][A-Za-z0-9_$]*"),
    ("op", r"::|->>?|##|\.\*|[^\s]"),
)
_TOKEN = re.compile("|".join(f"(?P<{kind}>{pattern})" for kind, pattern in _RULES), re.DOTALL)
_SPACE = re.compile(r"[ \t\r\n\f\v\ufeff]*")


@dataclass(frozen=True)
class Token:
    """One token: `kind` (see the module doc), its `text` as written, 1-based `line`, `start` / `end` offsets."""

    kind: str
    text: str
    line: int
    start: int
    end: int

    @property
    def name(self) -> str:
        """The identifier this token names (escaped identifiers without backslash), else its text."""
        return self.text[1:] if self.kind == "escaped" else self.text


def tokens(source: str) -> list[Token]:
    """All tokens of `source` in order (comments included)."""
    out: list[Token] = []
    pos, line = 0, 1
    while True:
        skipped = _SPACE.match(source, pos)
        line += source.count("\n", pos, skipped.end())
        pos = skipped.end()
        if pos >= len(source):
            return out
        match = _TOKEN.match(source, pos)
        out.append(Token(match.lastgroup, match.group(), line, pos, match.end()))
        line += match.group().count("\n")
        pos = match.end()


def code(source: str) -> list[Token]:
    """The tokens of `source` without comments."""
    return [t for t in tokens(source) if t.kind != "comment"]
