"""The sandboxed code-execution reward (`code`)."""

from rewards.code.reward import code_reward

__all__ = ["code_reward"]
