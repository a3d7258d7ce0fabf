"""Waiting on actors: every wait has a timeout, and whatever goes wrong in an actor (it died, hung,
raised a Python error or ran out of memory) becomes one `ActorFailure` naming its role and index."""

from __future__ import annotations

import re
import time
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayError

from rlpost.trainer.protocols import ActorFailure

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def get_from(role: str, futures: list, timeout_s: float | None) -> list:
    """`ray.get` of one call per actor (actor i -> futures[i]), all bounded by one `timeout_s`; the first call to fail
    raises ActorFailure at once (so ranks left waiting on a dead peer's collective do not hold the run until the
    timeout), and the actor that did not answer in time is named."""
    index = {future: i for i, future in enumerate(futures)}
    pending = list(futures)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while pending:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        done, pending = ray.wait(pending, num_returns=1, timeout=left)
        if not done:
            error = GetTimeoutError(f"no answer within {timeout_s:.0f}s")
            raise ActorFailure(role, index[pending[0]], f"{type(error).__name__}: {error}") from error
        try:
            ray.get(done[0])
        except RayError as e:
            raise ActorFailure(role, index[done[0]], _cause(e)) from e
    out = []
    for i, future in enumerate(futures):
        try:
            out.append(ray.get(future))
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
