"""The environment's own verdict on a multi-turn episode: `Finish(reward=...)` of its interaction."""

from __future__ import annotations

from rlpost.rewards import RewardResult, Sample, register_reward


@register_reward("episode_reward")
def episode_reward(sample: Sample, missing: float | None = None) -> RewardResult:
    """The reward the interaction finished the episode with; an episode that ended otherwise (a limit, no
    Finish reward) scores `missing`, or is a reward error when `missing` is not set."""
    reward = sample.outcome.get("reward")
    if reward is None:
        if missing is None:
            ended = sample.outcome.get("ended", "a single turn")
            raise ValueError(f"episode_reward: the episode ended by {ended!r} without a reward (set params.missing)")
        return RewardResult(float(missing), {"finished": 0.0}, f"ended by {sample.outcome.get('ended')}")
    return RewardResult(float(reward), {"finished": 1.0})
