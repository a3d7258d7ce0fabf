"""What every DeepSpeed learner shares: rank set-up, the epochs × mini × micro optimizer loop,
full weights for sync and saving. Subclasses load their model and define one micro-batch loss.

One learner per data-parallel rank. Every rank receives the whole rollout batch and takes its
own shard of each mini-batch, so normalisers are those of the whole optimizer-step batch (see
`algorithms.aggregation`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rlpost.algorithms.aggregation import combine_stats
from rlpost.batch import RolloutBatch
from rlpost.learner.distributed import init_rank
from rlpost.learner.lora import ADAPTER_DIR, LoraSpec, merged_state_dict
from rlpost.learner.micro_batches import fixed_micro_batches, token_budget_micro_batches


@dataclass(frozen=True)
class LearnerSpec:
    model_path: str
    dtype: str
    zero_stage: int
    lr: float
    weight_decay: float
    grad_clip: float
    mini_batch_size: int
    micro_batch_size: int
    epochs: int
    num_workers: int
    threads: int | None
    temperature: float
    max_new_tokens: int
    seed: int
    logprob_chunk: int | None = 0  # see rlpost.learner.logprobs.default_chunk
    gradient_checkpointing: bool = False
    lr_schedule: str = "constant"  # constant | linear | cosine, after `lr_warmup_steps`
    lr_warmup_steps: int = 0
    total_updates: int = 0  # optimizer steps the run will take (the schedule's horizon)
    micro_token_budget: int | None = None  # micro-batches packed to this many padded tokens (None: micro_batch_size rows)
    lora: LoraSpec | None = None  # adapters on the policy (rlpost.learner.lora)


def lr_factor(schedule: str, warmup: int, total: int, step: int) -> float:
    """Multiplier of the base learning rate before optimizer step `step` (0-based): linear warm-up from 0 over
    `warmup` steps, then constant, linear decay to 0 or cosine decay to 0 at `total`."""
    if warmup and step < warmup:
        return (step + 1) / (warmup + 1)
    if schedule == "constant" or total <= warmup:
        return 1.0
    progress = min(1.0, (step - warmup) / (total - warmup))
    if schedule == "linear":
        return 1.0 - progress
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f"unknown lr_schedule {schedule!r}; expected constant, linear or cosine")


def reduced_before_step(spec: LearnerSpec) -> bool:
    """Without ZeRO the gradients are whole after the last backward of a mini-batch (so the learner
    measures and may clip them), unless several ranks accumulate token-budget micro-batches, which
    DeepSpeed only reduces inside its step."""
    return spec.zero_stage == 0 and (spec.micro_token_budget is None or spec.num_workers == 1)


def learner_clips(spec: LearnerSpec) -> bool:
    """Float32 with whole gradients before the step (`reduced_before_step`): the learner clips them itself,
    since it needs their norm (which DeepSpeed does not report there and would compute a second time)."""
    return spec.dtype == "float32" and reduced_before_step(spec)


def deepspeed_config(spec: LearnerSpec) -> dict[str, Any]:
    micro = spec.micro_batch_size
    if spec.micro_token_budget is not None:  # only the sample count per rank matters; the learner packs micro-batches
        micro = max(1, spec.mini_batch_size // spec.num_workers)
    gas = max(1, spec.mini_batch_size // (micro * spec.num_workers))
    cfg: dict[str, Any] = {
        "train_micro_batch_size_per_gpu": micro,
        "gradient_accumulation_steps": gas,
        "gradient_clipping": 0.0 if learner_clips(spec) else spec.grad_clip,
        "zero_optimization": {"stage": spec.zero_stage},
        "steps_per_print": 10**9,
        "wall_clock_breakdown": False,
    }
    if spec.micro_token_budget is not None:
        # ranks pack different numbers of micro-batches: backward only accumulates, step() reduces and updates
        cfg["managed_gradient_accumulation"] = False
    if spec.dtype == "bfloat16":
        cfg["bf16"] = {"enabled": True}
    elif spec.dtype == "float16":
        cfg["fp16"] = {"enabled": True}
    return cfg


class DeepSpeedLearner:
    loss_name = "loss"  # the key of the main loss in the stats of `micro_loss` and `train`

    def __init__(self, spec: LearnerSpec, params: dict[str, Any], rank: int, master_addr: str, master_port: int):
        import deepspeed
        from transformers import AutoTokenizer

        init_rank(rank, spec.num_workers, master_addr, master_port, spec.threads)
        torch.manual_seed(spec.seed)
        self.spec, self.params, self.rank = spec, params, rank
        self.tokenizer = AutoTokenizer.from_pretrained(spec.model_path)
        model = self.load_model()
        model.config.use_cache = False
        if spec.gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        # fused: one kernel over all parameters (the per-tensor loop costs ~4x more on CPU; HF Trainer's default too)
        trainable = [p for p in model.parameters() if p.requires_grad]  # only the adapters under LoRA
        optimizer = torch.optim.AdamW(trainable, lr=spec.lr, weight_decay=spec.weight_decay, fused=True)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: lr_factor(spec.lr_schedule, spec.lr_warmup_steps, spec.total_updates, step)
        )
        self.engine, *_ = deepspeed.initialize(
            model=model, optimizer=optimizer, lr_scheduler=schedule, config=deepspeed_config(spec)
        )
        if spec.num_workers == 1 and spec.zero_stage == 0:
            # a one-rank all-reduce is the identity, but DeepSpeed still flattens and copies every gradient
            self.engine.enable_backward_allreduce = False
        self.device = self.engine.device  # the rank's GPU, or the CPU
        self.updates = 0

    def load_model(self) -> torch.nn.Module:
        raise NotImplementedError

    def micro_loss(self, mb: RolloutBatch, norm: dict[str, float]) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss of one micro-batch, normalised by the whole mini-batch (`norm`); stats hold `loss_name`."""
        raise NotImplementedError

    def ready(self) -> int:
        return self.rank

    def set_params(self, params: dict[str, Any]) -> None:
        """New algorithm settings (a continual stage's overrides); the model and optimizer state stay."""
        self.params = params

    def micro_batches(self, sub: RolloutBatch) -> list[torch.Tensor]:
        """This rank's rows (rank::world) of mini-batch `sub`, as micro-batches (`rlpost.learner.micro_batches`)."""
        rows = torch.arange(len(sub))[self.rank :: self.spec.num_workers]
        if self.spec.micro_token_budget is None:
            return fixed_micro_batches(rows, self.spec.micro_batch_size)
        return token_budget_micro_batches(rows, sub.attention_mask[rows].sum(-1), self.spec.micro_token_budget)

    def rows(self, batch: RolloutBatch, shard: bool) -> torch.Tensor:
        """Row indices of this rank's shard (rank::world), or of the whole batch."""
        rows = torch.arange(len(batch))
        return rows[self.rank :: self.spec.num_workers] if shard else rows

    def train(self, batch: RolloutBatch) -> dict[str, float]:
        """All epochs x mini-batches of optimizer steps on `batch` (moved to this rank's device); returns mean
        diagnostics.

        The main loss is the mini-batch loss (this rank's share x world size, so the mean over
        ranks is exact); the other diagnostics are means over micro-batches.
        """
        spec, world = self.spec, self.spec.num_workers
        batch = batch.to(self.device)
        lr = float(self.engine.get_lr()[0])  # of this batch's first optimizer step
        self.engine.train()
        micro_stats: list[dict[str, float]] = []
        mini_losses: list[float] = []
        grad_norms: list[float] = []
        gen = torch.Generator().manual_seed(spec.seed * 100_003 + self.updates)
        for _ in range(spec.epochs):
            order = torch.randperm(len(batch), generator=gen)
            for mini in order.split(spec.mini_batch_size):
                sub = batch.select(mini)
                norm = {"num_tokens": float(sub.response_mask.sum()), "num_seqs": float(len(sub)), "max_len": spec.max_new_tokens}
                mini_loss = 0.0
                micros = self.micro_batches(sub)
                for i, micro in enumerate(micros):
                    loss, stats = self.micro_loss(sub.select(micro).trimmed(), norm)
                    # DeepSpeed averages gradients over ranks and divides by the accumulation
                    # steps; the loss is already normalised by the whole mini-batch, so undo both.
                    self.engine.backward(loss * world, scale_wrt_gas=False)
                    if i == len(micros) - 1 and reduced_before_step(spec):
                        grad_norms.append(self._clip_gradients())
                    if spec.micro_token_budget is None or i == len(micros) - 1:
                        self.engine.step()
                    mini_loss += stats.pop(self.loss_name) * world
                    micro_stats.append(stats)
                mini_losses.append(mini_loss)
                if spec.zero_stage > 0 and self.engine.get_global_grad_norm() is not None:
                    grad_norms.append(float(self.engine.get_global_grad_norm()))
        self.updates += 1
        out = combine_stats(micro_stats)
        out["lr"] = lr
        out[self.loss_name] = sum(mini_losses) / len(mini_losses)
        if grad_norms:
            out["grad_norm"] = sum(grad_norms) / len(grad_norms)
        return out

    def _clip_gradients(self) -> float:
        """Without ZeRO: the total gradient norm, and the gradients clipped to `grad_clip` where
        `learner_clips` (0: no clipping). Called after the last backward of a mini-batch, where the
        reduced gradients are whole."""
        params = [p for p in self.engine.module.parameters() if p.grad is not None]
        if learner_clips(self.spec) and self.spec.grad_clip > 0:
            return float(torch.nn.utils.clip_grad_norm_(params, self.spec.grad_clip))
        return float(torch.nn.utils.get_total_norm([p.grad for p in params]))

    def full_state_dict(self, copy: bool = True, on_cpu: bool = True) -> dict[str, torch.Tensor] | None:
        """The whole model's weights in Hugging Face names, on CPU (or where they are, without `on_cpu`); under
        ZeRO-3 every rank must call (the shards are gathered layer by layer, onto the CPU) and only rank 0 gets
        them: the others get None.

        Includes `lm_head.weight` for tied embeddings so rollout engines do not keep a stale head.
        With `copy` False, CPU tensors may alias the live parameters (views of ZeRO's flat buffers).
        """
        if self.spec.lora is not None:
            state = merged_state_dict(self.engine.module)
        elif self.spec.zero_stage == 3:
            state = self.engine._zero3_consolidated_16bit_state_dict()
            if state is None:
                return None
        else:
            state = self.engine.module.state_dict()
        if not on_cpu:
            return {k: v.detach() for k, v in state.items()}
        return {k: v.detach().to("cpu", copy=copy) for k, v in state.items()}

    def weight_group_address(self) -> tuple[str, int]:
        """Rank 0: (this node's address, a port free on it) for the weight group it will host."""
        import os

        from rlpost.learner.distributed import free_port

        address = os.environ["MASTER_ADDR"]  # rank 0's own node (rlpost.cluster.placement.rendezvous)
        return address, free_port()

    def join_weight_group(self, group: dict) -> list[list]:
        """Member 0 of the weights' process group (`rlpost.collective`), on this rank's device; returns what each
        broadcast will carry, [name, dtype, shape] per tensor. Every rank calls under ZeRO-3 (the gather)."""
        from rlpost.collective import GroupInfo, join, metas_of

        state = self.full_state_dict(copy=False, on_cpu=False)
        if state is None:
            return []
        self.weight_group_info = GroupInfo(**group)
        self.weight_store, self.weight_group = join(self.weight_group_info, 0, self.device)
        self.weight_metas = metas_of(state)
        return [[m.name, m.dtype, list(m.shape)] for m in self.weight_metas]

    def broadcast_weights(self) -> float:
        """One push of the full weights to the engines over the weight group (every rank calls under ZeRO-3; rank 0
        sends); returns seconds taken."""
        import time

        from rlpost.collective import send

        start = time.perf_counter()
        state = self.full_state_dict(copy=False, on_cpu=False)
        if state is not None:
            send(self.weight_group, state, self.weight_metas, self.weight_group_info.bucket_bytes, self.device)
        return time.perf_counter() - start

    def weights_ref(self):
        """Put the full weights into Ray's object store (one copy, see `rlpost.cluster.weights`); engines on the
        node share it. Under ZeRO-3 every rank takes part; the ranks other than 0 return None."""
        import ray

        from rlpost.cluster.weights import pack

        state = self.full_state_dict(copy=False)
        return None if state is None else ray.put(pack(state))

    def save(self, path: str, with_state: bool = False) -> str:
        """Write the model in Hugging Face format to `path` (rank 0; all ranks must call under
        ZeRO-3) and, with `with_state`, every rank's optimizer / scheduler / step state under
        `path/deepspeed` (collective: all ranks must call)."""
        state = self.full_state_dict()
        if self.rank == 0:
            out = Path(path)
            out.mkdir(parents=True, exist_ok=True)
            module = self.engine.module
            if self.spec.lora is not None:
                module.save_pretrained(out / ADAPTER_DIR)  # PEFT's format: the adapter alone
                module = module.get_base_model()
            module.save_pretrained(out, state_dict=state, safe_serialization=True)
            self.tokenizer.save_pretrained(out)
        if with_state:
            self.engine.save_checkpoint(str(Path(path) / "deepspeed"), tag="state", client_state={"updates": self.updates})
        return path

    def load_state(self, path: str) -> int:
        """Restore weights, optimizer, scheduler and update count saved by `save(with_state=True)`;
        returns the update count."""
        loaded, client = self.engine.load_checkpoint(str(Path(path) / "deepspeed"), tag="state")
        if loaded is None:
            raise FileNotFoundError(f"no DeepSpeed state under {path}/deepspeed")
        self.updates = int(client["updates"])
        return self.updates
