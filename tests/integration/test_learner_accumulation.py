"""DeepSpeed learners give the same update however a mini-batch is split.

One rank with one micro-batch of 8, one rank with 4 accumulated micro-batches of 2, two
data-parallel ranks with micro-batches of 2, and micro-batches packed by a token budget (on two
ranks a different number per rank) must produce the same gradient norm and weights."""

from __future__ import annotations

import functools

import pytest
import ray
import torch

from rlpost.batch import RolloutBatch, pad_sequences
from rlpost.cluster.actors import PolicyActor
from rlpost.cluster.runtime import actor_options
from rlpost.config import AlgorithmConfig
from rlpost.learner.distributed import free_port
from rlpost.learner.policy import LearnerSpec
from rlpost.tinymodel import build_tiny_model

pytestmark = pytest.mark.slow


def _batch() -> RolloutBatch:
    gen = torch.Generator().manual_seed(0)
    prompts = [torch.randint(10, 100, (3,), generator=gen).tolist() for _ in range(8)]
    responses = [torch.randint(10, 100, (int(n),), generator=gen).tolist() for n in [1, 2, 7, 5, 3, 3, 6, 4]]
    ids, attn, mask = pad_sequences(prompts, responses, pad_id=0)
    adv = torch.tensor([1.0, -0.5, 0.3, -1.2, 0.8, -0.1, 0.4, -0.9]).unsqueeze(-1) * mask
    return RolloutBatch(
        input_ids=ids,
        attention_mask=attn,
        response_mask=mask,
        rollout_logprobs=torch.zeros_like(mask),
        group_ids=torch.arange(8) // 4,
        prompts=["p"] * 8,
        responses=["r"] * 8,
        envs=["e"] * 8,
        references=[{}] * 8,
        truncated=torch.zeros(8, dtype=torch.bool),
        advantages=adv,
    )


@functools.cache
def _train(
    model: str, micro: int, world: int, loss_agg: str, zero: int = 2, clip: float = 0.0, budget: int | None = None
) -> tuple[float, dict[str, torch.Tensor]]:
    """Grad norm and weights after one mini-batch on fresh learners; deterministic, so each split is trained
    once per module and the tests that compare against it share the result."""
    spec = LearnerSpec(model, "float32", zero, 1e-2, 0.0, clip, 8, micro, 1, world, 1, 1.0, 8, 0, micro_token_budget=budget)
    params = AlgorithmConfig(loss_agg=loss_agg).model_dump()
    port = free_port()
    actors = [PolicyActor.options(**actor_options()).remote(spec, params, rank, "127.0.0.1", port) for rank in range(world)]
    try:
        batch = _batch()
        # old logprobs slightly off the current policy so the ratio (and clipping) matters
        batch.old_logprobs = (ray.get(actors[0].compute_logprobs.remote(batch, False)) + 0.05) * batch.response_mask
        ref = ray.put(batch)
        stats = ray.get([a.train.remote(ref) for a in actors], timeout=600)
        weights = ray.get(actors[0].full_state_dict.remote())
    finally:
        for a in actors:
            ray.kill(a)
    return stats[0]["grad_norm"], weights


def assert_same_update(weights: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    """Adam's first step is lr * g / (|g| + eps): a coordinate whose gradient is near zero amplifies
    rounding into a sizeable share of the step, so a few may differ; a wrong split moves every weight
    by about lr (1e-2). Hence: no weight off by a tenth of a step, and all but 0.1 % of the model's
    weights within 1e-5."""
    assert set(weights) == set(expected)
    diff = torch.cat([(weights[n] - t).abs().flatten() for n, t in expected.items()])
    assert diff.max().item() < 1e-3
    assert (diff > 1e-5).float().mean().item() < 1e-3


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False)
    return str(build_tiny_model(tmp_path_factory.mktemp("acc") / "model"))


@pytest.mark.parametrize("loss_agg", ["token-mean", "seq-mean-token-sum-norm"])
def test_same_update_for_any_split(model_dir, loss_agg):
    norm_full, w_full = _train(model_dir, micro=8, world=1, loss_agg=loss_agg)
    norm_acc, w_acc = _train(model_dir, micro=2, world=1, loss_agg=loss_agg)
    norm_dp, w_dp = _train(model_dir, micro=2, world=2, loss_agg=loss_agg)
    assert norm_full > 0
    # the weights shipped to rollout engines carry each tensor's own bytes, not ZeRO's flat buffer
    assert sum(t.untyped_storage().nbytes() for t in w_full.values()) == sum(
        t.numel() * t.element_size() for t in w_full.values()
    )
    assert norm_acc == pytest.approx(norm_full, rel=1e-4)
    assert norm_dp == pytest.approx(norm_full, rel=1e-4)
    assert_same_update(w_acc, w_full)
    assert_same_update(w_dp, w_full)


def test_learner_clipping_without_zero_matches_deepspeed(model_dir):
    """ZeRO-0 in float32 clips from the learner's own norm; ZeRO-2 lets DeepSpeed clip: same update."""
    norm_ds, w_ds = _train(model_dir, micro=2, world=1, loss_agg="token-mean", zero=2, clip=0.1)
    norm_own, w_own = _train(model_dir, micro=2, world=1, loss_agg="token-mean", zero=0, clip=0.1)
    _, w_free = _train(model_dir, micro=2, world=1, loss_agg="token-mean")  # unclipped (any ZeRO stage: the same)
    assert norm_own == pytest.approx(norm_ds, rel=1e-4) and norm_own > 0.1  # the clip is active
    for name, ds in w_ds.items():
        torch.testing.assert_close(w_own[name], ds, atol=1e-5, rtol=0)
    assert max((w_free[n] - w_ds[n]).abs().max().item() for n in w_ds) > 1e-3


def test_token_budget_micro_batches_give_the_same_update(model_dir):
    """Rows of 4..10 tokens with a budget of 16: one rank packs 5 micro-batches (10 | 9 | 8,7 | 6,6 | 5,4);
    on two ranks rank 0 (lengths 4, 10, 6, 9) packs 3 and rank 1 (5, 8, 6, 7) packs 2. Against the one micro-batch
    of 8 (ZeRO-2): packing on ZeRO-0 and on ZeRO-2 both give its update."""
    norm_full, w_full = _train(model_dir, micro=8, world=1, loss_agg="token-mean")
    for world, zero in ((1, 0), (2, 2)):
        norm, weights = _train(model_dir, micro=8, world=world, loss_agg="token-mean", zero=zero, budget=16)
        assert norm == pytest.approx(norm_full, rel=1e-4)
        assert_same_update(weights, w_full)
