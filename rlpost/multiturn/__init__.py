"""Multi-turn episodes: the interaction API, tool calls, trajectories and their rollout."""

from rlpost.multiturn.api import Finish, Observation, Session, register_interaction, resolve_interaction
from rlpost.multiturn.trajectory import Trajectory, Turn

__all__ = ["Finish", "Observation", "Session", "Trajectory", "Turn", "register_interaction", "resolve_interaction"]
