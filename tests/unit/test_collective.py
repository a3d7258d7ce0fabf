"""The bucketed weight broadcast of `rlpost.collective` over a real gloo group (two members, in threads)."""

from __future__ import annotations

import threading
from dataclasses import asdict

import torch

from rlpost.collective import GroupInfo, TensorMeta, buckets, join, metas_of, receive, send
from rlpost.learner.distributed import free_port


def test_buckets_keep_order_and_size_and_put_a_large_tensor_alone():
    metas = [TensorMeta("a", "float32", (4,)), TensorMeta("b", "float32", (2,)), TensorMeta("big", "float32", (10,)),
             TensorMeta("c", "bfloat16", (3,))]  # fmt: skip
    assert [m.nbytes for m in metas] == [16, 8, 40, 6]
    groups = buckets(metas, bucket_bytes=24)
    assert [[m.name for m in g] for g in groups] == [["a", "b"], ["big"], ["c"]]


def test_broadcast_over_gloo_gives_the_receiver_the_same_tensors():
    generator = torch.Generator().manual_seed(0)
    state = {
        "embed.weight": torch.randn(50, 8, generator=generator),
        "layer.0.weight": torch.randn(8, 8, generator=generator).to(torch.bfloat16),
        "layer.0.bias": torch.randn(8, generator=generator),
        "scale": torch.tensor(2.5),
        "steps": torch.arange(5),
    }
    state["lm_head.weight"] = state["embed.weight"]  # tied: sent under both names
    metas = metas_of(state)
    info = GroupInfo("127.0.0.1", free_port(), 2, timeout_s=30, backend="gloo", bucket_bytes=300)
    # the 1600-byte embedding and head alone, the four small tensors (128 + 32 + 4 + 40 bytes) together
    assert [len(b) for b in buckets(metas, info.bucket_bytes)] == [1, 4, 1]
    got: dict[str, torch.Tensor] = {}
    errors: list[BaseException] = []

    def member(rank: int) -> None:
        try:
            _store, group = join(info, rank, torch.device("cpu"))
            if rank == 0:
                send(group, state, metas, info.bucket_bytes, torch.device("cpu"))
            else:
                for bucket in receive(group, metas, info.bucket_bytes, torch.device("cpu")):
                    got.update((name, t.clone()) for name, t in bucket)
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            errors.append(e)

    threads = [threading.Thread(target=member, args=(r,)) for r in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert list(got) == list(state)
    for name, tensor in state.items():
        assert got[name].dtype == tensor.dtype and got[name].shape == tensor.shape, name
        assert torch.equal(got[name], tensor), name


def test_the_transformers_engine_takes_a_broadcast_in_place(tmp_path):
    """Member 0 sends changed weights; the engine (member 1) holds exactly them afterwards, tied head included."""
    from rlpost.rollout.hf_engine import HFEngine
    from rlpost.tinymodel import build_tiny_model

    engine = HFEngine(str(build_tiny_model(tmp_path / "model")), device="cpu", threads=1)
    state = {k: v + 0.5 for k, v in engine.model.state_dict().items()}
    metas = metas_of(state)
    info = GroupInfo("127.0.0.1", free_port(), 2, timeout_s=30, backend="gloo", bucket_bytes=4096)
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            _store, group = join(info, 0, torch.device("cpu"))
            send(group, state, metas, info.bucket_bytes, torch.device("cpu"))
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            errors.append(e)

    thread = threading.Thread(target=sender)
    thread.start()
    engine.join_weight_group(asdict(info), rank_offset=1)
    engine.receive_weights([[m.name, m.dtype, list(m.shape)] for m in metas])
    thread.join(60)
    assert not errors, errors
    after = engine.model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in state.items())
    assert torch.equal(engine.model.lm_head.weight, engine.model.model.embed_tokens.weight)
