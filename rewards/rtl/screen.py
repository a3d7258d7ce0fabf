"""Static screen of a candidate design: a whitelist over its token stream (rewards.rtl.lexer), so only synthesisable RTL runs.

Threat model: the candidate is arbitrary text from the policy, compiled with the task's testbench
(`tb.sv`) and reference (`ref.sv`) and simulated; a forged score is a verdict line the testbench
did not print, a verdict computed on something other than the candidate, or a reference
smuggled in. What the candidate can try, and why it is closed here (the harness closes the same
classes again by construction, see rewards.rtl.harness):

- call a system task or function (print a verdict, `$fopen` / `$ivlh_*` to read the nonce,
  `$finish` / `$stop` / `$fatal` to end the run early, `$random`, `$time`, `$root`, `$unit`):
  every `$name` token must be in SYSTEM_FUNCTIONS, pure functions of their arguments that
  synthesis evaluates (`$bits`, `$clog2`, `$signed`, `$unsigned`, `$size`, `$countones`,
  `$onehot`, `$onehot0`); any other spelling is another token and is rejected;
- reach outside its own text with the preprocessor (`include`, `resetall`, `undefineall`,
  `line`, `pragma`, `begin_keywords`, `celldefine`, `unconnected_drive`, `__FILE__`, a macro
  of the testbench such as `OK`, token pasting or stringification, a macro glued to a word to
  spell a name): directives are DIRECTIVES only; a macro may only be used, tested (`ifdef`,
  `ifndef`, `elsif`) or undefined after the candidate defined it itself, only object-like
  (no arguments, one line, no block comment inside), never glued to a neighbouring word;
- name the testbench or the reference (`tb`, `RefModule`, their instances such as `good1`,
  their helper modules, tasks, functions and macros), in any spelling (escaped identifiers
  are compared by name): such names are `reserved_names` of the task; the ports the candidate
  must share with the reference are never reserved;
- declare something in the compilation unit the testbench shares (`$unit`): outside
  `module ... endmodule` only directives are allowed;
- reach another scope: `a.b` (a `.` after a name, a macro, `)` or `]`) is rejected outright
  (named port connections `.p(` and `.*` follow `(` or `,`; SystemVerilog struct members are
  therefore not supported), so are `::`, `bind`, `defparam`;
- play with simulation time or run non-synthesisable processes: `#` is allowed only as
  `#(` right after the name of a module the candidate declares (parameters); `##`, `->`,
  `fork`, `wait`, `forever`, `force`, `final`, `program`, `class`, `specify`, ... are
  SIM_ONLY. `initial` stays allowed (register initialisation; 4 VerilogEval references use it):
  without delays or system tasks it can only assign at time 0 or wait on events.

Every rejection names the construct and its line (`line 7: system task $ivlh_file_open is not
allowed (allowed: ...)`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rewards.rtl.extract import TOP
from rewards.rtl.lexer import Token, code, tokens

SYSTEM_FUNCTIONS = ("$bits", "$clog2", "$countones", "$onehot", "$onehot0", "$signed", "$size", "$unsigned")
DIRECTIVES = ("default_nettype", "define", "else", "elsif", "endif", "ifdef", "ifndef", "timescale", "undef")
_MACRO_NAMED = ("define", "undef", "ifdef", "ifndef", "elsif")
SIM_ONLY = frozenset(
    "alias assert assume bind checker class clocking config cover covergroup deassign defparam disable event expect "
    "export extern final force forever fork import interface join join_any join_none let library modport new null "
    "package primitive program property randomize release sequence specify specparam table this timeprecision "
    "timeunit virtual wait wait_order".split()
)
ALWAYS_RESERVED = frozenset({"tb", "RefModule"})
_GLUE = re.compile(r"[\w$\\`'\"]")
_MODULE_KEYWORDS = ("module", "macromodule")


@dataclass(frozen=True)
class _Design:
    """The candidate's tokens (comments dropped), its source, its modules and the names it may not use."""

    source: str
    code: list[Token]
    modules: frozenset[str]
    reserved: frozenset[str]


