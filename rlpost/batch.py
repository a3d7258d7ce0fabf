"""The data contract between the stages of a step.

One `RolloutBatch` holds B sequences (prompt + response, right-padded to T). Token-aligned
tensors are [B, T]: position t holds the value for token t given tokens < t, and
`response_mask` marks the response tokens the policy generated (in a multi-turn episode the
observations between its turns are in the sequence with mask 0). Each stage fills in
its named fields; none reshapes another's.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import torch


@dataclass
class RolloutBatch:
    # filled by rollout
    input_ids: torch.Tensor  # [B, T] long, right-padded with pad_id
    attention_mask: torch.Tensor  # [B, T] long, 1 on prompt and response tokens
    response_mask: torch.Tensor  # [B, T] float, 1 on response tokens
    rollout_logprobs: torch.Tensor  # [B, T] float, the rollout engine's logprobs of response tokens
    group_ids: torch.Tensor  # [B] long, equal for samples of the same prompt
    prompts: list[str]
    responses: list[str]
    envs: list[str]  # environment name per sample
    references: list[dict]  # reference fields per sample
    truncated: torch.Tensor  # [B] bool, response stopped by the token budget
    bindings: list[str] = field(default_factory=list)  # reward binding key per sample (the env's config key path)
    policy_versions: torch.Tensor | None = None  # [B] long, the weight version that generated each sample
    episodes: list[dict] = field(default_factory=list)  # multi-turn batches: each sample's turns and outcome
    # filled by reward workers
    rewards: torch.Tensor | None = None  # [B] float, weighted total
    reward_components: dict[str, torch.Tensor] = field(default_factory=dict)  # name -> [B]
    reward_errors: list[str | None] = field(default_factory=list)
    baseline_responses: list[str] = field(default_factory=list)  # the prompt's greedy response per sample (ReMax)
    baseline_rewards: torch.Tensor | None = None  # [B] float, reward of the prompt's greedy response (ReMax)
    baseline_episodes: list[dict] = field(default_factory=list)  # multi-turn: the greedy episodes' turns and outcome
    # filled by learners and algorithms
    old_logprobs: torch.Tensor | None = None  # [B, T]
    ref_logprobs: torch.Tensor | None = None  # [B, T]
    values: torch.Tensor | None = None  # [B, T], the critic's values before the update (PPO)
    advantages: torch.Tensor | None = None  # [B, T]
    returns: torch.Tensor | None = None  # [B, T], value targets (PPO)

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    @property
    def response_lengths(self) -> torch.Tensor:
        """[B] number of response tokens."""
        return self.response_mask.sum(-1)

    def select(self, index: torch.Tensor) -> RolloutBatch:
        """The sub-batch of rows `index` (1-D long tensor), every field sliced alike."""
        idx = index.tolist()
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, torch.Tensor):
                out[f.name] = value[index]
            elif isinstance(value, dict):
                out[f.name] = {k: v[index] for k, v in value.items()}
            elif isinstance(value, list) and value:
                out[f.name] = [value[i] for i in idx]
            else:
                out[f.name] = value
        return RolloutBatch(**out)

    def to(self, device: torch.device | str) -> RolloutBatch:
        """The same rows with every tensor field on `device` (fields already there are not copied)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, torch.Tensor):
                value = value.to(device)
            elif isinstance(value, dict):
                value = {k: v.to(device) for k, v in value.items()}
            out[f.name] = value
        return RolloutBatch(**out)

    def trimmed(self) -> RolloutBatch:
        """The same rows with [B, T] fields cut to the longest sequence (drops all-padding columns)."""
        width = int(self.attention_mask.sum(-1).max())
        if width == self.input_ids.shape[1]:
            return self
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value[:, :width] if isinstance(value, torch.Tensor) and value.dim() == 2 else value
        return RolloutBatch(**out)


def concat_batches(batches: list[RolloutBatch], pad_id: int) -> RolloutBatch:
    """Rows of all `batches` in order; [B, T] fields are right-padded to the widest (pad_id for
    input_ids, 0 elsewhere). Fields must be set alike in every batch."""
    width = max(b.input_ids.shape[1] for b in batches)

    def widen(t: torch.Tensor, name: str) -> torch.Tensor:
        if t.dim() < 2 or t.shape[1] == width:
            return t
        return torch.nn.functional.pad(t, (0, width - t.shape[1]), value=pad_id if name == "input_ids" else 0)

    out = {}
    for f in fields(RolloutBatch):
        values = [getattr(b, f.name) for b in batches]
        first = values[0]
        if isinstance(first, torch.Tensor):
            out[f.name] = torch.cat([widen(v, f.name) for v in values])
        elif isinstance(first, dict):
            out[f.name] = {k: torch.cat([v[k] for v in values]) for k in first}
        elif isinstance(first, list):
            out[f.name] = [x for v in values for x in v]
        else:
            out[f.name] = first
    return RolloutBatch(**out)


def pad_sequences(
    prompts: list[list[int]], responses: list[list[int]], pad_id: int, masks: list[list[int]] | None = None
) -> tuple[torch.Tensor, ...]:
    """Join prompt and response token ids and right-pad; `masks` (per response token, default all 1) are
    the response_mask of each response.

    Returns input_ids [B, T] long, attention_mask [B, T] long, response_mask [B, T] float.
    """
    lengths = [len(p) + len(r) for p, r in zip(prompts, responses)]
    width = max(lengths)
    batch = len(prompts)
    input_ids = torch.full((batch, width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((batch, width), dtype=torch.long)
    response_mask = torch.zeros((batch, width), dtype=torch.float32)
    for i, (p, r) in enumerate(zip(prompts, responses)):
        input_ids[i, : lengths[i]] = torch.tensor(p + r, dtype=torch.long)
        attention_mask[i, : lengths[i]] = 1
        response_mask[i, len(p) : lengths[i]] = 1.0 if masks is None else torch.tensor(masks[i], dtype=torch.float32)
    return input_ids, attention_mask, response_mask


def scatter_response_values(values: list[list[float]], prompt_lengths: list[int], width: int) -> torch.Tensor:
    """Place per-response-token values (e.g. logprobs) at their positions in a [B, width] tensor."""
    out = torch.zeros((len(values), width), dtype=torch.float32)
    for i, (vals, start) in enumerate(zip(values, prompt_lengths)):
        if vals:
            out[i, start : start + len(vals)] = torch.tensor(vals, dtype=torch.float32)
    return out
