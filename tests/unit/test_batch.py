"""The rollout batch contract: padding, response masks, value placement and sub-batch selection."""

from __future__ import annotations

import torch
from torch.testing import assert_close

from rlpost.batch import RolloutBatch, pad_sequences, scatter_response_values

PAD = 0


def test_pad_sequences_hand_example():
    prompts = [[11, 12], [21, 22, 23]]
    responses = [[13, 14, 15], [24]]
    input_ids, attention_mask, response_mask = pad_sequences(prompts, responses, pad_id=PAD)

    assert input_ids.shape == attention_mask.shape == response_mask.shape == (2, 5)
    assert input_ids.dtype == torch.long and attention_mask.dtype == torch.long and response_mask.dtype == torch.float32
    assert input_ids.tolist() == [[11, 12, 13, 14, 15], [21, 22, 23, 24, PAD]]
    assert attention_mask.tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]]
    assert response_mask.tolist() == [[0, 0, 1, 1, 1], [0, 0, 0, 1, 0]]


def test_pad_sequences_uses_the_given_pad_id_and_handles_empty_responses():
    input_ids, attention_mask, response_mask = pad_sequences([[5], [6, 7, 8]], [[], [9]], pad_id=99)
    assert input_ids.tolist() == [[5, 99, 99, 99], [6, 7, 8, 9]]
    assert attention_mask.tolist() == [[1, 0, 0, 0], [1, 1, 1, 1]]
    assert response_mask.tolist() == [[0, 0, 0, 0], [0, 0, 0, 1]]


def test_pad_sequences_masks_agree_with_lengths():
    prompts = [[1] * 4, [2] * 1, [3] * 6]
    responses = [[4] * 2, [5] * 7, [6] * 0]
    input_ids, attention_mask, response_mask = pad_sequences(prompts, responses, pad_id=PAD)
    assert input_ids.shape == (3, 8)
    assert attention_mask.sum(-1).tolist() == [6, 8, 6]
    assert response_mask.sum(-1).tolist() == [2.0, 7.0, 0.0]
    # every response position is attended to; no response position is padding
    assert bool((response_mask <= attention_mask.float()).all())
    assert bool((input_ids[attention_mask == 0] == PAD).all())


def test_scatter_response_values_places_values_after_the_prompt():
    out = scatter_response_values([[0.5, -1.0, 2.0], [], [3.0]], prompt_lengths=[2, 1, 4], width=6)
    assert out.dtype == torch.float32 and out.shape == (3, 6)
    expected = torch.tensor(
        [
            [0.0, 0.0, 0.5, -1.0, 2.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 3.0, 0.0],
        ]
    )
    assert_close(out, expected)


def test_scatter_matches_pad_sequences_response_mask():
    prompts = [[1, 2, 3], [4]]
    responses = [[5, 6], [7, 8, 9, 10]]
    _, _, response_mask = pad_sequences(prompts, responses, pad_id=PAD)
    values = [[1.0] * len(r) for r in responses]
    out = scatter_response_values(values, [len(p) for p in prompts], response_mask.shape[1])
    assert_close(out, response_mask)


def _batch() -> RolloutBatch:
    prompts_ids = [[1, 2], [3], [4, 5, 6], [7]]
    responses_ids = [[8], [9, 10], [11], [12, 13, 14]]
    input_ids, attention_mask, response_mask = pad_sequences(prompts_ids, responses_ids, pad_id=PAD)
    width = input_ids.shape[1]
    logprobs = scatter_response_values(
        [[-0.1 * (i + 1)] * len(r) for i, r in enumerate(responses_ids)], [len(p) for p in prompts_ids], width
    )
    return RolloutBatch(
        input_ids=input_ids,
        attention_mask=attention_mask,
        response_mask=response_mask,
        rollout_logprobs=logprobs,
        group_ids=torch.tensor([0, 0, 1, 1]),
        prompts=["p0", "p1", "p2", "p3"],
        responses=["r0", "r1", "r2", "r3"],
        envs=["a", "a", "b", "b"],
        references=[{"answer": str(i)} for i in range(4)],
        truncated=torch.tensor([False, True, False, True]),
        rewards=torch.tensor([0.0, 1.0, 2.0, 3.0]),
        reward_components={"exact": torch.tensor([10.0, 11.0, 12.0, 13.0]), "exact/correct": torch.tensor([0.0, 1.0, 0.0, 1.0])},
        reward_errors=[None, "e1", None, "e3"],
    )


def test_batch_len_and_response_lengths():
    batch = _batch()
    assert len(batch) == 4
    assert batch.response_lengths.tolist() == [1.0, 2.0, 1.0, 3.0]


def test_select_slices_every_field_alike():
    batch = _batch()
    index = torch.tensor([3, 1])
    sub = batch.select(index)

    assert len(sub) == 2
    for name in ("input_ids", "attention_mask", "response_mask", "rollout_logprobs", "group_ids", "truncated", "rewards"):
        assert torch.equal(getattr(sub, name), getattr(batch, name)[index]), name
    assert sub.prompts == ["p3", "p1"]
    assert sub.responses == ["r3", "r1"]
    assert sub.envs == ["b", "a"]
    assert sub.references == [{"answer": "3"}, {"answer": "1"}]
    assert sub.reward_errors == ["e3", "e1"]
    assert set(sub.reward_components) == {"exact", "exact/correct"}
    assert sub.reward_components["exact"].tolist() == [13.0, 11.0]
    assert sub.reward_components["exact/correct"].tolist() == [1.0, 1.0]
    assert sub.response_lengths.tolist() == [3.0, 2.0]
    # unset optional fields stay unset
    assert sub.old_logprobs is None and sub.ref_logprobs is None and sub.advantages is None


def test_select_does_not_modify_the_source_batch():
    batch = _batch()
    sub = batch.select(torch.tensor([0]))
    sub.rewards[0] = 100.0
    sub.prompts[0] = "changed"
    sub.reward_components["exact"][0] = -1.0
    assert batch.rewards.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert batch.prompts[0] == "p0"
    assert batch.reward_components["exact"][0].item() == 10.0


def test_select_with_empty_optional_lists():
    batch = _batch()
    batch.reward_errors = []
    batch.reward_components = {}
    sub = batch.select(torch.tensor([2, 0]))
    assert sub.reward_errors == [] and sub.reward_components == {}
    assert sub.prompts == ["p2", "p0"]


def test_trimmed_drops_all_padding_columns_only():
    ids, attn, resp = pad_sequences([[1, 2], [1, 2]], [[3], [3, 4]], pad_id=0)
    ids = torch.nn.functional.pad(ids, (0, 3))
    attn, resp = torch.nn.functional.pad(attn, (0, 3)), torch.nn.functional.pad(resp, (0, 3))
    batch = RolloutBatch(
        input_ids=ids, attention_mask=attn, response_mask=resp, rollout_logprobs=torch.zeros_like(resp),
        group_ids=torch.tensor([0, 0]), prompts=["a", "a"], responses=["b", "bc"], envs=["e", "e"], references=[{}, {}],
        truncated=torch.tensor([False, False]), rewards=torch.tensor([1.0, 0.0]),
    )  # fmt: skip
    out = batch.trimmed()
    assert out.input_ids.shape == (2, 4) and out.response_mask.shape == (2, 4)
    assert torch.equal(out.input_ids, batch.input_ids[:, :4]) and torch.equal(out.rewards, batch.rewards)
    assert out.trimmed() is out
