"""Greedy accuracy and pass@k of a policy on environments' held-out splits.

`evaluate(model_path, envs, k, engine)` generates one greedy and `n` sampled responses per
problem, scores them with each environment's rewards (the config's override, else its defaults;
in this process, or through the caller's `score`, e.g. a run's reward pool), and counts a
response correct when its score reaches `threshold`. The engine is a name (created here, closed
after) or one the caller owns: a `RolloutEngine`, a Ray actor handle of
`rlpost.cluster.actors.RolloutActor`, or a bare `Generate` callable.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlpost.checkpoint import is_complete
from rlpost.config import ConfigError, EnvSpec, TurnsConfig, load_config, read_yaml
from rlpost.data import LoadedEnv, load_env
from rlpost.multiturn.runner import run_episodes
from rlpost.multiturn.trajectory import Trajectory
from rlpost.rewards import Sample, Scored, resolve_reward, score_with_bindings
from rlpost.rollout import Completion, SamplingSpec

Generate = Callable[[list[list[int]], SamplingSpec], list[list[Completion]]]
Score = Callable[[LoadedEnv, list[Sample]], list[Scored]]  # the samples are all of that environment


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from `n` samples of which `c` are correct (Chen et al. 2021): 1 − C(n−c, k) / C(n, k)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


@dataclass(frozen=True)
class EngineOptions:
    """What a created engine is built with; `max_model_len` is prompt + response tokens."""

    model_path: str
    max_model_len: int
    dtype: str = "float32"
    seed: int = 0
    kv_cache_gib: float = 1.0
    gpus: int = 0  # GPUs of the engine (tensor parallel over them); 0: CPU


def _vllm_actor(opts: EngineOptions) -> tuple[Generate, Callable[[], None]]:
    """vLLM in a Ray actor (a local Ray is started when none is up), killed on close."""
    import ray

    from rlpost.cluster.actors import RolloutActor
    from rlpost.cluster.runtime import actor_options, start_ray
    from rlpost.config import ClusterConfig

    start_ray(ClusterConfig())
    actor = RolloutActor.options(**actor_options(num_gpus=opts.gpus)).remote(
        "vllm", model_path=opts.model_path, dtype=opts.dtype, seed=opts.seed, max_model_len=opts.max_model_len,
        kv_cache_gib=opts.kv_cache_gib, tensor_parallel_size=max(1, opts.gpus), enforce_eager=not opts.gpus,
    )  # fmt: skip
    return as_generate(actor), lambda: ray.kill(actor, no_restart=True)


def _hf_local(opts: EngineOptions) -> tuple[Generate, Callable[[], None]]:
    """The transformers engine in this process."""
    from rlpost.rollout import create_engine

    engine = create_engine("hf", model_path=opts.model_path, dtype=opts.dtype, seed=opts.seed, max_model_len=opts.max_model_len)
    return engine.generate, lambda: None


ENGINE_FACTORIES: dict[str, Callable[[EngineOptions], tuple[Generate, Callable[[], None]]]] = {
    "vllm": _vllm_actor,
    "hf": _hf_local,
}


def _keep_open() -> None:
    """An engine the caller passed in stays open."""


def as_generate(engine: Any) -> Generate:
    """`generate` of a local engine, or of a Ray actor handle (called remotely and awaited); a bare
    `Generate` callable as is."""
    if not hasattr(engine, "generate") and callable(engine):
        return engine
    if hasattr(engine.generate, "remote"):
        import ray

        return lambda prompts, spec: ray.get(engine.generate.remote(prompts, spec))
    return engine.generate


def env_labels(envs: list[LoadedEnv]) -> list[str]:
    """One result key per environment: its name, with its params when two share a name."""
    names = [e.name for e in envs]
    return [e.name if names.count(e.name) == 1 else f"{e.name}{json.dumps(e.spec.params, sort_keys=True)}" for e in envs]


def score_here(env: LoadedEnv, samples: list[Sample]) -> list[Scored]:
    """Score in this process with the environment's rewards (a failing plugin scores 0 with its error)."""
    bindings = [(resolve_reward(b["name"]), b["weight"], b["params"]) for b in env.reward_specs()]
    return score_with_bindings(bindings, samples, fallback=0.0)


