"""Rollout-based instance filtering before a continual stage (RIF-RFT).

Each training instance of the stage's environments gets `k` responses from the rollout engines,
scored by the reward workers; `keep_rules.filter_instances` applies the keep-rule to the [N, k]
rewards. The outcome (kept row indices, drop counts by reason, seconds) is written to
`<run>/continual/filter_<stage index>.json`, which a resumed run reads instead of filtering again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from rlpost.config import FilterConfig, TurnsConfig
from rlpost.continual.keep_rules import filter_instances
from rlpost.data import LoadedEnv
from rlpost.multiturn.runner import run_episodes
from rlpost.rewards import Sample
from rlpost.rollout import SamplingSpec

Generate = Callable[[list[list[int]], SamplingSpec], list[list[Any]]]
Score = Callable[[list[Sample], list[str]], list[Any]]  # (samples, binding keys) -> objects with .score
CHUNK = 256  # instances per generate call (one progress line each)


@dataclass
class FilterOutcome:
    """What filtering one environment of a stage did."""

    env: str
    seen: int
    kept: int
    dropped: dict[str, int]
    seconds: float
    mean_reward: float
    kept_rows: list[int]  # row indices into the environment's train split
    fallback: bool = False  # nothing was kept, so the stage trains on every instance


def filter_env(
    env: LoadedEnv, generate: Generate, score: Score, tokenizer, cfg: FilterConfig, sampling: SamplingSpec, log=print,
    turns: TurnsConfig = TurnsConfig(),
) -> FilterOutcome:  # fmt: skip
    """`cfg.k` rollouts (episodes, limits `turns`) per instance of `env` (its first `cfg.max_instances` rows), then the
    keep-rule."""
    start = time.perf_counter()
    count = len(env.rows) if cfg.max_instances is None else min(cfg.max_instances, len(env.rows))
    rows = list(env.rows.select(range(count)))
    spec = SamplingSpec(n=cfg.k, max_new_tokens=sampling.max_new_tokens, temperature=sampling.temperature, top_p=sampling.top_p)
    rewards = []
    for lo in range(0, count, CHUNK):
        chunk = rows[lo : lo + CHUNK]
        groups = run_episodes(generate, tokenizer, [(env, r) for r in chunk], spec, turns)[1]
        samples = [t.sample(r["prompt"], env.references(r), env.name) for r, group in zip(chunk, groups) for t in group]
        rewards += [s.score for s in score(samples, [env.binding] * len(samples))]
        log(f"filter {env.name}: {min(lo + CHUNK, count)}/{count} instances rolled out ({time.perf_counter() - start:.1f}s)")
    table = torch.tensor(rewards, dtype=torch.float32).view(count, cfg.k)
    keep, dropped = filter_instances(table, rule=cfg.rule, threshold=cfg.threshold, min_variance=cfg.min_variance)
    kept_rows = keep.nonzero().flatten().tolist()
    fallback = not kept_rows
    return FilterOutcome(
        env=env.name,
        seen=count,
        kept=len(kept_rows),
        dropped=dropped,
        seconds=time.perf_counter() - start,
        mean_reward=float(table.mean()),
        kept_rows=list(range(count)) if fallback else kept_rows,
        fallback=fallback,
    )


def apply_outcome(env: LoadedEnv, outcome: FilterOutcome) -> LoadedEnv:
    """The environment restricted to the kept rows."""
    return replace(env, rows=env.rows.select(outcome.kept_rows))


def outcome_path(run_dir: Path, stage_index: int) -> Path:
    return run_dir / "continual" / f"filter_{stage_index}.json"


def save_outcomes(run_dir: Path, stage_index: int, stage: str, outcomes: list[FilterOutcome]) -> Path:
    path = outcome_path(run_dir, stage_index)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"stage": stage, "envs": [asdict(o) for o in outcomes]}, indent=1) + "\n")
    tmp.replace(path)
    return path


def load_outcomes(run_dir: Path, stage_index: int) -> list[FilterOutcome] | None:
    path = outcome_path(run_dir, stage_index)
    if not path.exists():
        return None
    return [FilterOutcome(**o) for o in json.loads(path.read_text())["envs"]]


def summary_metrics(outcomes: list[FilterOutcome]) -> dict[str, float]:
    """Stage totals for the event log: filter/seen, filter/kept, filter/dropped/<reason>, filter/seconds."""
    out = {
        "filter/seen": float(sum(o.seen for o in outcomes)),
        "filter/kept": float(sum(o.kept for o in outcomes)),
        "filter/seconds": sum(o.seconds for o in outcomes),
    }
    for o in outcomes:
        for reason, n in o.dropped.items():
            out[f"filter/dropped/{reason}"] = out.get(f"filter/dropped/{reason}", 0.0) + n
    return out
