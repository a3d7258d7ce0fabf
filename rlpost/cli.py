"""`rlpost train | check | eval | report | rewards list | rewards test | envs list`."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

from rlpost.config import ConfigError, ExperimentConfig, apply_override, load_config, parse_override
from rlpost.rewards import RewardPlugin, Sample, resolve_reward, score_with_bindings


def _load(args) -> ExperimentConfig:
    resume = ["checkpoint.resume=auto"] if getattr(args, "resume", False) else []
    cfg = load_config(args.config, [*args.overrides, *resume])
    validate_plugins(cfg)
    return cfg


def validate_plugins(cfg: ExperimentConfig) -> None:
    """Check that every environment, reward and interaction named in the config resolves (cheap; no heavy start-up)."""
    from rlpost.envs import get_env
    from rlpost.multiturn import resolve_interaction

    for i, stage in enumerate(cfg.stages):
        for j, spec in enumerate(stage.envs):
            key = f"stages.{i}.envs.{j}"
            try:
                env = get_env(spec.name)
            except KeyError as e:
                raise ConfigError(f"{key}.name: {e.args[0]}") from None
            names = [b.name for b in spec.rewards] if spec.rewards is not None else [r.name for r in env.rewards]
            for k, name in enumerate(names):
                _resolves(resolve_reward, name, f"{key}.rewards.{k}.name" if spec.rewards is not None else f"{key}.name")
            interaction = spec.interaction.name if spec.interaction is not None else getattr(env.interaction, "name", None)
            if interaction is not None:
                _resolves(resolve_interaction, interaction, f"{key}.interaction.name" if spec.interaction else f"{key}.name")


def _resolves(resolve, name: str, where: str) -> None:
    """`resolve(name)`, any failure to load the plugin raised as a config error at `where`."""
    try:
        resolve(name)
    except Exception as e:  # noqa: BLE001 - any failure to load a plugin is a config error
        detail = e.args[0] if isinstance(e, KeyError) and e.args else f"{type(e).__name__}: {e}"
        raise ConfigError(f"{where}: {' '.join(str(detail).split())}") from None


def cmd_check(args) -> int:
    from rlpost.trainer import describe

    cfg = _load(args)
    print(f"{args.config}: ok")
    print(json.dumps(describe(cfg), indent=2))
    return 0


# config key `method` -> runner class
RUNNERS = {"rl": "rlpost.trainer:Trainer", "sft": "rlpost.continual.sft_baseline:SFTStages"}
BATCH_PER_WORKER = 8  # `rewards test` scores this many samples per worker at a time, then prints them


def runner(method: str):
    module, attr = RUNNERS[method].split(":")
    return getattr(importlib.import_module(module), attr)


def cmd_train(args) -> int:
    from rlpost.trainer import TrainingFailed

    cfg = _load(args)
    try:
        run_dir = runner(cfg.method)(cfg).run()
    except TrainingFailed as e:
        print(f"training failed: {e}", file=sys.stderr)
        return 1
    print(f"run directory: {run_dir}")
    return 0


def cmd_rewards_list(args) -> int:
    from rlpost.rewards import REWARDS, load_builtins

    load_builtins()
    for name, plugin in sorted(REWARDS.items()):
        print(f"{name:24s} {plugin.description}")
    return 0


def read_samples(path: str) -> Iterator[tuple[int, Sample | str]]:
    """(line number, sample) per non-blank JSONL line, or (line number, error text) for a bad one.

    A line is an object with a string `response`, optional `prompt` and `env`; every other key
    is a reference field passed to the reward.
    """
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                yield number, f"invalid JSON ({e.msg} at column {e.colno})"
                continue
            if not isinstance(row, dict) or not isinstance(row.get("response"), str):
                yield number, "expected an object with a string 'response'"
                continue
            prompt, env = row.pop("prompt", ""), row.pop("env", "cli")
            yield number, Sample(str(prompt), row.pop("response"), row, str(env))


def parse_params(items: list[str]) -> dict[str, Any]:
    """`key=value` pairs (YAML-typed values, dotted keys nest) as a params dict."""
    params: dict[str, Any] = {}
    for item in items:
        keys, value = parse_override(item)
        apply_override(params, keys, value)
    return params


def _local_scorer(plugin: RewardPlugin, params: dict[str, Any], workers: int, timeout_s: float):
    """A function scoring a batch of samples to (result, seconds) pairs, and one that releases what it holds.

    Without `workers`: one sample at a time in this process, each timed (after the plugin's warm-up).
    With `workers` > 0: the batch spread over a local Ray pool of that many reward workers, one sample
    per task, so they run in parallel; each sample's seconds are then the batch's wall time shared out evenly.
    """
    if not workers:
        plugin.warm_up(params)
        bindings = [(plugin, 1.0, params)]
        return lambda batch: [_timed(lambda s=s: score_with_bindings(bindings, [s], 0.0)[0]) for s in batch], lambda: None
    from rlpost.cluster.reward_pool import RewardPool
    from rlpost.cluster.runtime import actor_options, start_ray
    from rlpost.config import ClusterConfig

    start_ray(ClusterConfig())
    binding = {"name": plugin.name, "weight": 1.0, "params": params}
    pool = RewardPool({"cli": [binding]}, workers, timeout_s, 0.0, actor_options({"OMP_NUM_THREADS": "1"}))

    def score(batch: list[Sample]) -> list[tuple[Any, float]]:
        scored, seconds = _timed(lambda: pool.score(batch, ["cli"] * len(batch), chunk_size=1))
        return [(s, seconds / len(batch)) for s in scored]

    return score, pool.close


def _timed(fn):
    start = time.perf_counter()
    return fn(), time.perf_counter() - start


def _record(number: int, sample: Sample | str, scored: Any, seconds: float) -> dict[str, Any]:
    """The output line for input line `number`: its score, or the error that kept it from one."""
    if isinstance(sample, str):
        return {"line": number, "score": None, "components": {}, "error": sample, "info": "", "seconds": 0.0}
    return {"line": number, "score": None if scored.error else scored.score, "components": scored.components,
            "error": scored.error, "info": scored.info, "seconds": round(seconds, 4)}  # fmt: skip


def cmd_rewards_test(args) -> int:
    """Exit 0 when every line was read and scored without error, 1 otherwise, 2 for a bad command."""
    try:
        plugin = resolve_reward(args.name)
        params = parse_params(args.param)
        samples = list(read_samples(args.input))
    except (KeyError, ValueError, TypeError, ImportError, OSError, ConfigError) as e:
        print(f"error: {e.args[0] if isinstance(e, KeyError) else e}", file=sys.stderr)
        return 2
    score, close = _local_scorer(plugin, params, args.workers, args.timeout)
    batch_size = max(1, args.workers) * BATCH_PER_WORKER
    failed = 0
    try:
        for start in range(0, len(samples), batch_size):
            batch = samples[start : start + batch_size]
            good = [s for _, s in batch if not isinstance(s, str)]
            scored = iter(score(good) if good else [])
            for number, sample in batch:
                record = _record(number, sample, *(next(scored) if not isinstance(sample, str) else (None, 0.0)))
                if record["error"] is not None:
                    failed += 1
                    print(f"{args.input}:{number}: {record['error']}", file=sys.stderr)
                print(json.dumps(record), flush=True)
    finally:
        close()
    return 1 if failed else 0


def cmd_envs_list(args) -> int:
    from rlpost.envs import ENVS, load_builtins

    load_builtins()
    for name, env in sorted(ENVS.items()):
        print(f"{name:24s} {env.description}")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value


def eval_scorer(envs, engine: str):
    """With the vLLM engine (Ray is up anyway): a reward pool with the default `rewards.*` settings, so each
    sample is time-bounded; with the hf engine: in this process. Returns (score, close)."""
    from rlpost.evaluation import score_here, scored_by

    if engine != "vllm":
        return score_here, lambda: None
    from rlpost.cluster.reward_pool import RewardPool
    from rlpost.cluster.runtime import start_ray
    from rlpost.config import ClusterConfig, RewardWorkersConfig
    from rlpost.trainer.loop import reward_bindings

    start_ray(ClusterConfig())
    pool = RewardPool.from_config(reward_bindings(envs), RewardWorkersConfig())
    return scored_by(pool), pool.close


def cmd_eval(args) -> int:
    """Greedy accuracy and pass@k on the environments' test splits; a table, and JSON with --out."""
    from pathlib import Path

    from rlpost.evaluation import evaluate, format_table, load_eval_envs, resolve_target

    if args.n is not None and args.n < args.k:
        print(f"error: --n ({args.n}) must be at least --k ({args.k})", file=sys.stderr)
        return 2
    try:
        target = resolve_target(args.target, args.envs)
        envs = load_eval_envs(target)
    except (KeyError, ValueError) as e:  # ConfigError included: an unknown env, bad params, no test split
        print(f"error: {e.args[0] if isinstance(e, KeyError) else e}", file=sys.stderr)
        return 2
    max_new_tokens = args.max_new_tokens or target.max_new_tokens
    score, close = eval_scorer(envs, args.engine)
    try:
        results = evaluate(
            target.model_path, envs, args.k, args.engine, n=args.n, threshold=args.threshold, max_new_tokens=max_new_tokens,
            limit=args.limit, dtype=target.dtype, score=score, turns=target.turns, gpus=args.gpus,
        )  # fmt: skip
    finally:
        close()
    print(format_table(results, args.k))
    if args.out:
        settings = {"k": args.k, "samples_per_problem": args.n or args.k, "threshold": args.threshold, "engine": args.engine}
        record = {"model": target.model_path, **settings, "max_new_tokens": max_new_tokens, "results": results}
        Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    return 0


def cmd_report(args) -> int:
    from pathlib import Path

    from rlpost.report import write_comparison, write_report

    try:
        if args.compare:
            run_a, run_b = (Path(p) for p in args.compare)
            summary = write_comparison(run_a, run_b, Path(args.out) if args.out else None)
            print(summary.read_text())
        elif args.run_dir is None:
            print("error: give RUN_DIR, or --compare RUN_A RUN_B", file=sys.stderr)
            return 2
        else:
            summary = write_report(Path(args.run_dir))
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"report: {summary}")
    for png in sorted(summary.parent.glob("*.png")):
        print(f"plot: {png}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rlpost", description="RL post-training: Ray + vLLM + DeepSpeed")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, fn, help_text in (
        ("train", cmd_train, "run an experiment YAML"),
        ("check", cmd_check, "validate an experiment YAML without starting anything"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("config", help="experiment YAML")
        p.add_argument("overrides", nargs="*", help="key.path=value overrides")
        p.set_defaults(fn=fn)
        if name == "train":
            p.add_argument("--resume", action="store_true", help="continue from the run directory's newest complete checkpoint")
    rewards = sub.add_parser("rewards", help="reward plugins").add_subparsers(dest="rewards_command", required=True)
    rewards.add_parser("list", help="list registered reward plugins").set_defaults(fn=cmd_rewards_list)
    test = rewards.add_parser("test", help="score JSONL samples with a reward; one JSON line per input line")
    test.add_argument("name", help="registered reward, pkg.module:attr or file.py:attr")
    test.add_argument("--input", required=True, help="JSONL: response, optional prompt, and the reference fields")
    test.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="reward parameter (YAML value)")
    test.add_argument(
        "--workers", type=int, default=0, help="score on a local Ray pool of N reward workers in parallel (default: here)"
    )
    test.add_argument("--timeout", type=float, default=30.0, help="per-sample bound with --workers (seconds)")
    test.set_defaults(fn=cmd_rewards_test)
    envs = sub.add_parser("envs", help="environments").add_subparsers(dest="envs_command", required=True)
    envs.add_parser("list", help="list registered environments").set_defaults(fn=cmd_envs_list)
    ev = sub.add_parser("eval", help="greedy accuracy and pass@k on the environments' held-out (test) splits")
    ev.add_argument("target", help="experiment YAML (evaluates its run's checkpoints/final) or a checkpoint directory")
    ev.add_argument("--envs", nargs="+", default=[], metavar="NAME[:JSON]", help="environments (default: the config's)")
    ev.add_argument("--k", type=_positive, default=8, help="k of pass@k (default 8)")
    ev.add_argument("--n", type=_positive, default=None, help="samples per problem for pass@k, >= k (default k)")
    ev.add_argument("--engine", choices=["vllm", "hf"], default="vllm", help="vllm in a Ray actor, or transformers here")
    ev.add_argument("--limit", type=_positive, default=None, help="first N problems of each environment")
    ev.add_argument("--threshold", type=float, default=1.0, help="a response is correct when its reward is >= this")
    ev.add_argument("--gpus", type=int, default=0, help="GPUs of the vllm engine (tensor parallel over them; 0: CPU)")
    ev.add_argument("--max-new-tokens", type=_positive, default=None, help="default: the run's rollout.max_new_tokens")
    ev.add_argument("--out", help="write the results as JSON here")
    ev.set_defaults(fn=cmd_eval)
    report = sub.add_parser(
        "report", help="PNG plots and summary.md of a run directory into RUN_DIR/report/; --compare: two continual runs"
    )
    report.add_argument("run_dir", nargs="?")
    report.add_argument(
        "--compare", nargs=2, metavar=("RUN_A", "RUN_B"), help="two continual runs' accuracy matrices and metrics side by side"
    )
    report.add_argument("--out", help="--compare: output directory (default RUN_A/report/compare-<RUN_B name>)")
    report.set_defaults(fn=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
