"""The experiment schema: every YAML key, its type, range and default, in one place.

`load_config(path, overrides)` reads a YAML file, applies `a.b.c=value` overrides and
validates. Any problem raises `ConfigError` with a one-line message naming the key path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rlpost.algorithms import ALGORITHMS, KL_ESTIMATORS, LOSS_AGG_MODES


class ConfigError(ValueError):
    """A bad experiment config; the message is one line and names the key path."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class RunConfig(Section):
    name: str = Field("run", description="run name; the run directory defaults to runs/<name>")
    dir: str | None = Field(
        None, description="run directory (default $RLPOST_RUN_ROOT/<name>, RLPOST_RUN_ROOT defaulting to runs)"
    )
    seed: int = Field(0, description="seed for data order, sampling and model init")

    @property
    def path(self) -> Path:
        """`dir`, else <RLPOST_RUN_ROOT or runs>/<name>."""
        return Path(self.dir) if self.dir else Path(os.environ.get("RLPOST_RUN_ROOT", "runs")) / self.name


class TinyModelConfig(Section):
    """Shape of the locally built character-level Qwen2 model (used when model.path is 'tiny')."""

    hidden_size: int = Field(128, ge=8)
    num_layers: int = Field(2, ge=1)
    num_heads: int = Field(4, ge=1)
    num_kv_heads: int = Field(2, ge=1)
    intermediate_size: int = Field(256, ge=8)
    max_position: int = Field(256, ge=16)


class ModelConfig(Section):
    path: str = Field("tiny", description="Hugging Face model directory, or 'tiny' to build one locally")
    tiny: TinyModelConfig = TinyModelConfig()
    dtype: Literal["float32", "bfloat16", "float16"] = Field("float32", description="float32 on CPU")

    @field_validator("path")
    @classmethod
    def _path_exists(cls, v: str) -> str:
        if v != "tiny" and not Path(v).is_dir():
            raise ValueError(f"expected 'tiny' or an existing model directory, got {v!r} (not found)")
        return v


