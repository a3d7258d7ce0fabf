"""The producer side of an asynchronous stage: rollout batches made in background threads, at most
`ahead` steps before the consumer (the learners) needs them.

Batch k (0-based within the stage) is begun only once the consumer has finished step k − ahead, so
the weights that generate it are at most `ahead` steps older than the ones that train on it: the
staleness bound holds by construction. ahead = 1 is one-step off-policy; a failure in the producer
reaches the consumer when it asks for that batch.

A batch is made in two parts, each in a thread of its own: `begin` (generate: compute) and `finish`
(score: mostly waiting on reward workers), in order. So batch k + 1 is generated, as soon as the
bound allows, while batch k still waits for its rewards, and the learners' compute on batch k runs
during batch k + 1's reward wait.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
G = TypeVar("G")
_END = object()  # the begin thread has nothing more to hand over


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


class AheadProducer(Generic[G, T]):
    """Runs `begin(k)` for k in [start, stop) in one thread and `finish` of each begun batch, in order, in
    another; `take()` returns the finished batches in order."""

    def __init__(self, begin: Callable[[int], G], finish: Callable[[G], T], start: int, stop: int, ahead: int):
        self._begin, self._finish, self._start, self._stop, self._ahead = begin, finish, start, stop, ahead
        self._done = start  # steps the consumer has finished
        self._stopped = False
        self._cond = threading.Condition()
        self._begun: queue.Queue = queue.Queue()  # begun batches (or the failure that ended the begin thread)
        self._queue: queue.Queue = queue.Queue()  # finished batches (or a failure) for the consumer
        self._started = self._taken = 0  # batches begun / taken by the consumer
        self.wait_s = 0.0  # producer seconds spent waiting for the consumer (the bound)
        self._threads = [
            threading.Thread(target=self._begin_loop, name="rlpost-producer-begin", daemon=True),
            threading.Thread(target=self._finish_loop, name="rlpost-producer-finish", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _allowed(self, k: int) -> bool:
        return self._stopped or self._done >= k - self._ahead

    def _gate(self, k: int) -> bool:
        """Wait until batch k may begin; False when the producer was stopped meanwhile."""
        start = time.perf_counter()
        with self._cond:
            self._cond.wait_for(lambda: self._allowed(k))
            if not self._stopped:
                self._started += 1
        self.wait_s += time.perf_counter() - start
        return not self._stopped

    def _begin_loop(self) -> None:
        try:
            for k in range(self._start, self._stop):
                if not self._gate(k):
                    return
                self._begun.put(self._begin(k))
        except BaseException as error:  # noqa: BLE001 - handed on in order, then to the consumer
            self._begun.put(_Failed(error))
        finally:
            self._begun.put(_END)

    def _finish_loop(self) -> None:
        try:
            while (begun := self._begun.get()) is not _END:
                if isinstance(begun, _Failed):
                    self._queue.put(begun)
                    return
                self._queue.put(self._finish(begun))
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, which raises it
            self._queue.put(_Failed(error))

    def take(self) -> tuple[T, float]:
        """The next batch and the seconds the consumer waited for it; a producer failure is raised here."""
        start = time.perf_counter()
        item = self._queue.get()
        if isinstance(item, _Failed):
            raise item.error
        with self._cond:
            self._taken += 1
        return item, time.perf_counter() - start

    def finished_step(self) -> None:
        """The consumer finished a step (its weights are pushed): the producer may start the next batch."""
        with self._cond:
            self._done += 1
            self._cond.notify_all()

    @property
    def in_flight(self) -> int:
        """Batches begun (being made or made) that the consumer has not taken yet."""
        with self._cond:
            return self._started - self._taken

    def close(self) -> None:
        """Stop after the batches being produced (if any) and wait for the threads."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join()