def screen(source: str, max_chars: int, reserved: Iterable[str] = ALWAYS_RESERVED) -> str:
    """Why `source` is rejected before any tool runs ('' when it may run); `reserved`: the task's names (reserved_names)."""
    if not source.strip():
        return "no Verilog in the response"
    if len(source) > max_chars:
        return f"design longer than {max_chars} characters"
    all_tokens = tokens(source)
    code_tokens = [t for t in all_tokens if t.kind != "comment"]
    modules = declared_modules(code_tokens)
    design = _Design(source, code_tokens, frozenset(modules), frozenset(reserved) | ALWAYS_RESERVED)
    for check in CHECKS:
        reason = check(design, all_tokens)
        if reason:
            return reason
    if TOP not in design.modules:
        return f"no module named {TOP} (declares {', '.join(modules[:5]) or 'no module'})"
    return ""


def declared_modules(code_tokens: list[Token]) -> list[str]:
    """Names after `module` / `macromodule`, in order."""
    return [b.name for a, b in zip(code_tokens, code_tokens[1:]) if a.text in _MODULE_KEYWORDS and b.kind in ("ident", "escaped")]


def reserved_names(ref: str, test: str) -> frozenset[str]:
    """Names of the reference and testbench a candidate may not use: modules, testbench instances, tasks, functions, macros.

    Minus TopModule and the names in RefModule's header (its ports: the candidate must share them).
    """
    ref_code, test_code = code(ref), code(test)
    modules = set(declared_modules(ref_code) + declared_modules(test_code)) | ALWAYS_RESERVED
    names = set(modules) | _instances(test_code, modules | {TOP}) | _subroutines(test_code) | _subroutines(ref_code)
    names |= _macros(ref_code) | _macros(test_code)
    return frozenset(names - {TOP} - _header_names(ref_code, "RefModule"))


def _instances(code_tokens: list[Token], modules: set[str]) -> set[str]:
    """Instance names: the name after a known module's name (and its `#( ... )`)."""
    found = set()
    for i, tok in enumerate(code_tokens):
        if tok.kind not in ("ident", "escaped") or tok.name not in modules or i and code_tokens[i - 1].text in _MODULE_KEYWORDS:
            continue
        j = i + 1
        if j < len(code_tokens) and code_tokens[j].text == "#":
            j = _after_parens(code_tokens, j + 1)
        if j < len(code_tokens) and code_tokens[j].kind in ("ident", "escaped"):
            found.add(code_tokens[j].name)
    return found


def _after_parens(code_tokens: list[Token], i: int) -> int:
    """Index after the balanced `( ... )` starting at `i` (i itself when there is none)."""
    if i >= len(code_tokens) or code_tokens[i].text != "(":
        return i
    depth = 0
    for j in range(i, len(code_tokens)):
        depth += {"(": 1, ")": -1}.get(code_tokens[j].text, 0)
        if depth == 0:
            return j + 1
    return len(code_tokens)


def _subroutines(code_tokens: list[Token]) -> set[str]:
    """Task and function names: the last name before the first `(` or `;` after `task` / `function`."""
    found = set()
    for i, tok in enumerate(code_tokens):
        if tok.text not in ("task", "function"):
            continue
        last = None
        for nxt in code_tokens[i + 1 :]:
            if nxt.text in ("(", ";"):
                break
            if nxt.kind in ("ident", "escaped"):
                last = nxt.name
        if last:
            found.add(last)
    return found


def _macros(code_tokens: list[Token]) -> set[str]:
    return {b.name for a, b in zip(code_tokens, code_tokens[1:]) if a.text == "`define"}


def _header_names(code_tokens: list[Token], module: str) -> set[str]:
    """Names from `module <module>` up to the header's `;`."""
    for i, tok in enumerate(code_tokens):
        if tok.name == module and i and code_tokens[i - 1].text in _MODULE_KEYWORDS:
            names = set()
            for nxt in code_tokens[i + 1 :]:
                if nxt.text == ";":
                    return names
                names.add(nxt.name)
    return set()


def _where(tok: Token) -> str:
    return f"line {tok.line}:"


def _unterminated(design: _Design, all_tokens: list[Token]) -> str:
    bad = next((t for t in all_tokens if t.kind == "unterminated"), None)
    return f"{_where(bad)} unterminated string or block comment" if bad else ""


