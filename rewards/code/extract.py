"""Find the program in a model response.

The last fenced block tagged python / py / python3, else the last untagged fenced block; a
final fence the model never closed (cut off by the token budget) counts as a block up to the
end of the text. A response without any fence is taken as bare code.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_PYTHON_TAGS = {"python", "py", "python3"}


def extract_code(response: str) -> str:
    blocks = [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(response)]
    if not blocks:
        return response if "```" not in response else ""
    for tags in (_PYTHON_TAGS, {""}):
        tagged = [body for tag, body in blocks if tag in tags]
        if tagged:
            return tagged[-1]
    return ""
