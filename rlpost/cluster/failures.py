"""Waiting on actors: every wait has a timeout, and whatever goes wrong in an actor (it died, hung,
raised a Python error or ran out of memory) becomes one `ActorFailure` naming its role and index."""

from __future__ import annotations

import re
from typing import Any

import ray
from ray.exceptions import RayError

from rlpost.trainer.protocols import ActorFailure

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def get_from(role: str, futures: list, timeout_s: float | None) -> list:
    """`ray.get` of one call per actor (actor i -> futures[i]); any failure raises ActorFailure."""
    out = []
    for i, future in enumerate(futures):
        try:
            out.append(ray.get(future, timeout=timeout_s))
        except RayError as e:
            raise ActorFailure(role, i, _cause(e)) from e
    return out


def _cause(error: RayError) -> BaseException | str:
    """The actor's own exception where Ray carries one (a task error); else Ray's error, its traceback
    cut to the first line and the last (where the actor's own error stands, e.g. a failed `__init__`)."""
    cause: Any = getattr(error, "cause", None)
    if isinstance(cause, BaseException):
        return cause
    lines = [line for line in ANSI.sub("", str(error)).splitlines() if line.strip()]
    if len(lines) < 2:
        return error
    return f"{type(error).__name__}: {lines[0][:160]} ... {lines[-1].strip()}"
