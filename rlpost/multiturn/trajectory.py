"""A trajectory: the response side of one episode as the token ids the learner trains on.

Policy turns are kept exactly as the engine generated them (ids and logprobs, never re-tokenised);
observations are appended as ids with mask 0, so they are context for later turns but out of the
loss, the KL and the advantages. All lists are per response token, in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rlpost.rewards import Sample
from rlpost.rollout import Completion

POLICY_ROLE = "assistant"


@dataclass(frozen=True)
class Turn:
    role: str  # "assistant" for the policy's turns, the observation's role otherwise
    text: str
    tokens: int


@dataclass
class Trajectory:
    token_ids: list[int] = field(default_factory=list)
    policy_mask: list[int] = field(default_factory=list)  # 1 on tokens the policy generated, 0 on observations
    logprobs: list[float] = field(default_factory=list)  # the engine's logprob per policy token, 0.0 on observations
    turns: list[Turn] = field(default_factory=list)
    truncated: bool = False  # the last turn stopped on a token limit (per turn or in all)
    outcome: dict[str, Any] = field(default_factory=dict)  # how it ended: Finish.reward / info, limits hit, errors

    @classmethod
    def single(cls, c: Completion) -> Trajectory:
        """A one-turn trajectory of a completion."""
        t = cls()
        t.add_policy_turn(c.token_ids, c.logprobs, c.text, c.truncated)
        return t

    @property
    def text(self) -> str:
        """The policy's last turn: what answer-checking rewards read."""
        return next((t.text for t in reversed(self.turns) if t.role == POLICY_ROLE), "")

    @property
    def observations(self) -> int:
        return sum(t.role != POLICY_ROLE for t in self.turns)

    def policy_turns(self) -> int:
        return sum(t.role == POLICY_ROLE for t in self.turns)

    def add_policy_turn(self, ids: list[int], logprobs: list[float], text: str, truncated: bool) -> None:
        if len(ids) != len(logprobs):
            raise ValueError(f"a turn of {len(ids)} tokens came with {len(logprobs)} logprobs")
        self.token_ids += ids
        self.policy_mask += [1] * len(ids)
        self.logprobs += logprobs
        self.turns.append(Turn(POLICY_ROLE, text, len(ids)))
        self.truncated = truncated

    def add_observation(self, ids: list[int], role: str, text: str) -> None:
        self.token_ids += ids
        self.policy_mask += [0] * len(ids)
        self.logprobs += [0.0] * len(ids)
        self.turns.append(Turn(role, text, len(ids)))

    def sample(self, prompt: str, reference: dict[str, Any], env: str) -> Sample:
        """What rewards score: the last policy turn as the response, with the turns and outcome."""
        record = self.record()
        return Sample(prompt, self.text, reference, env, tuple(record["turns"]), record["outcome"])

    def record(self) -> dict[str, Any]:
        """JSON-able turns and outcome (samples.jsonl, rewards' `sample.turns` / `sample.outcome`)."""
        return {"turns": [{"role": t.role, "text": t.text, "tokens": t.tokens} for t in self.turns], "outcome": self.outcome}
