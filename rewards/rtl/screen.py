"""Static pre-check of a candidate design: constructs a spec-to-RTL answer never needs are rejected unrun.

The sandbox contains all of these anyway (no network, a throw-away /tmp, rlimits, a wall-clock
kill); rejecting them here gives the score 0 and a reason instead of a timeout or a crash. The
raw source is scanned, comments included, so a mention in a comment is rejected too.
"""

from __future__ import annotations

import re

from rewards.rtl.extract import TOP, module_names

_FILE_TASKS = (
    r"fopen|fclose|f(?:write|display|strobe|monitor)[bho]?|fget[cs]|fscanf|fread|fseek|ftell|fflush|feof|ferror|f?rewind"
    r"|ungetc|s?readmem[bh]?|writemem[bh]?|dump[a-z]*"
)
# (pattern, reason): the first match rejects the candidate
FORBIDDEN: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), reason)
    for pattern, reason in (
        (r"\$system\b", "calls $system"),
        (r"\$(?:" + _FILE_TASKS + r")\b", "uses file I/O"),
        (r"\$(?:value|test)\$plusargs\b", "reads plusargs"),
        (r"\b(?:import|export)\s+\"DPI", "imports or exports DPI functions"),
        (r"\$(?:finish|stop|exit|fatal)\b", "ends the simulation itself"),
        (r"(?i)mismatches\s*:", "prints the testbench's verdict line"),
        (r"`\s*include\b", "includes a file"),
        (r"``", "pastes tokens in a macro"),
    )
)
RESERVED_MODULES = ("RefModule", "tb")


def screen(source: str, max_chars: int) -> str:
    """Why `source` is rejected before any tool runs ('' when it may run)."""
    if not source.strip():
        return "no Verilog in the response"
    if len(source) > max_chars:
        return f"design longer than {max_chars} characters"
    for pattern, reason in FORBIDDEN:
        match = pattern.search(source)
        if match:
            return f"{reason} ({match.group(0)!r})"
    names = module_names(source)
    if TOP not in names:
        return f"no module named {TOP} (declares {', '.join(names[:5]) or 'no module'})"
    clash = [name for name in names if name in RESERVED_MODULES]
    if clash:
        return f"declares module {clash[0]}, which the testbench owns"
    return ""
