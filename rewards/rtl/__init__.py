"""The staged RTL reward (`rtl`): syntax, simulation against the reference, then PPA from synthesis."""

from rewards.rtl.reward import rtl_reward

__all__ = ["rtl_reward"]
