"""Loading a plugin object by reference: `pkg.module:attr`, or `path/to/file.py:attr` (a file is
executed once per process, whatever spelling of its path is used)."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any


def load_attr(spec: str, kind: str = "plugin") -> Any:
    """The object `spec` names; ValueError (naming `kind`) when the file, module or attribute is missing."""
    module_part, _, attr = spec.rpartition(":")
    if module_part.endswith(".py"):
        path = Path(module_part).resolve()
        if not path.is_file():
            raise ValueError(f"{kind} file {module_part!r} not found")
        name = f"rlpost_user_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
        module = sys.modules.get(name)
        if module is None:
            mod_spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(mod_spec)
            sys.modules[name] = module
            try:
                mod_spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(name, None)
                raise
    else:
        module = importlib.import_module(module_part)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ValueError(f"{module_part!r} has no attribute {attr!r}") from None
