"""Find the Verilog in a model response.

Fenced blocks tagged verilog / systemverilog / sv / v come first, then untagged ones: of those,
the last block that declares `module TopModule`, else the last block. A final fence the model
never closed (cut off by the token budget) counts as a block up to the end of the text. A
response without any fence is searched for bare `module ... endmodule` spans, which are kept
in order (helper modules with the top one). Byte-order marks and CR line ends are removed first.
"""

from __future__ import annotations

import re

TOP = "TopModule"
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_VERILOG_TAGS = {"verilog", "systemverilog", "sv", "v"}
_MODULE_SPAN = re.compile(r"\bmodule\b.*?\bendmodule\b", re.DOTALL)
_MODULE_NAME = re.compile(r"\bmodule\s+(\\\S+|[A-Za-z_][A-Za-z0-9_$]*)")


def normalise(source: str) -> str:
    """`source` without UTF-8 byte-order marks and with LF line ends (CRLF and lone CR become LF)."""
    return source.replace("\ufeff", "").replace("\r\n", "\n").replace("\r", "\n")


def module_names(source: str) -> list[str]:
    """Names of the modules `source` declares, in order (escaped identifiers keep their backslash)."""
    return _MODULE_NAME.findall(source)


def extract_verilog(response: str) -> str:
    """The candidate design in `response` ('' when there is none), normalised (no BOM, LF line ends)."""
    response = normalise(response)
    blocks = [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(response)]
    if not blocks:
        return "\n\n".join(_MODULE_SPAN.findall(response))
    for tags in (_VERILOG_TAGS, {""}):
        tagged = [body for tag, body in blocks if tag in tags]
        with_top = [body for body in tagged if TOP in module_names(body)]
        if with_top or tagged:
            return (with_top or tagged)[-1]
    return ""
