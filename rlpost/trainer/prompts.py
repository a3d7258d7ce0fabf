"""Prompt token budgets: the padding id, and the longest prompt of every row the run may draw
(training and evaluation splits, all rows), so the engines' context fits them all."""

from __future__ import annotations

from dataclasses import dataclass

from rlpost.config import ConfigError, RolloutConfig
from rlpost.data import LoadedEnv

HEADROOM = 8  # tokens beyond prompt + response in the engines' context


def pad_token_id(tokenizer) -> int:
    """The tokenizer's pad token, else its EOS (many causal LMs ship without a pad token), else 0.
    Padding is masked out everywhere, so only its being a valid id matters."""
    for token_id in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if token_id is not None:
            return int(token_id)
    return 0


@dataclass(frozen=True)
class LongestPrompt:
    tokens: int
    env: str  # the environment's key path and name
    row: int  # row index in the split as loaded


def prompt_lengths(tokenizer, env: LoadedEnv) -> list[int]:
    """Token count of every row's rendered prompt."""
    prompts = env.rows["prompt"]
    if env.spec.chat:
        return [len(env.render(tokenizer, p)) for p in prompts]
    return [len(ids) for ids in tokenizer(list(prompts), add_special_tokens=False)["input_ids"]]


def longest_prompt(tokenizer, envs: list[LoadedEnv]) -> LongestPrompt:
    best = LongestPrompt(0, "", -1)
    for env in envs:
        lengths = prompt_lengths(tokenizer, env)
        row = max(range(len(lengths)), key=lengths.__getitem__)
        if lengths[row] > best.tokens:
            best = LongestPrompt(lengths[row], f"{env.binding} ({env.name})", row)
    return best


def response_budget(rollout: RolloutConfig, envs: list[LoadedEnv]) -> tuple[int, str]:
    """Response tokens a sequence may have, and the key that sets them: a turn's (`rollout.max_new_tokens`),
    or a whole episode's (`rollout.turns.max_tokens`) when an environment is multi-turn."""
    if any(e.interaction is not None for e in envs):
        return rollout.turns.max_tokens, "rollout.turns.max_tokens"
    return rollout.max_new_tokens, "rollout.max_new_tokens"


def max_model_len(
    tokenizer, envs: list[LoadedEnv], max_new_tokens: int, model_limit: int | None, key: str = "rollout.max_new_tokens"
) -> int:
    """Context the engines need: the longest prompt + `max_new_tokens` (set by `key`) + headroom. A prompt that
    cannot fit the model's own limit (`max_position_embeddings`) is a config error naming its row."""
    longest = longest_prompt(tokenizer, envs)
    need = longest.tokens + max_new_tokens
    if model_limit is not None and need > model_limit:
        raise ConfigError(
            f"{longest.env}: row {longest.row} has a {longest.tokens}-token prompt; with {key} "
            f"{max_new_tokens} it exceeds the model's {model_limit}-token context (shorten or drop the row, or lower {key})"
        )
    return need + HEADROOM if model_limit is None else min(need + HEADROOM, model_limit)
