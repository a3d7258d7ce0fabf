"""Rollout of episodes: generate a turn for every live trajectory at once, ask each environment for its
reply (concurrently, each within `reply_timeout_s`), append the observations as ids, and go on until
every episode has finished or hit a limit (`rollout.turns`).

A turn cut by `rollout.max_new_tokens` still goes to the environment (which decides what a cut tool
call is worth); only the episode's budget, `max_turns` or a `Finish` end it. Token in, token out: a
later turn is generated from the prompt ids plus the trajectory's ids so far, so what the learner
trains on is exactly what the engine produced and saw. Environments without an interaction get one
turn, as before.
"""

from __future__ import annotations

import asyncio
import inspect
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from rlpost.config import TurnsConfig
from rlpost.data import LoadedEnv
from rlpost.multiturn.api import Finish, Observation, Reply, Session, resolve_interaction
from rlpost.multiturn.render import ObservationFrame, encode_content, frame
from rlpost.multiturn.trajectory import Trajectory
from rlpost.rollout import Completion, SamplingSpec

MAX_REPLY_THREADS = 32
ERROR_CHARS = 300


@dataclass
class _Live:
    """An episode still going: its trajectory, session and prompt."""

    traj: Trajectory
    session: Session
    prompt: list[int]
    chat: bool


def run_episodes(
    generate, tokenizer, tasks: list[tuple[LoadedEnv, dict[str, Any]]], spec: SamplingSpec, turns: TurnsConfig
) -> tuple[list[list[int]], list[list[Trajectory]]]:
    """Prompt ids per task and `spec.n` trajectories per task. `generate(prompts, spec)` is a rollout
    engine's (list of prompt ids -> `spec.n` completions each)."""
    prompts = [env.render(tokenizer, row["prompt"]) for env, row in tasks]
    groups = generate(prompts, spec)
    out: list[list[Trajectory]] = []
    live: list[_Live] = []
    budget = turns.max_tokens
    for (env, row), prompt, group in zip(tasks, prompts, groups):
        multi = env.interaction is not None
        trajs = [_first_turn(c, tokenizer, budget) if multi else Trajectory.single(c) for c in group]
        out.append(trajs)
        if multi:
            name, params = env.interaction
            start = resolve_interaction(name)
            for t in trajs:
                try:
                    session = start(row, **params)
                except Exception as e:  # noqa: BLE001 - re-raised with the environment and row named
                    raise ValueError(f"{env.binding}: interaction {name!r} could not start on {row['prompt'][:60]!r}: {e}") from e
                live.append(_Live(t, session, prompt, env.spec.chat))
    frames: dict[tuple[str, bool], ObservationFrame] = {}
    # later turns without a per-request seed: their longer prompts get split across vLLM's scheduler steps, and
    # vLLM's CPU runner cannot rewind a seeded request's generator for a split prompt (it raises); the engine's
    # own seed still fixes the draws
    turn_spec = replace(spec, n=1, seed=None)
    while live:
        replies = _replies([(ep.session, ep.traj) for ep in live], turns.reply_timeout_s)
        going = [ep for ep, reply in zip(live, replies) if _continue(ep, reply, tokenizer, turns, frames)]
        if not going:
            break
        completions = generate([ep.prompt + ep.traj.token_ids for ep in going], turn_spec)
        for ep, (c,) in zip(going, completions):
            _add_turn(ep.traj, c, tokenizer, budget)
        live = going
    return prompts, out


def _cut(c: Completion, tokenizer, room: int) -> tuple[list[int], list[float], str, bool]:
    """A completion cut to `room` tokens (re-decoded when cut)."""
    if len(c.token_ids) <= room:
        return c.token_ids, c.logprobs, c.text, c.truncated
    ids = c.token_ids[:room]
    return ids, c.logprobs[:room], tokenizer.decode(ids, skip_special_tokens=True), True


def _first_turn(c: Completion, tokenizer, budget: int) -> Trajectory:
    t = Trajectory()
    _add_turn(t, c, tokenizer, budget)
    return t


def _add_turn(t: Trajectory, c: Completion, tokenizer, budget: int) -> None:
    t.add_policy_turn(*_cut(c, tokenizer, budget - len(t.token_ids)))


def _continue(ep: _Live, reply: Reply, tokenizer, turns: TurnsConfig, frames: dict) -> bool:
    """Apply `reply` to the episode; whether the policy gets another turn (else `outcome["ended"]` says why)."""
    t = ep.traj
    if isinstance(reply, Finish):
        t.outcome.update(ended="finish", info=dict(reply.info))
        if reply.reward is not None:
            t.outcome["reward"] = float(reply.reward)
        return False
    if len(t.token_ids) >= turns.max_tokens:
        t.outcome["ended"] = "max_tokens"
        return False
    if t.policy_turns() >= turns.max_turns:
        t.outcome["ended"] = "max_turns"
        return False
    key = (reply.role, ep.chat)
    if key not in frames:
        frames[key] = frame(tokenizer, reply.role, ep.chat)
    content = encode_content(tokenizer, reply.text)
    if len(content) > turns.max_observation_tokens:
        content = content[: turns.max_observation_tokens]
        t.outcome["observations_cut"] = t.outcome.get("observations_cut", 0) + 1
    ids = frames[key].ids(t.token_ids, content)
    if len(t.token_ids) + len(ids) >= turns.max_tokens:
        t.outcome["ended"] = "max_tokens"
        t.truncated = True
        return False
    t.add_observation(ids, reply.role, tokenizer.decode(content))
    return True


def _replies(pending: list[tuple[Session, Trajectory]], timeout_s: float) -> list[Reply]:
    """Every session's reply to its trajectory's last turn, concurrently; a failure or a timeout becomes an
    `error` observation (and is counted in the trajectory's `outcome["reply_errors"]`)."""
    pool = ThreadPoolExecutor(max_workers=min(MAX_REPLY_THREADS, len(pending)), thread_name_prefix="rlpost-reply")

    async def one(session: Session, t: Trajectory) -> Reply:
        try:
            if inspect.iscoroutinefunction(session.reply):
                reply = await asyncio.wait_for(session.reply(t.text), timeout_s)
            else:
                loop = asyncio.get_running_loop()
                reply = await asyncio.wait_for(loop.run_in_executor(pool, session.reply, t.text), timeout_s)
            if not isinstance(reply, Observation | Finish):
                raise TypeError(f"reply returned {type(reply).__name__}, expected Observation or Finish")
            return reply
        except TimeoutError:
            message = f"error: no reply within {timeout_s:g}s"
        except Exception as e:  # noqa: BLE001 - shown to the policy, the run goes on
            message = f"error: {type(e).__name__}: {e}"[:ERROR_CHARS]
        t.outcome["reply_errors"] = t.outcome.get("reply_errors", 0) + 1
        return Observation(message, "tool")

    async def every() -> list[Reply]:
        return list(await asyncio.gather(*(one(s, t) for s, t in pending)))

    try:
        return asyncio.run(every())
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