class WarmupConfig(Section):
    """Supervised warm-up on the environments' reference answers before RL (TRL SFTTrainer)."""

    enabled: bool = False
    steps: int = Field(300, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(3e-3, gt=0)
    examples: int = Field(4000, ge=1, description="training examples drawn from the first stage's environments")


class RolloutConfig(Section):
    engine: Literal["vllm", "hf"] = Field("vllm", description="vllm, or the transformers generate fallback")
    num_engines: int = Field(1, ge=1)
    prompts_per_step: int = Field(16, ge=1)
    n: int = Field(8, ge=1, description="responses sampled per prompt (the group size)")
    max_new_tokens: int = Field(32, ge=1)
    temperature: float = Field(1.0, gt=0)
    top_p: float = Field(1.0, gt=0, le=1)
    kv_cache_gib: float = Field(1.0, gt=0, description="vLLM CPU KV-cache budget per engine")
    threads: int | None = Field(None, ge=1, description="CPU threads per engine (default: all cores)")
    timeout_s: float = Field(600.0, gt=0, description="bound on one generate call")


class AlgorithmConfig(Section):
    name: str = Field("grpo", description="registered algorithm name")
    clip_low: float = Field(0.2, ge=0, lt=1, description="ε_low of the clipped ratio")
    clip_high: float = Field(0.2, ge=0, le=10, description="ε_high of the clipped ratio")
    kl_coef: float = Field(0.0, ge=0, description="β of the KL-to-reference loss; > 0 loads a reference model")
    kl_estimator: Literal[tuple(KL_ESTIMATORS)] = "k3"  # type: ignore[valid-type]
    loss_agg: Literal[tuple(LOSS_AGG_MODES)] = "token-mean"  # type: ignore[valid-type]
    norm_by_std: bool = Field(True, description="divide group-centred rewards by the group std (off: Dr. GRPO)")
    adv_eps: float = Field(1e-6, gt=0)

    @field_validator("name")
    @classmethod
    def _registered(cls, v: str) -> str:
        if v not in ALGORITHMS:
            raise ValueError(f"expected one of {sorted(ALGORITHMS)}, got {v!r}")
        return v


class LearnerConfig(Section):
    num_workers: int = Field(1, ge=1, description="data-parallel DeepSpeed ranks")
    zero_stage: int | None = Field(
        None, ge=0, le=3, description="DeepSpeed ZeRO stage (default: 0 with one rank (nothing to shard), 2 with several)"
    )
    lr: float = Field(1e-5, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    grad_clip: float = Field(1.0, ge=0)
    mini_batch_size: int | None = Field(None, ge=1, description="sequences per optimizer step (default: whole batch)")
    micro_batch_size: int = Field(16, ge=1, description="sequences per forward/backward per rank")
    epochs: int = Field(1, ge=1, description="passes over each rollout batch")
    threads: int | None = Field(None, ge=1, description="torch threads per learner (default: all cores)")
    timeout_s: float = Field(600.0, gt=0)

    @model_validator(mode="after")
    def _default_zero_stage(self) -> LearnerConfig:
        if self.zero_stage is None:
            self.zero_stage = 0 if self.num_workers == 1 else 2
        return self


class RewardBinding(Section):
    name: str = Field(description="registered reward, 'pkg.module:attr' or 'path/to/file.py:attr'")
    weight: float = 1.0
    params: dict[str, Any] = {}


class EnvSpec(Section):
    name: str = Field(description="registered environment name")
    params: dict[str, Any] = {}
    weight: float = Field(1.0, gt=0, description="sampling weight among a stage's environments")
    rewards: list[RewardBinding] | None = Field(None, description="override the environment's default rewards")
    chat: bool = Field(False, description="wrap prompts in the tokenizer's chat template as a user turn")


class StageConfig(Section):
    name: str = "main"
    steps: int = Field(20, ge=0)
    envs: list[EnvSpec] = Field(min_length=1)


class RewardWorkersConfig(Section):
    num_workers: int = Field(1, ge=1)
    timeout_s: float = Field(30.0, gt=0, description="bound on scoring one sample")
    fallback_score: float = Field(0.0, description="score given to a sample whose reward call failed")


class ClusterConfig(Section):
    address: str | None = Field(None, description="Ray address; None starts or joins a local Ray")
    num_cpus: int | None = Field(None, ge=1, description="CPUs for a local Ray (default: all)")
    use_gpu: bool = Field(False, description="give each engine and learner one GPU (CUDA vllm, nccl)")


class LoggingConfig(Section):
    console: bool = True
    samples_per_step: int = Field(4, ge=0, description="samples written to samples.jsonl per step")
    tensorboard: bool = False


class CheckpointConfig(Section):
    save_every: int = Field(0, ge=0, description="save the policy every N steps (0: only at the end)")
    keep_last: int = Field(2, ge=1)


class ExperimentConfig(Section):
    run: RunConfig = RunConfig()
    model: ModelConfig = ModelConfig()
    warmup: WarmupConfig = WarmupConfig()
    rollout: RolloutConfig = RolloutConfig()
    algorithm: AlgorithmConfig = AlgorithmConfig()
    learner: LearnerConfig = LearnerConfig()
    rewards: RewardWorkersConfig = RewardWorkersConfig()
    stages: list[StageConfig] = Field(min_length=1)
    cluster: ClusterConfig = ClusterConfig()
    logging: LoggingConfig = LoggingConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()

    @property
    def batch_size(self) -> int:
        """Sequences per rollout step."""
        return self.rollout.prompts_per_step * self.rollout.n

    @property
    def mini_batch_size(self) -> int:
        return self.learner.mini_batch_size or self.batch_size

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentConfig:
        algo = ALGORITHMS[self.algorithm.name]
        if self.rollout.n < algo.min_samples_per_prompt:
            raise _KeyedError(
                "rollout.n",
                f"{self.algorithm.name} needs at least {algo.min_samples_per_prompt} samples per prompt, got {self.rollout.n}",
            )
        if self.batch_size % self.mini_batch_size:
            raise _KeyedError(
                "learner.mini_batch_size",
                f"must divide rollout.prompts_per_step * rollout.n = {self.batch_size}, got {self.mini_batch_size}",
            )
        per_step = self.learner.micro_batch_size * self.learner.num_workers
        if self.mini_batch_size % per_step:
            raise _KeyedError(
                "learner.micro_batch_size",
                f"micro_batch_size * num_workers = {per_step} must divide the mini-batch of {self.mini_batch_size} sequences",
            )
        if self.warmup.enabled and self.model.path != "tiny":
            raise _KeyedError("warmup.enabled", "the supervised warm-up is for locally built tiny models (model.path: tiny)")
        return self


class _KeyedError(ValueError):
    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")


def _format_error(err: ValidationError) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    msg = first["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    elif "input" in first and first["type"] not in ("value_error", "missing"):
        msg = f"{msg} (got {first['input']!r})"
    where = f"{loc}: " if loc else ""
    more = f" (+{err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{where}{msg}{more}"


def _yaml_problem(e: yaml.YAMLError) -> str:
    """A one-line description of a YAML error (reader errors have no `problem`)."""
    problem = getattr(e, "problem", None)
    if problem is None and isinstance(e, yaml.reader.ReaderError):
        problem = f"unacceptable character #x{e.character:04x} at position {e.position}"
    return " ".join(str(problem or e).split())


def parse_override(text: str) -> tuple[list[str], Any]:
    """'a.b.0.c=value' -> (['a','b','0','c'], YAML-parsed value)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected key.path=value")
    key, raw = text.split("=", 1)
    if not key or any(not p for p in key.split(".")):
        raise ConfigError(f"override {text!r}: bad key path {key!r}")
    try:
        value = yaml.safe_load(raw) if raw else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"override {key}: value {raw!r} is not valid YAML ({_yaml_problem(e)})") from None
    return key.split("."), value


def apply_override(data: dict[str, Any], path: list[str], value: Any) -> None:
    """Set `value` at `path` inside nested dicts / lists, creating dicts as needed."""
    node: Any = data
    for i, part in enumerate(path[:-1]):
        where = ".".join(path[: i + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"{where}: no list item {part!r} (length {len(node)})")
            node = node[int(part)]
        else:
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
        if not isinstance(node, dict | list):
            raise ConfigError(f"{where}: is a value, cannot set {'.'.join(path)}")
    last = path[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise ConfigError(f"{'.'.join(path)}: no list item {last!r} (length {len(node)})")
        node[int(last)] = value
    else:
        node[last] = value


def read_yaml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {str(p)!r} not found")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{p}{where}: invalid YAML ({_yaml_problem(e)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping at the top level")
    return data


def build_config(data: dict[str, Any]) -> ExperimentConfig:
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_error(e)) from None
    except _KeyedError as e:
        raise ConfigError(str(e)) from None


def load_config(path: str | Path, overrides: list[str] = ()) -> ExperimentConfig:
    data = read_yaml(path)
    for text in overrides:
        keys, value = parse_override(text)
        apply_override(data, keys, value)
    return build_config(data)


def dump_config(cfg: ExperimentConfig) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
