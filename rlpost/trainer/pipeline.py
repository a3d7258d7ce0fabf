"""The producer side of an asynchronous stage: rollout batches made in a background thread, at most
`ahead` steps before the consumer (the learners) needs them.

Batch k (0-based within the stage) is begun only once the consumer has finished step k − ahead, so
the weights that generate it are at most `ahead` steps older than the ones that train on it: the
staleness bound holds by construction. ahead = 1 is one-step off-policy; a failure in the producer
reaches the consumer when it asks for that batch.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


class AheadProducer(Generic[T]):
    """Runs `produce(k)` for k in [start, stop) in a thread; `take()` returns them in order."""

    def __init__(self, produce: Callable[[int], T], start: int, stop: int, ahead: int):
        self._produce, self._start, self._stop, self._ahead = produce, start, stop, ahead
        self._done = start  # steps the consumer has finished
        self._stopped = False
        self._cond = threading.Condition()
        self._queue: queue.Queue = queue.Queue()
        self._producing = False
        self.wait_s = 0.0  # producer seconds spent waiting for the consumer (the bound)
        self._thread = threading.Thread(target=self._loop, name="rlpost-producer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        for k in range(self._start, self._stop):
            start = time.perf_counter()
            with self._cond:
                self._cond.wait_for(lambda k=k: self._stopped or self._done >= k - self._ahead)
                if self._stopped:
                    return
                self._producing = True
            self.wait_s += time.perf_counter() - start
            try:
                item = self._produce(k)
            except BaseException as error:  # noqa: BLE001 - handed to the consumer, which raises it
                item = _Failed(error)
            self._queue.put(item)
            self._producing = False
            if isinstance(item, _Failed):
                return

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
