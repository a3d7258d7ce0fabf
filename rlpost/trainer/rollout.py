"""Steps 1–2 of a step: draw task rows, generate `n` responses per row (and one greedy response per
row for algorithms with a greedy baseline), and lay them out as a `RolloutBatch`. A multi-turn
environment's responses are whole episodes (`rlpost.multiturn.runner`): observations are in the
sequence with response_mask 0."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from rlpost.batch import RolloutBatch, pad_sequences, scatter_response_values
from rlpost.config import RolloutConfig, TurnsConfig
from rlpost.data import PromptSampler
from rlpost.multiturn.runner import run_episodes
from rlpost.rollout import SamplingSpec
from rlpost.trainer.protocols import RolloutEngines


@dataclass(frozen=True)
class RolloutPlan:
    """How to sample one rollout batch."""

    prompts: int  # task rows drawn
    sampling: SamplingSpec  # the `n` responses per row
    greedy_baseline: bool  # also one greedy response per row (batch.baseline_responses)
    pad_id: int
    turns: TurnsConfig = field(default_factory=TurnsConfig)  # limits of multi-turn episodes

    @classmethod
    def from_config(cls, cfg: RolloutConfig, greedy_baseline: bool, pad_id: int) -> RolloutPlan:
        spec = SamplingSpec(n=cfg.n, max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_p=cfg.top_p)
        return cls(cfg.prompts_per_step, spec, greedy_baseline, pad_id, cfg.turns)


def rollout(
    engines: RolloutEngines, tokenizer, sampler: PromptSampler, plan: RolloutPlan, timer, group_offset: int = 0,
    version: int = 0,
) -> RolloutBatch:  # fmt: skip
    """`plan.prompts` rows from `sampler`, their responses from `engines`; group ids start at `group_offset`,
    every sample is stamped with the weight `version` that generated it."""
    picks = sampler.sample(plan.prompts)
    with timer("rollout"):
        prompt_ids, groups = run_episodes(engines.generate, tokenizer, picks, plan.sampling, plan.turns)
    greedy = None
    if plan.greedy_baseline:
        with timer("baseline_rollout"):
            spec = SamplingSpec(n=1, max_new_tokens=plan.sampling.max_new_tokens, temperature=0.0)
            greedy = [g[0] for g in run_episodes(engines.generate, tokenizer, picks, spec, plan.turns)[1]]
    multi_turn = any(env.interaction is not None for env in sampler.envs)  # per stage, so every round of a step agrees
    rows_prompt, meta = [], []
    for j, ((env, row), trajectories) in enumerate(zip(picks, groups)):
        for t in trajectories:
            rows_prompt.append(prompt_ids[j])
            meta.append((j, env, row, t))
    trajs = [m[3] for m in meta]
    input_ids, attention_mask, response_mask = pad_sequences(
        rows_prompt, [t.token_ids for t in trajs], plan.pad_id, [t.policy_mask for t in trajs]
    )
    return RolloutBatch(
        input_ids=input_ids,
        attention_mask=attention_mask,
        response_mask=response_mask,
        rollout_logprobs=scatter_response_values([t.logprobs for t in trajs], [len(p) for p in rows_prompt], input_ids.shape[1]),
        group_ids=torch.tensor([group_offset + m[0] for m in meta]),
        prompts=[m[2]["prompt"] for m in meta],
        responses=[t.text for t in trajs],
        envs=[m[1].name for m in meta],
        references=[m[1].references(m[2]) for m in meta],
        truncated=torch.tensor([t.truncated for t in trajs]),
        bindings=[m[1].binding for m in meta],
        policy_versions=torch.full((len(meta),), version, dtype=torch.long),
        baseline_responses=[greedy[m[0]].text for m in meta] if greedy else [],
        episodes=[t.record() for t in trajs] if multi_turn else [],
        baseline_episodes=[greedy[m[0]].record() for m in meta] if greedy and multi_turn else [],
    )
