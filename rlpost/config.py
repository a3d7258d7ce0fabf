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

from rlpost.algorithms import ALGORITHMS, KL_ESTIMATORS, KL_PLACEMENTS, LOSS_AGG_MODES, get_algorithm, resolve_algorithm


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
    dtype: Literal["float32", "bfloat16", "float16"] | None = Field(
        None, description="weights' dtype in every actor (default: bfloat16 with cluster.gpus, float32 on CPU)"
    )

    @field_validator("path")
    @classmethod
    def _path_exists(cls, v: str) -> str:
        if v != "tiny" and not Path(v).is_dir():
            raise ValueError(f"expected 'tiny' or an existing model directory, got {v!r} (not found)")
        return v


class RewardBinding(Section):
    name: str = Field(description="registered reward, 'pkg.module:attr' or 'path/to/file.py:attr'")
    weight: float = 1.0
    params: dict[str, Any] = {}


class InteractionBinding(Section):
    name: str = Field(description="registered interaction, 'pkg.module:attr' or 'path/to/file.py:attr'")
    params: dict[str, Any] = {}


class EnvSpec(Section):
    name: str = Field(description="registered environment name")
    params: dict[str, Any] = {}
    weight: float = Field(1.0, gt=0, description="sampling weight among a stage's environments")
    rewards: list[RewardBinding] | None = Field(None, description="override the environment's default rewards")
    chat: bool = Field(False, description="wrap prompts in the tokenizer's chat template as a user turn")
    system: str | None = Field(None, description="a system message before the user turn (needs chat: true)")
    interaction: InteractionBinding | None = Field(
        None, description="make it multi-turn: the interaction answering each policy turn (default: the environment's, if any)"
    )

    @model_validator(mode="after")
    def _system_needs_chat(self) -> EnvSpec:
        if self.system is not None and not self.chat:
            raise ValueError("system: a system message needs chat: true (the tokenizer's chat template)")
        return self


