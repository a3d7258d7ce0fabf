"""A run over several Ray nodes, on this one machine: a head on 127.0.0.2 with no CPUs (the driver's
node: no actor can go there) and two worker nodes on 127.0.0.3 and 127.0.0.4, each with its own
temp dir and ports. With `cluster.placement: spread` the two learner ranks land on different nodes,
meet at rank 0's node and train GRPO; a checkpoint resumes, the final model loads; losing a node's
raylet stops the run with a message naming the node and the actors it held, and the last checkpoint
stays intact."""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import ray

from rlpost.checkpoint import is_complete, latest_checkpoint, read_state
from rlpost.config import build_config
from rlpost.learner.distributed import free_port
from rlpost.trainer import Trainer, TrainingFailed
from tests.conftest import TINY_EXPERIMENT, processes_with

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
HEAD, NODE_A, NODE_B = "127.0.0.2", "127.0.0.3", "127.0.0.4"
# the head notices a dead raylet after 1 s x 3 missed health checks instead of the default ~30 s
HEALTH = {"RAY_health_check_period_ms": "1000", "RAY_health_check_failure_threshold": "3", "RAY_health_check_timeout_ms": "1000"}


@dataclass
class Node:
    ip: str
    process: subprocess.Popen
    temp_dir: str

    def raylet_pids(self) -> list[int]:
        return [p for p in processes_with(f"{self.temp_dir}/") if b"raylet/raylet" in Path(f"/proc/{p}/cmdline").read_bytes()]

    def stop(self) -> None:
        """Every process of this node: its `ray start --block` session (raylet, agents, workers)."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=20)
                break
            except subprocess.TimeoutExpired:
                continue
        for pid in _session_members(self.process.pid):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def _session_members(sid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and os.getsid(int(entry.name)) == sid:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _start(ip: str, name: str, log: Path, head: str, cpus: int) -> Node:
    """`ray start --block` of one node in a session of its own: the head when `head` is this node's address."""
    temp_dir = f"/tmp/rlpost-mn-{os.getpid()}-{name}"
    # free on every address: some of Ray's servers bind 0.0.0.0, not the node's own
    ports = {flag: free_port() for flag in ("--node-manager-port", "--object-manager-port", "--metrics-export-port",
                                              "--runtime-env-agent-port", "--dashboard-agent-grpc-port",
                                              "--dashboard-agent-listen-port")}  # fmt: skip
    # worker ports below the ephemeral range the other ports come from, a range per node and test process
    low = 11000 + (os.getpid() * 3 + int(ip.rsplit(".", 1)[1])) % 190 * 100
    args = [str(BIN / "ray"), "start", "--block", "--node-ip-address", ip, "--num-cpus", str(cpus), "--temp-dir", temp_dir,
            "--disable-usage-stats", "--min-worker-port", str(low), "--max-worker-port", str(low + 99)]  # fmt: skip
    args += [x for flag, port in ports.items() for x in (flag, str(port))]
    if head.startswith(f"{ip}:"):
        args += ["--head", "--port", head.split(":")[1], "--include-dashboard", "false"]
    else:
        args += ["--address", head]
    env = {**os.environ, **HEALTH, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    env["PATH"] = f"{BIN}:{os.environ['PATH']}"
    process = subprocess.Popen(args, env=env, start_new_session=True, stdout=log.open("w"), stderr=subprocess.STDOUT)
    return Node(ip, process, temp_dir)


def _wait_started(node: Node, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text()
        if "Ray runtime started" in text:
            return
        assert node.process.poll() is None, text[-2000:]
        time.sleep(0.5)
    raise AssertionError(f"the head did not come up: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Head (no CPUs) + two worker nodes of 2 CPUs; the driver joins as the head's node."""
    ray.shutdown()
    logs = tmp_path_factory.mktemp("ray-logs")
    address = f"{HEAD}:{free_port()}"
    nodes = [_start(HEAD, "head", logs / "head.log", address, 0)]
    try:
        _wait_started(nodes[0], logs / "head.log")
        nodes += [_start(ip, name, logs / f"{name}.log", address, 2) for ip, name in ((NODE_A, "a"), (NODE_B, "b"))]
        ray.init(address=address, _node_ip_address=HEAD, log_to_driver=False)
        deadline = time.monotonic() + 90
        while sum(n["Alive"] for n in ray.nodes()) < 3:
            assert time.monotonic() < deadline, f"nodes up: {[n['NodeManagerAddress'] for n in ray.nodes()]}"
            assert all(n.process.poll() is None for n in nodes), [(n.ip, n.process.returncode) for n in nodes]
            time.sleep(0.5)
        yield {n.ip: n for n in nodes}
    finally:
        ray.shutdown()
        for node in reversed(nodes):
            node.stop()


def _experiment(run_dir: Path, zero_stage: int, steps: int, weight_sync: str = "object_store") -> dict:
    data = copy.deepcopy(TINY_EXPERIMENT)
    data["run"]["dir"] = str(run_dir)
    data["algorithm"]["kl_coef"] = 0.0  # two learner bundles: spread puts one on each node
    data["learner"].update(num_workers=2, zero_stage=zero_stage, timeout_s=120)
    data["stages"][0]["steps"] = steps
    data["checkpoint"] = {"save_every": 1, "keep_last": 2}
    data["cluster"] = {"placement": "spread", "weight_sync": weight_sync, "sync_timeout_s": 120}
    data["logging"]["console"] = True
    return data


def _learner_nodes(trainer: Trainer) -> list[str]:
    """The node IP of each policy rank, as the actors themselves report it."""
    from rlpost.cluster.failures import get_from

    return get_from("policy learner", [a.__ray_call__.remote(lambda _: ray.util.get_node_ip_address()) for a in
                                       trainer.cluster.learners.policy], 60)  # fmt: skip


def test_zero3_ranks_on_two_nodes_train_checkpoint_and_resume(cluster, tmp_path):
    """Weights go to the engine over the collective (gloo) path, from both ranks' gathered shards."""
    run_dir = tmp_path / "run"
    trainer = Trainer(build_config(_experiment(run_dir, zero_stage=3, steps=2, weight_sync="collective")))
    nodes: list[str] = []
    setup = trainer.setup

    def setup_and_look():
        resumed = setup()
        nodes.extend(_learner_nodes(trainer))
        return resumed

    trainer.setup = setup_and_look
    trainer.run()
    assert sorted(nodes) == [NODE_A, NODE_B]
    step2 = run_dir / "checkpoints" / "step_000002"
    assert is_complete(step2) and read_state(step2).step == 2
    assert {p.name for p in (step2 / "deepspeed" / "state").glob("*optim_states.pt")} >= {
        "zero_pp_rank_0_mp_rank_00_optim_states.pt", "zero_pp_rank_1_mp_rank_00_optim_states.pt"
    }  # fmt: skip

    # as if the run had died after step 2: one more step from its checkpoint, each rank loading its own shards
    shutil.rmtree(run_dir / "checkpoints" / "final")
    data = _experiment(run_dir, zero_stage=3, steps=3, weight_sync="collective")
    data["checkpoint"]["resume"] = "auto"
    Trainer(build_config(data)).run()
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in lines] == [1, 2, 3]
    # after each update broadcast over gloo, the engine samples with the learner's weights: same logprobs
    for m in lines:
        assert m["rollout/logprob_abs_diff"] < 1e-5, m["rollout/logprob_abs_diff"]
    final = run_dir / "checkpoints" / "final"
    assert is_complete(final) and read_state(final).step == 3

    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(final)
    assert sum(p.numel() for p in model.parameters()) > 0


def test_losing_a_node_stops_the_run_naming_it(cluster, tmp_path):
    """ZeRO-0 ranks on the two nodes (the transformers engine: quicker to start, and vLLM is not the point here);
    once step 1's checkpoint is complete, node B's raylet is killed."""
    run_dir = tmp_path / "run"
    data = _experiment(run_dir, zero_stage=0, steps=6)
    data["rollout"]["engine"] = "hf"
    trainer = Trainer(build_config(data))
    first = run_dir / "checkpoints" / "step_000001"

    def kill_when_saved():
        deadline = time.monotonic() + 300
        while not is_complete(first) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in cluster[NODE_B].raylet_pids():
            os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_when_saved, daemon=True)
    killer.start()
    with pytest.raises(TrainingFailed) as info:
        trainer.run()
    killer.join()
    message = str(info.value)
    assert f"lost node {NODE_B}" in message and "policy learner" in message, message
    last = latest_checkpoint(run_dir)
    assert last is not None and read_state(last).step >= 1, message
    assert str(last) in message
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(last)  # the checkpoint named is whole
