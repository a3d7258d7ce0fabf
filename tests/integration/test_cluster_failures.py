"""What goes wrong in actors reaches the loop as one `ActorFailure`, and a failed start-up leaves no
actor running (real Ray)."""

from __future__ import annotations

import copy
import time

import pytest
import ray

from rlpost.cluster.failures import get_from
from rlpost.config import build_config
from rlpost.trainer import Trainer, TrainingFailed
from rlpost.trainer.protocols import ActorFailure
from tests.conftest import ROOT, TINY_EXPERIMENT, processes_with

pytestmark = pytest.mark.slow


@ray.remote
class Faulty:
    def fail(self, kind: str):
        if kind == "value":
            raise ValueError("bad input in row 7")
        raise MemoryError("out of memory")

    def hang(self, seconds: float) -> float:
        time.sleep(seconds)
        return seconds


def test_errors_raised_inside_an_actor_are_actor_failures():
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False)
    actor = Faulty.remote()
    try:
        with pytest.raises(ActorFailure) as value:
            get_from("policy learner", [actor.fail.remote("value")], 60)
        with pytest.raises(ActorFailure) as memory:
            get_from("reference model", [actor.fail.remote("memory")], 60)
    finally:
        ray.kill(actor)
    assert (value.value.role, value.value.index) == ("policy learner", 0)
    assert str(value.value) == "policy learner 0 failed: ValueError: bad input in row 7"
    assert str(memory.value) == "reference model 0 failed: MemoryError: out of memory"


def test_a_failing_actor_is_named_at_once_and_a_silent_one_at_the_timeout():
    """Actor 0 hangs (as a rank waiting on a dead peer's collective would); actor 1's error is raised without
    waiting for it. Without an error, the timeout names the actor that did not answer."""
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False)
    hanging, failing = Faulty.remote(), Faulty.remote()
    try:
        ray.get([hanging.hang.remote(0), failing.hang.remote(0)])
        start = time.monotonic()
        with pytest.raises(ActorFailure) as failed:
            get_from("policy learner", [hanging.hang.remote(30), failing.fail.remote("value")], 60)
        assert time.monotonic() - start < 10
        assert failed.value.index == 1 and "bad input in row 7" in str(failed.value)
        with pytest.raises(ActorFailure) as silent:
            get_from("rollout engine", [failing.hang.remote(0), hanging.hang.remote(30)], 1)
        assert silent.value.index == 1 and "GetTimeoutError: no answer within 1s" in str(silent.value)
    finally:
        ray.kill(hanging)
        ray.kill(failing)


def test_a_failed_start_up_stops_the_actors_already_started(tmp_path):
    """The reward workers cannot load their plugin; the engine and learner started before them are stopped,
    and the run fails with a message naming the worker."""
    data = copy.deepcopy(TINY_EXPERIMENT)
    data["run"]["dir"] = str(tmp_path / "run")
    data["rollout"]["engine"] = "hf"
    data["algorithm"]["kl_coef"] = 0.0
    data["stages"][0]["envs"][0]["rewards"] = [{"name": f"{ROOT / 'tests/plugins/fails_in_actor.py'}:score"}]
    with pytest.raises(TrainingFailed) as info:
        Trainer(build_config(data)).run()
    assert "reward worker 0 failed" in str(info.value) and "cannot load in a reward worker" in str(info.value)
    deadline = time.monotonic() + 30
    left = ["?"]
    while left and time.monotonic() < deadline:
        left = [m for m in ("ray::RolloutWorker", "ray::PolicyLearner", "ray::RewardWorker") if processes_with(m)]
        time.sleep(0.5)
    assert not left, f"still running after the failed start-up: {left}"


def test_more_gpus_than_the_cluster_has_fail_at_once(tmp_path):
    """A CPU-only Ray cannot hold a GPU layout: the launch says so before waiting on any placement group."""
    from rlpost.cluster.placement import PlacementError

    data = copy.deepcopy(TINY_EXPERIMENT)
    data["run"]["dir"] = str(tmp_path / "run")
    data["cluster"] = {"gpus": 3}  # engine, learner, reference
    start = time.monotonic()
    with pytest.raises(PlacementError, match=r"^the layout needs 3 GPUs and the cluster has 0 in all$"):
        Trainer(build_config(data)).run()
    assert time.monotonic() - start < 120
