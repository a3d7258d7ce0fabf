"""The producer's two threads on their own: the next batch is generated while the last one is scored, never
beyond the staleness bound, and failures reach the consumer at the step whose batch they broke."""

from __future__ import annotations

import threading

import pytest

from rlpost.trainer.pipeline import AheadProducer


class Recorder:
    """begin(k) -> k, noting how many steps the consumer had finished; finish(k) waits (at most 5 s) for
    begin(k + 1) to have started, as a reward wait would let it."""

    def __init__(self, stop: int, fail_begin: int | None = None, fail_finish: int | None = None):
        self.stop, self.fail_begin, self.fail_finish = stop, fail_begin, fail_finish
        self.begun = {k: threading.Event() for k in range(stop + 1)}
        self.done_at_begin: dict[int, int] = {}
        self.overlapped: dict[int, bool] = {}
        self.consumer_done = 0

    def begin(self, k: int) -> int:
        self.done_at_begin[k] = self.consumer_done
        self.begun[k].set()
        if k == self.fail_begin:
            raise RuntimeError(f"begin {k} failed")
        return k

    def finish(self, k: int) -> int:
        if k == self.fail_finish:
            raise RuntimeError(f"finish {k} failed")
        if k + 1 < self.stop:
            self.overlapped[k] = self.begun[k + 1].wait(timeout=5.0)
        return k


@pytest.mark.parametrize("ahead", [1, 2])
def test_the_next_batch_is_generated_while_the_last_one_is_scored(ahead):
    rec = Recorder(stop=5)
    producer = AheadProducer(rec.begin, rec.finish, 0, 5, ahead)
    try:
        taken = []
        for _ in range(5):
            item, _ = producer.take()
            taken.append(item)
            rec.consumer_done += 1
            producer.finished_step()
    finally:
        producer.close()
    assert taken == [0, 1, 2, 3, 4]
    assert rec.overlapped == {0: True, 1: True, 2: True, 3: True}
    assert all(k - done <= ahead for k, done in rec.done_at_begin.items()), rec.done_at_begin


def test_in_flight_counts_batches_begun_and_not_taken():
    rec = Recorder(stop=3)
    producer = AheadProducer(rec.begin, rec.finish, 0, 3, 1)
    try:
        first, _ = producer.take()
        assert rec.begun[1].wait(5.0)
        assert first == 0 and producer.in_flight == 1  # batch 1: begun (the bound holds batch 2 back)
        producer.finished_step()
        assert rec.begun[2].wait(5.0) and producer.in_flight == 2
    finally:
        producer.close()


@pytest.mark.parametrize("where", ["begin", "finish"])
def test_a_failure_reaches_the_consumer_at_the_batch_it_broke(where):
    rec = Recorder(stop=4, **{f"fail_{where}": 2})
    producer = AheadProducer(rec.begin, rec.finish, 0, 4, 2)
    try:
        assert [producer.take()[0], producer.take()[0]] == [0, 1]
        with pytest.raises(RuntimeError, match=f"{where} 2 failed"):
            producer.take()
    finally:
        producer.close()
