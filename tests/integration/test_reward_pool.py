"""The reward worker pool on real Ray: failing, hanging and dying plugins cost only their sample."""

from __future__ import annotations

import time

import pytest
import ray

from rlpost.cluster.reward_pool import RewardPool
from rlpost.cluster.runtime import actor_options
from rlpost.rewards import Sample
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

PLUGIN = f"{ROOT / 'tests/plugins/unruly.py'}:unruly"


@pytest.fixture(scope="module")
def pool():
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False)
    bindings = {"env": [{"name": PLUGIN, "weight": 2.0, "params": {}}]}
    p = RewardPool(bindings, num_workers=2, timeout_s=2.0, fallback=-1.0, actor_options=actor_options())
    yield p
    p.close()


def _score(pool, texts, chunk_size=16):
    return pool.score([Sample("p", t, {}, "env") for t in texts], ["env"] * len(texts), chunk_size)


def test_good_samples_scored_with_weight(pool):
    out = _score(pool, ["a", "abc", "abcd"])
    assert [o.score for o in out] == [2.0, 6.0, 8.0]
    assert all(o.error is None for o in out)


def test_only_the_bad_samples_get_the_fallback(pool):
    texts = ["ab", "raise", "abc", "nan", "hang", "die", "abcde"] + ["x"] * 20
    start = time.monotonic()
    out = _score(pool, texts)
    took = time.monotonic() - start
    by_text = dict(zip(texts, out))
    assert by_text["ab"].score == 4.0 and by_text["abc"].score == 6.0 and by_text["abcde"].score == 10.0
    assert all(o.score == 2.0 and o.error is None for o in out[7:])
    assert by_text["raise"].score == -1.0 and "RuntimeError: plugin exploded" in by_text["raise"].error
    assert by_text["nan"].score == -1.0 and "non-finite" in by_text["nan"].error
    assert by_text["hang"].score == -1.0 and "timed out" in by_text["hang"].error
    assert by_text["die"].score == -1.0 and "worker failed" in by_text["die"].error
    assert pool.restarts >= 2  # the hung and the dead workers were replaced
    assert took < 60, took


def test_pool_serves_after_failures(pool):
    out = _score(pool, ["abc"] * 8)
    assert [o.score for o in out] == [6.0] * 8


def test_a_hung_sample_costs_its_own_timeout_not_the_chunks(pool):
    """One chunk of 16 with the hung sample first: its worker is replaced after `timeout_s` (2 s), the chunk's
    units go again one by one, the hung one times out alone (2 s more) and the 15 others are scored, instead
    of the chunk holding the worker for 16 × 2 s."""
    texts = ["hang"] + ["abc"] * 15
    start = time.monotonic()
    out = _score(pool, texts, chunk_size=16)
    took = time.monotonic() - start
    assert out[0].score == -1.0 and "timed out after 2s" in out[0].error
    assert [o.score for o in out[1:]] == [6.0] * 15
    assert took < 16 * 2.0 / 2, took  # well under the old bound of timeout × chunk size


def test_one_environment_under_two_bindings_is_scored_by_each(pool):
    """Binding keys, not environment names, choose the rewards."""
    bindings = {f"stages.{i}.envs.0": [{"name": PLUGIN, "weight": w, "params": {}}] for i, w in ((0, 1.0), (1, 3.0))}
    two = RewardPool(bindings, num_workers=1, timeout_s=5.0, fallback=0.0, actor_options=actor_options())
    try:
        sample = Sample("p", "ab", {}, "arithmetic")
        out = two.score([sample, sample], ["stages.0.envs.0", "stages.1.envs.0"])
    finally:
        two.close()
    assert [o.score for o in out] == [2.0, 6.0]
