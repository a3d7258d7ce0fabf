"""The one place in the schema for devices and placement (`cluster.gpus`, `cluster.placement`, the vLLM
GPU keys, dtype defaults), device choice inside actors, and the shared-storage verdict."""

from __future__ import annotations

import copy

import pytest
import torch

from rlpost.cluster.storage import unshared
from rlpost.config import ConfigError, build_config
from rlpost.devices import actor_device, node_cores, set_threads

BASE = {"stages": [{"envs": [{"name": "arithmetic"}]}]}


def config(**sections):
    data = copy.deepcopy(BASE)
    for name, values in sections.items():
        data[name] = values
    return build_config(data)


def test_cpu_defaults_keep_float32_and_eager_and_no_gpus():
    cfg = config()
    assert cfg.cluster.gpus == 0 and cfg.cluster.use_gpu is False and cfg.cluster.placement == "pack"
    assert cfg.model.dtype == "float32" and cfg.rollout.enforce_eager is True
    assert cfg.cluster.weight_sync == "object_store"


def test_gpus_default_to_bfloat16_and_cuda_graphs():
    cfg = config(cluster={"gpus": 4})
    assert cfg.cluster.use_gpu is True and cfg.model.dtype == "bfloat16" and cfg.rollout.enforce_eager is False
    explicit = config(cluster={"gpus": 4}, model={"dtype": "float32"}, rollout={"enforce_eager": True})
    assert explicit.model.dtype == "float32" and explicit.rollout.enforce_eager is True


def test_use_gpu_alone_takes_what_the_layout_needs():
    # 2 engines x tensor parallel 2, 2 policy ranks, the reference (kl_coef > 0): 7 GPUs
    cfg = config(cluster={"use_gpu": True}, rollout={"num_engines": 2, "tensor_parallel_size": 2},
                 learner={"num_workers": 2, "micro_batch_size": 8}, algorithm={"kl_coef": 0.01})  # fmt: skip
    assert cfg.gpus_needed == 7 and cfg.cluster.gpus == 7


def test_too_few_gpus_for_the_layout_is_a_config_error():
    # one engine, two policy ranks, the reference
    with pytest.raises(ConfigError, match=r"^cluster\.gpus: the actor layout needs 4 GPUs, got 2$"):
        config(cluster={"gpus": 2}, learner={"num_workers": 2, "micro_batch_size": 8}, algorithm={"kl_coef": 0.01})


def test_tensor_parallel_needs_gpus():
    with pytest.raises(ConfigError, match=r"^rollout\.tensor_parallel_size: splits an engine over GPUs"):
        config(rollout={"tensor_parallel_size": 2})


@pytest.mark.parametrize("key, value", [("placement", "scatter"), ("weight_sync", "nccl"), ("gpus", -1)])
def test_bad_cluster_values_name_the_key(key, value):
    with pytest.raises(ConfigError, match=rf"^cluster\.{key}: "):
        config(cluster={key: value})


def test_the_device_is_what_was_asked_or_the_cpu_without_gpus():
    assert actor_device("cpu") == torch.device("cpu")
    expected = torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    assert actor_device() == expected


def test_threads_default_to_this_nodes_cores():
    before = torch.get_num_threads()
    try:
        assert set_threads(None) == node_cores() == torch.get_num_threads()
        assert set_threads(1) == 1 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def test_unshared_names_each_node_and_why():
    results = [("10.0.0.1", True, ""), ("10.0.0.2", False, ""), ("10.0.0.3", True, "PermissionError: denied"),
               ("10.0.0.4", True, "")]  # fmt: skip
    bad = unshared(results, driver_reads=lambda ip: ip != "10.0.0.4")
    assert bad == [
        "10.0.0.2 (does not see the driver's file)",
        "10.0.0.3 (cannot write there: PermissionError: denied)",
        "10.0.0.4 (its file does not reach the driver)",
    ]
    assert unshared(results[:1], driver_reads=lambda ip: True) == []
