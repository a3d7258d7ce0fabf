"""Results about a task's reference design, computed once: in this process, and on disk when given a directory.

Keys hash everything the result depends on (sources, scripts, settings); values are JSON
objects. Files are written whole (temporary name, then rename), so processes sharing a
directory read either nothing or a complete entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any


def key(*parts: str) -> str:
    """A stable hash of `parts` (hex)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part.encode()).digest())
    return digest.hexdigest()


class ReferenceCache:
    """name + key -> JSON object; `get_or_compute` computes a missing entry once per process (and directory)."""

    def __init__(self) -> None:
        self._memory: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get_or_compute(
        self, name: str, digest: str, compute: Callable[[], dict[str, Any]], directory: str | None
    ) -> dict[str, Any]:
        with self._lock:
            if (name, digest) in self._memory:
                return self._memory[name, digest]
        path = Path(directory, f"{name}-{digest}.json") if directory else None
        value = _read(path) if path else None
        if value is None:
            value = compute()
            if path:
                _write(path, value)
        with self._lock:
            self._memory[name, digest] = value
        return value

    def clear(self) -> None:
        """Forget the in-process entries (files stay)."""
        with self._lock:
            self._memory.clear()


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write(path: Path, value: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        json.dump(value, f)
    os.replace(tmp, path)


CACHE = ReferenceCache()
