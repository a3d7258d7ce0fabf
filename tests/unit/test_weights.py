"""Weights packed for Ray's object store: same values back, out-of-band buffers, each tensor's own bytes."""

from __future__ import annotations

import pickle

import pytest
import torch

from rlpost.cluster.weights import pack, unpack


def _roundtrip(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], int, int]:
    """Pickle as Ray does (protocol 5, buffers out of band); returns (state, out-of-band bytes, buffer count)."""
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(pack(state), protocol=5, buffer_callback=buffers.append)
    back = pickle.loads(data, buffers=buffers)
    return unpack(back), sum(b.raw().nbytes for b in buffers), len(buffers)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_roundtrip_keeps_values_and_dtype(dtype):
    state = {"a.weight": torch.randn(4, 3).to(dtype), "b.bias": torch.randn(5).to(dtype)}
    back, _, _ = _roundtrip(state)
    assert back.keys() == state.keys()
    for name, tensor in state.items():
        assert back[name].dtype == dtype
        assert torch.equal(back[name], tensor)


def test_tied_tensors_travel_once():
    emb = torch.randn(16, 8)
    back, nbytes, count = _roundtrip({"model.embed_tokens.weight": emb, "lm_head.weight": emb, "norm.weight": torch.ones(8)})
    assert count == 2 and nbytes == emb.nbytes + 8 * 4
    assert back["lm_head.weight"].data_ptr() == back["model.embed_tokens.weight"].data_ptr()


def test_views_of_a_flat_buffer_ship_their_own_bytes():
    flat = torch.randn(10_000)  # as ZeRO keeps parameters: views into one buffer
    state = {"a": flat[:12].view(3, 4), "b": flat[100:110]}
    back, nbytes, _ = _roundtrip(state)
    assert nbytes == (12 + 10) * 4
    assert torch.equal(back["a"], state["a"]) and torch.equal(back["b"], state["b"])


def test_unpacked_tensors_share_the_arrays_memory():
    packed = pack({"w": torch.arange(6.0)})
    array, _ = packed["w"]
    assert unpack(packed)["w"].data_ptr() == array.ctypes.data


def test_non_cpu_tensor_is_refused():
    with pytest.raises(ValueError, match="expected cpu"):
        pack({"w": torch.empty(2, device="meta")})
