"""Steps 1–2 of a step: draw task rows, generate `n` responses per row (and one greedy response per
row for algorithms with a greedy baseline), and lay them out as a `RolloutBatch`."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rlpost.batch import RolloutBatch, pad_sequences, scatter_response_values
from rlpost.config import RolloutConfig
from rlpost.data import PromptSampler
from rlpost.rollout import SamplingSpec
from rlpost.trainer.protocols import RolloutEngines


@dataclass(frozen=True)
class RolloutPlan:
    """How to sample one rollout batch."""

    prompts: int  # task rows drawn
    sampling: SamplingSpec  # the `n` responses per row
    greedy_baseline: bool  # also one greedy response per row (batch.baseline_responses)
    pad_id: int

    @classmethod
    def from_config(cls, cfg: RolloutConfig, greedy_baseline: bool, pad_id: int) -> RolloutPlan:
        spec = SamplingSpec(n=cfg.n, max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_p=cfg.top_p)
        return cls(cfg.prompts_per_step, spec, greedy_baseline, pad_id)


def rollout(
    engines: RolloutEngines, tokenizer, sampler: PromptSampler, plan: RolloutPlan, timer, group_offset: int = 0,
    version: int = 0,
) -> RolloutBatch:  # fmt: skip
    """`plan.prompts` rows from `sampler`, their responses from `engines`; group ids start at `group_offset`,
    every sample is stamped with the weight `version` that generated it."""
    picks = sampler.sample(plan.prompts)
    prompt_ids = [env.render(tokenizer, row["prompt"]) for env, row in picks]
    with timer("rollout"):
        groups = engines.generate(prompt_ids, plan.sampling)
    greedy = None
    if plan.greedy_baseline:
        with timer("baseline_rollout"):
            spec = SamplingSpec(n=1, max_new_tokens=plan.sampling.max_new_tokens, temperature=0.0)
            greedy = engines.generate(prompt_ids, spec)
    rows_prompt, rows_resp, logprobs, meta = [], [], [], []
    for j, ((env, row), completions) in enumerate(zip(picks, groups)):
        for c in completions:
            rows_prompt.append(prompt_ids[j])
            rows_resp.append(c.token_ids)
            logprobs.append(c.logprobs)
            meta.append((j, env, row, c))
    input_ids, attention_mask, response_mask = pad_sequences(rows_prompt, rows_resp, plan.pad_id)
    return RolloutBatch(
        input_ids=input_ids,
        attention_mask=attention_mask,
        response_mask=response_mask,
        rollout_logprobs=scatter_response_values(logprobs, [len(p) for p in rows_prompt], input_ids.shape[1]),
        group_ids=torch.tensor([group_offset + m[0] for m in meta]),
        prompts=[m[2]["prompt"] for m in meta],
        responses=[m[3].text for m in meta],
        envs=[m[1].name for m in meta],
        references=[m[1].references(m[2]) for m in meta],
        truncated=torch.tensor([m[3].truncated for m in meta]),
        bindings=[m[1].binding for m in meta],
        policy_versions=torch.full((len(meta),), version, dtype=torch.long),
        baseline_responses=[greedy[m[0]][0].text for m in meta] if greedy else [],
    )
