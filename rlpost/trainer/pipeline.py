"""The producer side of an asynchronous stage: rollout batches made in a background thread, at most
`ahead` steps before the consumer (the learners) needs them.

Batch k (0-based within the stage) is begun only once the consumer has finished step k − ahead, so
the weights that generate it are at most `ahead` steps older than the ones that train on it: the
staleness bound holds by construction. ahead = 1 is one-step off-policy; a failure in the producer
reaches the consumer when it asks for that batch.

A batch is made in two parts, `begin` (generate: compute) and `finish` (score: mostly waiting on
reward workers). When the bound allows, batch k + 1 is begun before batch k is handed over, so the
learners' compute on batch k runs while batch k + 1 waits for its rewards, instead of competing
with its generation at the hand-over.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
G = TypeVar("G")


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


class AheadProducer(Generic[G, T]):
    """Runs `finish(begin(k))` for k in [start, stop) in a thread; `take()` returns them in order."""

    def __init__(self, begin: Callable[[int], G], finish: Callable[[G], T], start: int, stop: int, ahead: int):
        self._begin, self._finish, self._start, self._stop, self._ahead = begin, finish, start, stop, ahead
        self._done = start  # steps the consumer has finished
        self._stopped = False
        self._cond = threading.Condition()
        self._queue: queue.Queue = queue.Queue()
        self._producing = False
        self.wait_s = 0.0  # producer seconds spent waiting for the consumer (the bound)
        self._thread = threading.Thread(target=self._loop, name="rlpost-producer", daemon=True)
        self._thread.start()

    def _allowed(self, k: int) -> bool:
        return self._stopped or self._done >= k - self._ahead

    def _gate(self, k: int) -> bool:
        """Wait until batch k may begin; False when the producer was stopped meanwhile."""
        start = time.perf_counter()
        with self._cond:
            self._cond.wait_for(lambda: self._allowed(k))
            self._producing = not self._stopped
        self.wait_s += time.perf_counter() - start
        return not self._stopped

    def _loop(self) -> None:
        try:
            if self._start >= self._stop or not self._gate(self._start):
                return
            begun = self._begin(self._start)
            for k in range(self._start, self._stop):
                item = self._finish(begun)
                nxt = k + 1 < self._stop
                with self._cond:
                    early = nxt and self._allowed(k + 1) and not self._stopped
                begun = None
                if early:
                    try:
                        begun = self._begin(k + 1)
                    except BaseException:
                        self._queue.put(item)  # batch k is whole: the failure belongs to step k + 1
                        raise
                self._queue.put(item)
                if nxt and begun is None:
                    self._producing = False
                    if not self._gate(k + 1):
                        return
                    begun = self._begin(k + 1)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, which raises it
            self._queue.put(_Failed(error))
        finally:
            self._producing = False

    def take(self) -> tuple[T, float]:
        """The next batch and the seconds the consumer waited for it; a producer failure is raised here."""
        start = time.perf_counter()
        item = self._queue.get()
        if isinstance(item, _Failed):
            raise item.error
        return item, time.perf_counter() - start

    def finished_step(self) -> None:
        """The consumer finished a step (its weights are pushed): the producer may start the next batch."""
        with self._cond:
            self._done += 1
            self._cond.notify_all()

    @property
    def in_flight(self) -> int:
        """Batches made or being made that the consumer has not taken yet."""
        return self._queue.qsize() + int(self._producing)

    def close(self) -> None:
        """Stop after the batch being produced (if any) and wait for the thread."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join()