class WarmupConfig(Section):
    """Supervised warm-up on the environments' reference answers before RL (TRL SFTTrainer)."""

    enabled: bool = False
    steps: int = Field(300, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(3e-3, gt=0)
    examples: int = Field(4000, ge=1, description="training examples per warm-up environment")
    envs: list[EnvSpec] | None = Field(
        None, description="environments whose reference completions it trains on (default: the first stage's)"
    )


_FIXED_STALENESS = {"sync": 0, "one_step": 1}  # modes whose bound is the mode itself
ASYNC_STALENESS = 2  # rollout.max_staleness of mode async when unset


class TurnsConfig(Section):
    """Limits of multi-turn episodes (environments with an interaction); a turn has rollout.max_new_tokens at most."""

    max_turns: int = Field(4, ge=1, description="policy turns per episode")
    max_tokens: int = Field(256, ge=1, description="response tokens per episode: policy turns and observations")
    max_observation_tokens: int = Field(128, ge=1, description="tokens of one observation's content (cut beyond)")
    reply_timeout_s: float = Field(30.0, gt=0, description="bound on one environment reply (a tool call)")


class RolloutConfig(Section):
    engine: Literal["vllm", "hf"] = Field("vllm", description="vllm, or the transformers generate fallback")
    num_engines: int = Field(1, ge=1)
    prompts_per_step: int = Field(16, ge=1)
    n: int = Field(8, ge=1, description="responses sampled per prompt (the group size)")
    max_new_tokens: int = Field(32, ge=1)
    temperature: float = Field(1.0, gt=0)
    top_p: float = Field(1.0, gt=0, le=1)
    kv_cache_gib: float = Field(1.0, gt=0, description="vLLM CPU KV-cache budget per engine")
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs per vLLM engine (tensor parallel, on one node)")
    gpu_memory_utilization: float = Field(
        0.9, gt=0, le=1, description="share of each engine GPU's memory vLLM takes (weights + KV cache)"
    )
    enforce_eager: bool | None = Field(
        None, description="vLLM without CUDA graphs (default: true on CPU, false with cluster.gpus)"
    )
    threads: int | None = Field(None, ge=1, description="CPU threads per engine (default: all cores)")
    timeout_s: float = Field(600.0, gt=0, description="bound on one generate call")
    turns: TurnsConfig = TurnsConfig()
    mode: Literal["sync", "one_step", "async"] = Field(
        "sync", description="sync: generate, then train; one_step / async: engines and reward workers produce the next "
        "batches while the learners train (see max_staleness)"
    )
    max_staleness: int | None = Field(
        None, ge=0, description="samples are generated by weights at most this many steps older than the ones trained "
        "(sync 0, one_step 1, async default 2)"
    )

    @model_validator(mode="after")
    def _staleness(self) -> RolloutConfig:
        fixed = _FIXED_STALENESS.get(self.mode)
        if fixed is not None and self.max_staleness not in (None, fixed):
            raise _KeyedError("max_staleness", f"is {fixed} in mode {self.mode}, got {self.max_staleness}")
        if self.mode == "async" and self.max_staleness == 0:
            raise _KeyedError("max_staleness", "must be at least 1 in mode async (0 is mode sync)")
        return self

    @property
    def staleness_bound(self) -> int:
        """K: the largest lag, in steps, between the weights that generate a batch and the ones that train on it."""
        if self.max_staleness is not None:
            return self.max_staleness
        return _FIXED_STALENESS.get(self.mode, ASYNC_STALENESS)


class AlgorithmConfig(Section):
    """Keys left unset (None) take the registered algorithm's default (e.g. GPPO: clip_high 0.28, dual_clip 10).
    A recipe with settings of its own takes them as further keys here, validated by its settings model."""

    model_config = ConfigDict(extra="allow", validate_default=True)

    name: str = Field(
        "grpo",
        description="a registered recipe (grpo, gppo, remax, ppo, rloo, reinforce_pp, gspo, cispo, ...), an entry point of "
        "rlpost.algorithms, or pkg.module:attr / path/to/file.py:attr",
    )
    advantage: str | None = Field(None, description="the advantage estimator, replacing the recipe's (e.g. rloo, gae)")
    loss: str | None = Field(None, description="the policy loss, replacing the recipe's (e.g. clipped, gppo, gspo, cispo)")
    clip_low: float | None = Field(
        None, ge=0, lt=1, description="ε_low of the clipped ratio (default 0.2; GSPO 3e-4, CISPO 0.99)"
    )
    clip_high: float | None = Field(None, ge=0, le=10, description="ε_high of the clipped ratio (default 0.2; GPPO 0.28)")
    dual_clip: float | None = Field(None, gt=1, description="dual-clip c for negative advantages (off; GPPO default 10)")
    beta1: float = Field(1.0, ge=0, description="GPPO: gradient weight on tokens clipped from below with A<0")
    beta2: float = Field(1.0, ge=0, description="GPPO: gradient weight on tokens clipped from above with A>0")
    kl_coef: float = Field(0.0, ge=0, description="β of the KL to the reference; > 0 loads a reference model")
    kl_estimator: Literal[tuple(KL_ESTIMATORS)] = Field("k3", description="estimator of the KL term in the loss")  # type: ignore[valid-type]
    kl_in: Literal[tuple(KL_PLACEMENTS)] | None = Field(  # type: ignore[valid-type]
        None, description="where the KL goes: the loss (GRPO family) or the token rewards as k1 (PPO, ReMax default)"
    )
    kl_target: float | None = Field(
        None, gt=0, description="adaptive KL controller target (KL in the reward only); off when unset"
    )
    kl_horizon: int = Field(10000, ge=1, description="adaptive KL controller horizon, in samples")
    loss_agg: Literal[tuple(LOSS_AGG_MODES)] = "token-mean"  # type: ignore[valid-type]
    norm_by_std: bool = Field(True, description="divide group-centred rewards by the group std (off: Dr. GRPO)")
    adv_eps: float = Field(1e-6, gt=0)
    adv_clip: float | None = Field(
        None, gt=0, description="ReMax: clip r − r_greedy to ±adv_clip (default 5, as the official code)"
    )
    remax_update: Literal["reinforce", "clipped"] = Field(
        "reinforce", description="ReMax: the official one-step REINFORCE loss, or the clipped ratio loss"
    )
    gamma: float = Field(1.0, gt=0, le=1, description="discount (PPO's GAE, ReMax's returns)")
    lam: float = Field(0.95, ge=0, le=1, description="PPO: GAE λ")
    whiten_advantages: bool = Field(True, description="PPO: whiten GAE advantages over the batch's response tokens")
    dynamic_sampling: bool = Field(False, description="drop groups whose rewards are all equal and sample more prompts (DAPO)")
    max_sampling_rounds: int = Field(4, ge=1, description="dynamic sampling: rollout rounds per step at most")
    overlong_buffer: int = Field(
        0, ge=0, description="DAPO overlong shaping: penalty ramps over the last N tokens of the budget (0: off)"
    )
    overlong_penalty: float = Field(1.0, ge=0, description="DAPO overlong shaping: penalty at and beyond the token budget")
    is_correction: Literal["none", "tis", "mis"] | None = Field(
        None, description="off-policy correction of engine vs learner logprobs: tis (token-level truncated importance "
        "weights), mis (sequence-level mask), none; default tis when rollout.mode is not sync, else none"
    )
    is_cap: float = Field(2.0, gt=1, description="the cap C of the importance weights (tis: min(ρ, C); mis: [1/C, C])")

    @field_validator("name")
    @classmethod
    def _registered(cls, v: str) -> str:
        try:
            get_algorithm(v)
        except KeyError:
            raise ValueError(f"expected one of {sorted(ALGORITHMS)} or pkg.module:attr / file.py:attr, got {v!r}") from None
        except Exception as e:  # noqa: BLE001 - a plugin that fails to load is a config error
            raise ValueError(f"cannot load algorithm {v!r}: {type(e).__name__}: {' '.join(str(e).split())[:200]}") from None
        return v

    @model_validator(mode="after")
    def _algorithm_defaults(self) -> AlgorithmConfig:
        try:
            algo = resolve_algorithm({"name": self.name, "advantage": self.advantage, "loss": self.loss})
        except KeyError as e:
            key = "advantage" if "estimator" in str(e) else "loss"
            raise ValueError(f"{key}: {e.args[0]}") from None
        conflict = algo.conflict()
        if conflict:
            raise ValueError(f"{'loss' if self.loss else 'advantage'}: {conflict}")
        self._own_settings(algo)
        if self.kl_in is None:
            self.kl_in = algo.kl_placements[0]
        elif self.kl_in not in algo.kl_placements:
            raise ValueError(f"kl_in: {self.name} supports {list(algo.kl_placements)}, got {self.kl_in!r}")
        for key, value in algo.defaults.items():
            if getattr(self, key) is None:
                setattr(self, key, value)
        if self.clip_low is None:
            self.clip_low = 0.2
        if self.clip_high is None:
            self.clip_high = 0.2
        if self.kl_target is not None and (self.kl_in != "reward" or self.kl_coef == 0):
            raise ValueError("kl_target: the adaptive KL controller needs kl_in: reward and kl_coef > 0")
        return self

    def _own_settings(self, algo) -> None:
        """Keys beyond the shared ones belong to the recipe's settings model (defaults filled in); without
        one they are unknown keys."""
        extra = dict(self.__pydantic_extra__ or {})
        if algo.settings is None:
            if extra:
                raise ValueError(f"{next(iter(extra))}: unknown key ({algo.name} has no settings of its own)")
            return
        try:
            own = algo.settings.model_validate(extra)
        except ValidationError as e:
            raise ValueError(_format_error(e)) from None
        for key, value in own.model_dump().items():
            setattr(self, key, value)


class CriticConfig(Section):
    """The value model of algorithms with a critic (PPO), trained by its own DeepSpeed learner."""

    model: str | None = Field(
        None, description="'policy' (a value head on the policy's starting weights) or a model directory; required by PPO"
    )
    lr: float = Field(1e-5, gt=0)
    value_clip: float | None = Field(0.5, gt=0, description="ε_v of the clipped value loss (unset: unclipped)")
    warmup_steps: int = Field(0, ge=0, description="first steps that train only the critic")
    micro_batch_size: int | None = Field(None, ge=1, description="default: learner.micro_batch_size")

    @field_validator("model")
    @classmethod
    def _path_exists(cls, v: str | None) -> str | None:
        if v not in (None, "policy") and not Path(v).exists():
            raise ValueError(f"expected 'policy' or an existing model directory, got {v!r} (not found)")
        return v


class LoraConfig(Section):
    """LoRA adapters on the policy (PEFT): only they train; the reference model is the base without them."""

    rank: int = Field(0, ge=0, description="adapter rank r (0: full fine-tuning)")
    alpha: float | None = Field(None, gt=0, description="α; the update is scaled by α / r (default 2r)")
    dropout: float = Field(0.0, ge=0, lt=1)
    target_modules: list[str] | Literal["all-linear"] = Field(
        "all-linear", description="modules adapted: all linear layers but the output head, or a list of names"
    )


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
    micro_token_budget: int | None = Field(
        None, ge=1, description="pack each rank's micro-batches by length to at most this many padded tokens "
        "(rows x longest row) instead of micro_batch_size rows"
    )
    epochs: int = Field(1, ge=1, description="passes over each rollout batch")
    threads: int | None = Field(None, ge=1, description="torch threads per learner (default: all cores)")
    timeout_s: float = Field(600.0, gt=0)
    logprob_chunk: int | None = Field(
        None, ge=0, description="tokens per chunk of the output head, which runs at the response tokens only "
        "(0: full logits; default 256 from a 32k vocabulary)"
    )
    gradient_checkpointing: bool = Field(False, description="recompute the backbone's activations in the backward pass")
    lr_schedule: Literal["constant", "linear", "cosine"] = Field("constant", description="learning rate after the warm-up")
    lr_warmup_steps: int = Field(0, ge=0, description="optimizer steps of linear learning-rate warm-up from 0")
    lora: LoraConfig = LoraConfig()

    @model_validator(mode="after")
    def _default_zero_stage(self) -> LearnerConfig:
        if self.zero_stage is None:
            self.zero_stage = 0 if self.num_workers == 1 else 2
        return self


class FilterConfig(Section):
    """Rollout-based instance filtering before a stage (RIF-RFT): `k` rollouts per training instance, then
    a keep-rule on their rewards; only kept instances are trained on in that stage."""

    enabled: bool = Field(False, description="filter each stage's training instances before it starts")
    k: int = Field(8, ge=1, description="rollouts per instance")
    rule: str = Field(
        "any_correct",
        description="any_correct: drop instances no rollout solves; partially_correct: also drop those every rollout "
        "solves; reward_variance: keep instances whose reward variance exceeds min_variance",
    )
    threshold: float = Field(1.0, description="a rollout is correct when its reward is at least this")
    min_variance: float = Field(0.0, ge=0, description="reward_variance rule: population variance a kept instance exceeds")
    max_instances: int | None = Field(None, ge=1, description="instances rolled out per environment (default: whole train split)")

    @field_validator("rule")
    @classmethod
    def _registered(cls, v: str) -> str:
        from rlpost.continual.keep_rules import KEEP_RULES

        if v not in KEEP_RULES:
            raise ValueError(f"expected one of {sorted(KEEP_RULES)}, got {v!r}")
        return v


class EvalConfig(Section):
    """Evaluation after every stage (and of the starting policy) on every stage's held-out split and on
    `general` environments never trained on: the accuracy matrix of `continual/matrix.json`."""

    enabled: bool = Field(False, description="evaluate after each stage and write continual/matrix.json and its plots")
    general: list[EnvSpec] = Field([], description="held-out environments never trained on (their test split)")
    k: int = Field(4, ge=1, description="pass@k")
    n: int | None = Field(None, ge=1, description="samples per problem for pass@k (default: k)")
    temperature: float = Field(1.0, gt=0, description="sampling temperature for pass@k (accuracy is greedy)")
    limit: int | None = Field(100, ge=1, description="problems per environment (the first of its test split); null: all")
    threshold: float = Field(1.0, description="a response is correct when its reward is at least this")

    @model_validator(mode="after")
    def _n_at_least_k(self) -> EvalConfig:
        if self.n is not None and self.n < self.k:
            raise ValueError(f"n: pass@{self.k} needs at least k samples per problem, got {self.n}")
        return self


class HeldoutConfig(Section):
    """Held-out accuracy during training on the current stage's test split: before the first step, every
    `every` steps and after the last; logged as `heldout/greedy_accuracy` and `heldout/sampled_accuracy`."""

    every: int = Field(0, ge=0, description="steps between evaluations (0: off)")
    limit: int | None = Field(200, ge=1, description="problems per environment (the first of its test split); null: all")
    samples: int = Field(4, ge=1, description="responses per problem at the rollout temperature (sampled accuracy)")
    threshold: float = Field(1.0, description="a response is correct when its reward is at least this")


class ContinualConfig(Section):
    """Continual post-training over `stages`: instance filtering before and evaluation after each stage."""

    filter: FilterConfig = FilterConfig()
    eval: EvalConfig = EvalConfig()


class SFTConfig(Section):
    """`method: sft` (the continual baseline): each stage trains with TRL's SFTTrainer for `stages[i].steps`
    optimizer steps on its environments' reference completions."""

    batch_size: int = Field(64, ge=1)
    lr: float = Field(1e-3, gt=0)
    examples: int | None = Field(None, ge=1, description="training examples per environment (default: whole train split)")


class StageConfig(Section):
    name: str = "main"
    steps: int = Field(20, ge=0)
    envs: list[EnvSpec] = Field(min_length=1)
    algorithm: AlgorithmConfig | None = Field(
        None, description="keys overriding the top-level algorithm for this stage (merged; the critic cannot come or go)"
    )
    filter: FilterConfig | None = Field(None, description="keys overriding continual.filter for this stage (merged)")


class RewardWorkersConfig(Section):
    num_workers: int = Field(1, ge=1)
    timeout_s: float = Field(30.0, gt=0, description="bound on scoring one sample")
    fallback_score: float = Field(0.0, description="score given to a sample whose reward call failed")


class ClusterConfig(Section):
    address: str | None = Field(None, description="Ray address; None starts or joins a local Ray")
    max_step_retries: int = Field(
        2, ge=0, description="times a step is retried after a rollout engine or reward worker died or hung (then restarted)"
    )
    num_cpus: int | None = Field(None, ge=1, description="CPUs for a local Ray (default: all)")
    gpus: int = Field(
        0, ge=0, description="GPUs the run's actors take (0: all on CPU): each engine rollout.tensor_parallel_size, each "
        "policy and critic rank one, the reference one"
    )
    use_gpu: bool = Field(False, description="shorthand: true takes as many GPUs as the layout needs (cluster.gpus)")
    placement: Literal["pack", "spread"] = Field(
        "pack", description="Ray placement groups of the learner ranks and of the engines: pack onto few nodes, or "
        "spread over nodes"
    )
    weight_sync: Literal["object_store", "collective"] = Field(
        "object_store", description="weights to the engines: a packed copy through Ray's object store, or broadcast over "
        "a collective group from policy rank 0 (gloo on CPU, NCCL on GPUs)"
    )
    sync_bucket_mib: float = Field(256.0, gt=0, description="collective weight sync: MiB per broadcast bucket")
    sync_timeout_s: float = Field(300.0, gt=0, description="bound on one weight sync; the actor that did not answer is named")


class LoggingConfig(Section):
    """Metric sinks besides `metrics.jsonl` (always written); each writes inside the run directory, none uses the network."""

    console: bool = Field(True, description="one progress line per step, and the run's events")
    samples_per_step: int = Field(4, ge=0, description="samples written to samples.jsonl per step")
    tensorboard: bool = Field(False, description="TensorBoard event files in <run>/tensorboard")
    wandb: bool = Field(False, description="Weights & Biases offline run in <run>/wandb (upload later with `wandb sync`)")
    mlflow: bool = Field(False, description="MLflow local file store <run>/mlruns")
    project: str = Field(
        "rlpost", pattern=r"^[A-Za-z0-9._-]+$", description="W&B project and MLflow experiment name (the run is run.name)"
    )

    @property
    def sinks(self) -> list[str]:
        """Names of the optional sinks switched on (see rlpost.tracking.SINKS)."""
        return [name for name in ("console", "tensorboard", "wandb", "mlflow") if getattr(self, name)]


class DataConfig(Section):
    strict: bool = Field(False, description="a dataset row missing a needed field is an error (default: skipped and logged)")


class CheckpointConfig(Section):
    save_every: int = Field(0, ge=0, description="save policy, optimizer and run state every N steps (0: only at the end)")
    keep_last: int = Field(2, ge=1, description="step checkpoints kept (the final one is always kept)")
    resume: Literal["never", "auto"] = Field(
        "never", description="auto: continue from the run directory's newest complete checkpoint (`rlpost train --resume`)"
    )


class ExperimentConfig(Section):
    run: RunConfig = RunConfig()
    model: ModelConfig = ModelConfig()
    warmup: WarmupConfig = WarmupConfig()
    rollout: RolloutConfig = RolloutConfig()
    algorithm: AlgorithmConfig = AlgorithmConfig()
    learner: LearnerConfig = LearnerConfig()
    critic: CriticConfig = CriticConfig()
    rewards: RewardWorkersConfig = RewardWorkersConfig()
    stages: list[StageConfig] = Field(min_length=1)
    method: Literal["rl", "sft"] = Field(
        "rl", description="rl: the algorithm on the Ray stack; sft: supervised stages (baseline)"
    )
    sft: SFTConfig = SFTConfig()
    continual: ContinualConfig = ContinualConfig()
    heldout: HeldoutConfig = HeldoutConfig()
    cluster: ClusterConfig = ClusterConfig()
    data: DataConfig = DataConfig()
    logging: LoggingConfig = LoggingConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()

    @model_validator(mode="before")
    @classmethod
    def _merge_stage_overrides(cls, data: Any) -> Any:
        """A stage's `algorithm` / `filter` keys are laid over the top-level `algorithm` / `continual.filter`."""
        if not isinstance(data, dict) or not isinstance(data.get("stages"), list):
            return data
        base_algo = data.get("algorithm") if isinstance(data.get("algorithm"), dict) else {}
        continual = data.get("continual") if isinstance(data.get("continual"), dict) else {}
        base_filter = continual.get("filter") if isinstance(continual.get("filter"), dict) else {}
        stages = []
        for stage in data["stages"]:
            if isinstance(stage, dict):
                stage = dict(stage)
                for key, base in (("algorithm", base_algo), ("filter", base_filter)):
                    if isinstance(stage.get(key), dict):
                        stage[key] = {**base, **stage[key]}
            stages.append(stage)
        return {**data, "stages": stages}

    def stage_algorithm(self, index: int) -> AlgorithmConfig:
        """The algorithm settings of stage `index` (its overrides merged)."""
        return self.stages[index].algorithm or self.algorithm

    def stage_filter(self, index: int) -> FilterConfig:
        return self.stages[index].filter or self.continual.filter

    @property
    def uses_reference(self) -> bool:
        """Whether any stage has a KL term (then a reference model is loaded)."""
        return any(self.stage_algorithm(i).kl_coef > 0 for i in range(len(self.stages)))

    @property
    def batch_size(self) -> int:
        """Sequences per rollout step."""
        return self.rollout.prompts_per_step * self.rollout.n

    @property
    def mini_batch_size(self) -> int:
        return self.learner.mini_batch_size or self.batch_size

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentConfig:
        algo = resolve_algorithm(self.algorithm.model_dump())
        for i in range(len(self.stages)):
            stage_algo = self.stage_algorithm(i)
            prefix = "" if stage_algo is self.algorithm else f"stages.{i}."
            recipe = resolve_algorithm(stage_algo.model_dump())
            needs = recipe.min_samples_per_prompt
            if self.rollout.n < needs:
                where = "rollout.n" if not prefix else f"{prefix}algorithm.name"
                raise _KeyedError(where, f"{stage_algo.name} needs at least {needs} samples per prompt, got {self.rollout.n}")
            if recipe.critic != algo.critic:
                raise _KeyedError(
                    f"{prefix}algorithm.name",
                    f"{stage_algo.name} and the run's {algo.name} differ in needing a critic; a stage cannot add or drop it",
                )
            if stage_algo.dynamic_sampling and not recipe.equal_rewards_no_signal:
                fit = sorted({a.name for a in ALGORITHMS.values() if a.equal_rewards_no_signal})
                raise _KeyedError(
                    f"{prefix}algorithm.dynamic_sampling",
                    f"{stage_algo.name}'s advantage is not zero for a group of equal rewards, so dropping such groups would bias "
                    f"it; dynamic sampling is for {fit}",
                )
            if stage_algo.dynamic_sampling and self.rollout.n < 2:
                raise _KeyedError(
                    f"{prefix}algorithm.dynamic_sampling", f"needs groups of at least 2 samples (rollout.n), got {self.rollout.n}"
                )
            updates = self.learner.epochs * self.batch_size // self.mini_batch_size
            if recipe.one_update_only(stage_algo.model_dump()) and updates > 1:
                raise _KeyedError(
                    "learner.mini_batch_size",
                    f"{stage_algo.name} with these settings has no importance ratio, so it needs one optimizer step per "
                    f"rollout batch (mini_batch_size = rollout.prompts_per_step * rollout.n = {self.batch_size}, epochs 1); "
                    f"got {updates}",
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
        if algo.critic and self.critic.model is None:
            raise _KeyedError(
                "critic.model",
                f"{self.algorithm.name} needs a critic: set 'policy' (a value head on the policy's weights) or a model directory",
            )
        if self.algorithm.overlong_buffer > self.rollout.max_new_tokens:
            raise _KeyedError(
                "algorithm.overlong_buffer",
                f"must not exceed rollout.max_new_tokens = {self.rollout.max_new_tokens}, got {self.algorithm.overlong_buffer}",
            )
        critic_micro = self.critic.micro_batch_size or self.learner.micro_batch_size
        if algo.critic and self.mini_batch_size % (critic_micro * self.learner.num_workers):
            raise _KeyedError(
                "critic.micro_batch_size",
                f"micro_batch_size * learner.num_workers = {critic_micro * self.learner.num_workers} "
                f"must divide the mini-batch of {self.mini_batch_size} sequences",
            )
        if self.learner.lora.rank and self.learner.zero_stage == 3:
            raise _KeyedError("learner.lora.rank", "LoRA adapters are not supported with ZeRO-3 (use zero_stage 0, 1 or 2)")
        self._devices()
        if self.warmup.enabled and self.model.path != "tiny":
            raise _KeyedError("warmup.enabled", "the supervised warm-up is for locally built tiny models (model.path: tiny)")
        return self

    @property
    def gpus_needed(self) -> int:
        """GPUs of the actor layout: engines x tensor parallel, policy and critic ranks, the reference model."""
        algo = resolve_algorithm(self.algorithm.model_dump())
        engines = self.rollout.num_engines * self.rollout.tensor_parallel_size
        critic = self.learner.num_workers if algo.critic else 0
        reference = 1 if self.uses_reference and not self.learner.lora.rank else 0
        return engines + self.learner.num_workers + critic + reference

    def _devices(self) -> None:
        """`cluster.use_gpu` and `cluster.gpus` made one (use_gpu alone takes what the layout needs); defaults that
        differ on GPUs (bf16, CUDA graphs)."""
        c = self.cluster
        if c.use_gpu and c.gpus == 0:
            c.gpus = self.gpus_needed
        c.use_gpu = c.gpus > 0
        if c.gpus and c.gpus < self.gpus_needed:
            raise _KeyedError("cluster.gpus", f"the actor layout needs {self.gpus_needed} GPUs, got {c.gpus}")
        if self.model.dtype is None:
            self.model.dtype = "bfloat16" if c.gpus else "float32"
        if self.rollout.enforce_eager is None:
            self.rollout.enforce_eager = not c.gpus
        if self.rollout.tensor_parallel_size > 1 and not c.gpus:
            raise _KeyedError("rollout.tensor_parallel_size", "splits an engine over GPUs; set cluster.gpus")


class _KeyedError(ValueError):
    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")


def _format_error(err: ValidationError) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    msg = first["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
        # a section's validator names the key inside it as "key: message"
        key, sep, rest = msg.partition(": ")
        if sep and key.isidentifier():
            loc, msg = f"{loc}.{key}" if loc else key, rest
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
