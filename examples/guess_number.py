"""A multi-turn environment plugin: the policy guesses a number and is told "higher" or "lower".

Bound in YAML as `interaction: {name: examples/guess_number.py:start}` on any environment whose rows
have an `answer` column; the `episode_reward` reward scores the episode with the reward it finished with.
"""

from __future__ import annotations

import re

from rlpost.multiturn import Finish, Observation


class Guessing:
    def __init__(self, row: dict, penalty: float = 0.25):
        self.target, self.penalty, self.guesses = int(row["answer"]), penalty, 0

    def reply(self, turn: str) -> Observation | Finish:
        found = re.search(r"-?\d+", turn)
        if found is None:
            return Observation("Answer with a number.", role="user")
        self.guesses += 1
        guess = int(found.group())
        if guess == self.target:
            return Finish(reward=max(0.0, 1.0 - self.penalty * (self.guesses - 1)), info={"guesses": self.guesses})
        return Observation("higher" if guess < self.target else "lower", role="user")


def start(row: dict, penalty: float = 0.25) -> Guessing:
    """One session per episode, with the task row (all its columns) and the binding's params."""
    return Guessing(row, penalty)
