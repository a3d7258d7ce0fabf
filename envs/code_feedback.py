"""Multi-turn code: the policy writes a program, sees which tests fail and may try again.

The `code_feedback` interaction runs a turn's program against the row's `test_list` (with its
`test_setup_code`) exactly as the `code` reward does (in the sandbox, each assert decided in this
process). All tests passing ends the episode; otherwise the first failing tests and their reasons
come back as a `user` message. The final score is the environment's reward on the last turn (the
`code` reward for `mbpp_feedback`), so a turn that passes only after feedback still scores 1.
The feedback shows the tests, so use it on tasks whose tests are in the prompt (MBPP's are).

params: shown (failing tests shown, default 3), timeout_s (per test, default 4).
"""

from __future__ import annotations

from typing import Any

from envs.mbpp import MBPP
from rewards.code.extract import extract_code
from rewards.code.reward import DEFAULT_LIMITS, Runner, run_asserts
from rlpost.envs import Environment, InteractionSpec, register_env
from rlpost.multiturn import Finish, Observation, register_interaction


class CodeFeedback:
    def __init__(self, row: dict[str, Any], shown: int, timeout_s: float):
        self.tests, self.setup = list(row["test_list"]), row.get("test_setup_code") or ""
        self.shown, self.runner = shown, Runner(timeout_s, DEFAULT_LIMITS)

    def reply(self, turn: str) -> Finish | Observation:
        code = extract_code(turn)
        if not code.strip():
            return Observation("No code found: answer with the program in a ```python block.", "user")
        outcomes = run_asserts(code, self.tests, self.setup, self.runner)
        failed = [(test, o.error) for test, o in zip(self.tests, outcomes) if not o.passed]
        if not failed:
            return Finish(info={"passed": len(self.tests)})
        lines = [f"{len(failed)} of {len(self.tests)} tests failed:"]
        lines += [f"{test}  # {error}" for test, error in failed[: self.shown]]
        return Observation("\n".join(lines) + "\nFix the program.", "user")


@register_interaction("code_feedback")
def code_feedback(row: dict[str, Any], shown: int = 3, timeout_s: float = 4.0) -> CodeFeedback:
    """Failing tests shown back to the policy until they pass."""
    return CodeFeedback(row, shown, timeout_s)


MBPP_FEEDBACK = register_env(
    Environment(
        name="mbpp_feedback",
        description="multi-turn mbpp: failing test output shown back (code_feedback interaction), code reward on the last turn",
        load=MBPP.load,
        rewards=MBPP.rewards,
        reference_fields=MBPP.reference_fields,
        sft_target=MBPP.sft_target,
        interaction=InteractionSpec("code_feedback"),
    )
)