def scored_by(scorer) -> Score:
    """A `Score` through a reward scorer (`RewardScorer`, e.g. a run's reward workers): each environment's
    samples with that environment's reward binding, so every sample is time-bounded."""
    return lambda env, samples: scorer.score(samples, [env.binding] * len(samples))


def _judge(env: LoadedEnv, rows: list[dict[str, Any]], groups: list[list[Trajectory]], threshold: float, score: Score):
    """Per problem, whether each response (episode) scores >= `threshold` (a reward error counts as wrong); and how
    many reward calls failed."""
    samples = [t.sample(row["prompt"], env.references(row), env.name) for row, group in zip(rows, groups) for t in group]
    scored = score(env, samples)
    flat = [s.error is None and s.score >= threshold for s in scored]
    bounds = [0]
    for group in groups:
        bounds.append(bounds[-1] + len(group))
    return [flat[a:b] for a, b in zip(bounds, bounds[1:])], sum(s.error is not None for s in scored)


def evaluate(
    model_path: str,
    envs: list[LoadedEnv],
    k: int = 8,
    engine: str | Any = "vllm",
    *,
    n: int | None = None,
    threshold: float = 1.0,
    max_new_tokens: int = 32,
    temperature: float = 1.0,
    top_p: float = 1.0,
    limit: int | None = None,
    seed: int = 0,
    dtype: str = "float32",
    kv_cache_gib: float = 1.0,
    score: Score = score_here,
    turns: TurnsConfig = TurnsConfig(),
    gpus: int = 0,
) -> dict[str, dict[str, float | int]]:
    """Per environment (see `env_labels`): `greedy_accuracy`, `pass@{k}` (unbiased, from `n` samples per
    problem at `temperature`, default n = k), `n` (problems: the first `limit` rows of each env's loaded
    split), `samples_per_problem` and `reward_errors`. `engine` is "vllm" / "hf" or an engine the caller owns;
    `model_path` gives the tokenizer (and the weights of a created engine). `score` scores one environment's
    samples (default: `score_here`); `gpus`: GPUs of a created vLLM engine (0: CPU). Multi-turn environments are
    judged on whole episodes (limits `turns`)."""
    from transformers import AutoTokenizer

    n = n or k
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n samples per problem, got k={k} n={n}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    rows = [list(e.rows.select(range(min(limit, len(e.rows))))) if limit is not None else list(e.rows) for e in envs]
    if isinstance(engine, str):
        if engine not in ENGINE_FACTORIES:
            raise ValueError(f"unknown engine {engine!r}; expected one of {sorted(ENGINE_FACTORIES)}")
        longest = max(len(e.render(tokenizer, r["prompt"])) for e, env_rows in zip(envs, rows) for r in env_rows)
        response = turns.max_tokens if any(e.interaction is not None for e in envs) else max_new_tokens
        opts = EngineOptions(model_path, longest + response + 8, dtype, seed, kv_cache_gib, gpus)
        generate, close = ENGINE_FACTORIES[engine](opts)
    else:
        generate, close = as_generate(engine), _keep_open
    greedy_spec = SamplingSpec(n=1, max_new_tokens=max_new_tokens, temperature=0.0)
    sample_spec = SamplingSpec(n=n, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed)
    results: dict[str, dict[str, float | int]] = {}
    try:
        for label, env, env_rows in zip(env_labels(envs), envs, rows):
            tasks = [(env, row) for row in env_rows]
            episodes = [run_episodes(generate, tokenizer, tasks, spec, turns)[1] for spec in (greedy_spec, sample_spec)]
            greedy, greedy_errors = _judge(env, env_rows, episodes[0], threshold, score)
            sampled, sample_errors = _judge(env, env_rows, episodes[1], threshold, score)
            results[label] = {
                "greedy_accuracy": sum(g[0] for g in greedy) / len(env_rows),
                f"pass@{k}": sum(pass_at_k(n, sum(s), k) for s in sampled) / len(env_rows),
                "n": len(env_rows),
                "samples_per_problem": n,
                "reward_errors": greedy_errors + sample_errors,
            }
    finally:
        close()
    return results


