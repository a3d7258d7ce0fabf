"""`rlpost train | check | rewards | envs`."""

from __future__ import annotations

import argparse
import json
import sys

from rlpost.config import ConfigError, ExperimentConfig, load_config


def _load(args) -> ExperimentConfig:
    resume = ["checkpoint.resume=auto"] if getattr(args, "resume", False) else []
    cfg = load_config(args.config, [*args.overrides, *resume])
    validate_plugins(cfg)
    return cfg


def validate_plugins(cfg: ExperimentConfig) -> None:
    """Check that every environment and reward named in the config resolves (cheap; no heavy start-up)."""
    from rlpost.envs import get_env
    from rlpost.rewards import resolve_reward

    for i, stage in enumerate(cfg.stages):
        for j, spec in enumerate(stage.envs):
            key = f"stages.{i}.envs.{j}"
            try:
                env = get_env(spec.name)
            except KeyError as e:
                raise ConfigError(f"{key}.name: {e.args[0]}") from None
            names = [b.name for b in spec.rewards] if spec.rewards is not None else [r.name for r in env.rewards]
            for k, name in enumerate(names):
                try:
                    resolve_reward(name)
                except Exception as e:  # noqa: BLE001 - any failure to load a plugin is a config error
                    where = f"{key}.rewards.{k}.name" if spec.rewards is not None else f"{key}.name"
                    detail = e.args[0] if isinstance(e, KeyError) and e.args else f"{type(e).__name__}: {e}"
                    raise ConfigError(f"{where}: {' '.join(str(detail).split())}") from None


def cmd_check(args) -> int:
    from rlpost.trainer import describe

    cfg = _load(args)
    print(f"{args.config}: ok")
    print(json.dumps(describe(cfg), indent=2))
    return 0


def cmd_train(args) -> int:
    from rlpost.trainer import Trainer, TrainingFailed

    cfg = _load(args)
    try:
        run_dir = Trainer(cfg).run()
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


def cmd_envs_list(args) -> int:
    from rlpost.envs import ENVS, load_builtins

    load_builtins()
    for name, env in sorted(ENVS.items()):
        print(f"{name:24s} {env.description}")
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
    envs = sub.add_parser("envs", help="environments").add_subparsers(dest="envs_command", required=True)
    envs.add_parser("list", help="list registered environments").set_defaults(fn=cmd_envs_list)
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
