"""The supervised warm-up gives bit-identical weights whatever its thread count (it runs in a child
process with pinned CPU kernels, rlpost.sft_train.PINNED_ENV), and the arithmetic environment's
warm-up targets (`warmup_correct`, `mistake`, `carry_share`)."""

from __future__ import annotations

import hashlib

import pytest

from envs.arithmetic import make_rows, no_carry


def _digest(model_dir) -> str:
    from safetensors.torch import load_file

    state = load_file(model_dir / "model.safetensors")
    return hashlib.sha256(b"".join(k.encode() + state[k].numpy().tobytes() for k in sorted(state))).hexdigest()


def test_warmup_weights_do_not_depend_on_thread_count(tmp_path, monkeypatch):
    """sft_train pins its torch threads (SFT_THREADS) for speed, not for the numbers: 1 and 3 threads give
    the same bits; the log callback gets the child's losses; the caller's threads are left alone."""
    import torch

    import rlpost.sft_train as sft
    from rlpost.tinymodel import TinySpec, build_tiny_model

    spec = TinySpec(hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1, intermediate_size=64, max_position=32)
    base = build_tiny_model(tmp_path / "base", spec)
    rows = make_rows("train", digits=2, train_size=256, test_size=8, warmup_correct=0.3, mistake="drop_carry")
    pairs = [(r["prompt"], r["target"]) for r in rows]
    before = torch.get_num_threads()
    digests, logged = [], []
    for threads in (1, 3):
        monkeypatch.setattr(sft, "SFT_THREADS", threads)
        settings = sft.SFTSettings(steps=20, batch_size=32, lr=3e-3, seed=0)
        out = sft.sft_train(base, pairs, settings, tmp_path / f"w{threads}", lambda step, v: logged.append((step, v)))
        assert torch.get_num_threads() == before
        digests.append(_digest(out))
    assert [step for step, _ in logged] == list(range(2, 21, 2)) * 2 and all("sft/loss" in v for _, v in logged)
    assert digests[0] == digests[1]
    assert digests[0] != _digest(base)  # it did train


def test_no_carry_mistake():
    assert no_carry(47, "+", 38) == 75 and no_carry(67, "+", 58) == 15 and no_carry(12, "+", 34) == 46
    assert no_carry(52, "-", 38) == 26 and no_carry(38, "-", 52) == -26 and no_carry(7, "*", 8) == 56


@pytest.mark.parametrize("reverse", [False, True])
def test_warmup_targets_mix_true_answers_and_the_mistake(reverse):
    plain = make_rows("train", digits=2, reverse=reverse)
    mixed = make_rows("train", digits=2, warmup_correct=0.3, reverse=reverse)
    assert [r["prompt"] for r in plain] == [r["prompt"] for r in mixed]  # same problems, same order
    assert [r["answer"] for r in plain] == [r["answer"] for r in mixed]  # the reward's answer is the true one
    assert "target" not in plain[0]
    differ = [r for r in mixed if no_carry(*_operands(r["prompt"])) != int(_unwrite(r["answer"], reverse))]
    right = sum(r["target"] == r["answer"] for r in differ) / len(differ)
    assert 0.25 < right < 0.35  # the share of carry problems the warm-up answers right
    for r in mixed:
        a, op, b = _operands(r["prompt"])
        assert r["target"] in (r["answer"], _write(no_carry(a, op, b), reverse))
    half = make_rows("test", digits=2, warmup_correct=0.5)
    assert make_rows("test", digits=2) == [{k: v for k, v in r.items() if k != "target"} for r in half]


def test_reverse_writes_units_first():
    rows = make_rows("train", digits=2, ops="+-", reverse=True, train_size=50, test_size=5)
    for r in rows:
        a, op, b = _operands(r["prompt"])
        assert int(_unwrite(r["answer"], True)) == (a + b if op == "+" else a - b)


def test_bad_warmup_params():
    with pytest.raises(ValueError, match="warmup_correct"):
        make_rows("train", warmup_correct=1.5)
    with pytest.raises(ValueError, match="mistake"):
        make_rows("train", warmup_correct=0.5, mistake="nope")


def _operands(prompt: str) -> tuple[int, str, int]:
    body = prompt[:-1]
    op = next(c for c in "+-*" if c in body[1:])
    a, b = body.split(op, 1)
    return int(a), op, int(b)


def _write(value: int, reverse: bool) -> str:
    return ("-" if value < 0 else "") + str(abs(value))[::-1] if reverse else str(value)


def _unwrite(text: str, reverse: bool) -> str:
    return ("-" if text.startswith("-") else "") + text.lstrip("-")[::-1] if reverse else text