def pooled(results: dict[str, dict[str, float | int]], key: str) -> float:
    """`key` of `evaluate`'s per-environment results pooled over the environments, weighted by their problems."""
    return sum(r[key] * r["n"] for r in results.values()) / sum(r["n"] for r in results.values())


def parse_env_arg(text: str) -> EnvSpec:
    """`name` or `name:{json params}` (e.g. `arithmetic:{"digits": 1}`) as an environment spec."""
    name, _, params = text.partition(":")
    try:
        return EnvSpec(name=name, params=json.loads(params) if params else {})
    except ValueError as e:
        raise ConfigError(f"--envs {text!r}: expected name or name:{{json params}} ({' '.join(str(e).split())[:200]})") from None


def unique_env_specs(stages: list[dict[str, Any]]) -> list[tuple[str, EnvSpec]]:
    """(key path, spec) of each distinct environment in a config's `stages` (raw YAML dicts)."""
    seen, out = set(), []
    for i, stage in enumerate(stages):
        for j, env in enumerate(stage.get("envs") or []):
            spec = EnvSpec.model_validate(env)
            ident = json.dumps([spec.name, spec.params, spec.chat], sort_keys=True)
            if ident not in seen:
                seen.add(ident)
                out.append((f"stages.{i}.envs.{j}", spec))
    return out


@dataclass
class EvalTarget:
    """What `rlpost eval` evaluates: the model directory, its environments (with key paths), settings from the run."""

    model_path: str
    envs: list[tuple[str, EnvSpec]]
    max_new_tokens: int = 32
    strict: bool = False
    dtype: str = "float32"
    turns: TurnsConfig = field(default_factory=TurnsConfig)  # multi-turn limits (the run's rollout.turns)


def resolve_target(path: str, env_args: list[str]) -> EvalTarget:
    """A config YAML (its run's `checkpoints/final`, its environments) or a checkpoint directory (`env_args`,
    else the environments of the run's config.yaml two levels up). `env_args` always win."""
    p = Path(path)
    given = [(f"--envs {i}", parse_env_arg(a)) for i, a in enumerate(env_args)]
    if p.is_file():
        cfg = load_config(p)
        model = cfg.run.path / "checkpoints" / "final"
        if not is_complete(model):
            raise ConfigError(f"{p}: no complete final checkpoint at {model}; train first or pass a checkpoint directory")
        envs = given or unique_env_specs(cfg.model_dump()["stages"])
        return EvalTarget(str(model), envs, cfg.rollout.max_new_tokens, cfg.data.strict, cfg.model.dtype, cfg.rollout.turns)
    if not (p / "config.json").is_file():
        raise ConfigError(f"{p}: neither an experiment YAML nor a model checkpoint directory (no config.json)")
    run_config = p.parent.parent / "config.yaml"
    if given:
        raw = read_yaml(run_config) if run_config.is_file() else {}
    elif run_config.is_file():
        raw = read_yaml(run_config)
        given = unique_env_specs(raw.get("stages") or [])
    else:
        raise ConfigError(f"{p}: give --envs name[:json-params] (no run config at {run_config})")
    rollout, model = raw.get("rollout") or {}, raw.get("model") or {}
    strict = bool((raw.get("data") or {}).get("strict", False))
    turns = TurnsConfig.model_validate(rollout.get("turns") or {})
    return EvalTarget(str(p), given, rollout.get("max_new_tokens", 32), strict, model.get("dtype", "float32"), turns)


def load_eval_envs(target: EvalTarget, split: str = "test") -> list[LoadedEnv]:
    return [load_env(spec, split, target.strict, key) for key, spec in target.envs]


def format_table(results: dict[str, dict[str, float | int]], k: int) -> str:
    """A plain-text table: environment, problems, greedy accuracy, pass@k."""
    width = max([len("environment"), *(len(name) for name in results)])
    lines = [f"{'environment':<{width}}  {'problems':>8}  {'greedy':>7}  {f'pass@{k}':>7}"]
    for name, r in results.items():
        lines.append(f"{name:<{width}}  {r['n']:>8}  {r['greedy_accuracy']:>7.3f}  {r[f'pass@{k}']:>7.3f}")
    return "\n".join(lines)