def _directives(design: _Design, all_tokens: list[Token]) -> str:
    """Directives from DIRECTIVES; macros object-like, defined by the candidate before any other use, never glued."""
    defined: set[str] = set()
    block_comment_lines = {t.line for t in all_tokens if t.kind == "comment" and t.text.startswith("/*")}
    toks = design.code
    for i, tok in enumerate(toks):
        if tok.kind == "backtick":
            return f"{_where(tok)} token pasting or stringification ({design.source[tok.start : tok.start + 3]!r}) is not allowed"
        if tok.kind != "directive":
            continue
        name = tok.text[1:]
        if name in _MACRO_NAMED:
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            if nxt is None or nxt.kind != "ident" or nxt.line != tok.line:
                return f"{_where(tok)} `{name} needs a plain macro name on the same line"
            if name == "define":
                if design.source[nxt.end : nxt.end + 1] == "(":
                    return f"{_where(tok)} macro `{nxt.name} takes arguments; only object-like macros are allowed"
                if tok.line in block_comment_lines:
                    return f"{_where(tok)} a block comment inside the definition of `{nxt.name} is not allowed"
                defined.add(nxt.name)
            elif nxt.name not in defined:
                return f"{_where(tok)} `{name} {nxt.name}: the design did not define `{nxt.name} before"
        elif name in defined:
            before = design.source[tok.start - 1 : tok.start] if tok.start else ""
            after = design.source[tok.end : tok.end + 1]
            if _GLUE.match(before) or _GLUE.match(after):
                return f"{_where(tok)} macro `{name} is glued to a neighbouring word; separate it with a space"
        elif name not in DIRECTIVES:
            return (
                f"{_where(tok)} `{name} is neither an allowed directive ({', '.join(DIRECTIVES)}) "
                "nor a macro the design defined before"
            )
    return ""


def _system_names(design: _Design, all_tokens: list[Token]) -> str:
    bad = next((t for t in design.code if t.kind == "sysid" and t.text not in SYSTEM_FUNCTIONS), None)
    if bad:
        return f"{_where(bad)} system task {bad.text} is not allowed (allowed: {', '.join(SYSTEM_FUNCTIONS)})"
    return ""


def _names(design: _Design, all_tokens: list[Token]) -> str:
    for tok in design.code:
        if tok.kind in ("ident", "escaped") and tok.name in design.reserved:
            spelled = f" (written {tok.text})" if tok.kind == "escaped" else ""
            return f"{_where(tok)} name {tok.name}{spelled} belongs to the testbench or the reference"
        if tok.kind == "ident" and tok.text in SIM_ONLY:
            return f"{_where(tok)} '{tok.text}' is not synthesisable RTL"
    return ""


def _operators(design: _Design, all_tokens: list[Token]) -> str:
    toks = design.code
    for i, tok in enumerate(toks):
        prev = toks[i - 1] if i else None
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if tok.kind != "op":
            continue
        if tok.text == "." and prev and (prev.kind in ("ident", "escaped", "directive") or prev.text in (")", "]")):
            target = nxt.name if nxt else ""
            return f"{_where(tok)} hierarchical reference {prev.name}.{target} is not allowed"
        if tok.text == "#" and not (prev and prev.name in design.modules and nxt and nxt.text == "("):
            return f"{_where(tok)} delay '#' is not allowed ('#(' only passes parameters to a module of the design)"
        if tok.text in ("::", "->", "->>", "##", "$", "\\"):
            return f"{_where(tok)} '{tok.text}' is not allowed in synthesisable RTL"
    return ""


def _file_level(design: _Design, all_tokens: list[Token]) -> str:
    """Outside `module ... endmodule` only directives (and their arguments): nothing is declared in `$unit`."""
    toks = design.code
    part_of_directive: set[int] = set()
    for i, tok in enumerate(toks):
        if tok.kind == "directive" and tok.text[1:] in DIRECTIVES:
            part_of_directive.add(i)
            if tok.text[1:] in _MACRO_NAMED[1:]:
                part_of_directive.add(i + 1)
            elif tok.text[1:] in ("define", "timescale", "default_nettype"):
                part_of_directive |= {j for j in range(i + 1, len(toks)) if toks[j].line == tok.line}
    inside = False
    for i, tok in enumerate(toks):
        if i in part_of_directive:
            continue
        if tok.text in _MODULE_KEYWORDS:
            inside = True
        elif tok.text == "endmodule":
            inside = False
        elif not inside:
            return f"{_where(tok)} '{tok.text}' outside a module (only modules and directives at file level)"
    return ""


def _module_names(design: _Design, all_tokens: list[Token]) -> str:
    clash = next((name for name in design.modules if name in design.reserved), None)
    return f"declares module {clash}, which the testbench or the reference owns" if clash else ""


# each check: (design, all tokens incl. comments) -> reason ('' = passes); the first reason rejects
CHECKS: tuple[Callable[[_Design, list[Token]], str], ...] = (
    _unterminated,
    _module_names,
    _directives,
    _file_level,
    _system_names,
    _operators,
    _names,
)
