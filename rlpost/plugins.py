"""What the registries (rewards, environments, algorithms) share: registering an object under a name
once, finding one in an entry-point group, and loading one by reference, `pkg.module:attr` or
`path/to/file.py:attr` (a file is executed once per process, whatever spelling of its path is used)."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def register_once(table: dict[str, T], name: str, obj: T, kind: str) -> T:
    """`table[name] = obj`; another object already under `name` is an error (the same one again is not)."""
    if name in table and table[name] is not obj:
        raise ValueError(f"{kind} {name!r} is already registered")
    table[name] = obj
    return obj


def load_entry_point(group: str, name: str) -> Any | None:
    """The object the entry point `name` of `group` names, loaded; None when there is none."""
    for ep in entry_points(group=group):
        if ep.name == name:
            return ep.load()
    return None


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
