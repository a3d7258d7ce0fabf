"""PPO for language models (InstructGPT; as in TRL / OpenRLHF / verl).

Token rewards are −β·k1(π_old ‖ π_ref) with the sequence reward at the last response token;
GAE(γ, λ) over the critic's values gives advantages (whitened over the batch's response tokens)
and the critic's targets (returns = GAE + V). The policy loss is the clipped ratio loss with an
optional dual clip; the value loss lives in `value.py` and is used by the critic learner.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rlpost.algorithms.advantages import gae_advantages, masked_whiten, token_level_rewards
from rlpost.algorithms.aggregation import masked_mean
from rlpost.algorithms.common import reward_kl  # (registers the clipped loss too)
from rlpost.algorithms.registry import Advantages, Algorithm, Estimator, register_algorithm, register_estimator
from rlpost.algorithms.value import explained_variance


def ppo_advantages(batch, p: Mapping[str, Any]) -> Advantages:
    mask = batch.response_mask
    kl, kl_coef, stats = reward_kl(batch, p)
    token_rewards = token_level_rewards(batch.rewards, mask, kl=kl, kl_coef=kl_coef)
    adv, returns = gae_advantages(token_rewards, batch.values, mask, gamma=p["gamma"], lam=p["lam"])
    stats["critic/explained_variance"] = explained_variance(batch.values, returns, mask)
    stats["critic/returns_mean"] = masked_mean(returns, mask).item()
    if p["whiten_advantages"]:
        adv = masked_whiten(adv, mask)
    return Advantages(adv, returns, stats)


register_estimator(
    Estimator(
        name="gae",
        description="GAE(γ, λ) over a learned critic; token rewards −β·k1 with the sequence reward at the last token",
        fn=ppo_advantages,
        critic=True,
        kl_placements=("reward", "loss"),
        token_level=True,
    )
)
PPO = register_algorithm(
    Algorithm(
        name="ppo",
        description="GAE advantages from a learned critic, KL penalty in the token rewards, clipped ratio loss",
        estimator="gae",
        loss="clipped",
        defaults={"clip_high": 0.2},
    )
)
