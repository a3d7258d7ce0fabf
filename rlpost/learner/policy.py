"""The DeepSpeed policy learner: old logprobs, the optimizer steps, weights for sync, saving.

One `PolicyLearner` per data-parallel rank. Every rank receives the whole rollout batch and
takes its own shard of each mini-batch, so normalisers are those of the whole optimizer-step
batch (see `algorithms.aggregation`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rlpost.algorithms import aggregate_token_loss, get_algorithm, kl_penalty, masked_mean
from rlpost.batch import RolloutBatch
from rlpost.learner.distributed import init_rank
from rlpost.learner.logprobs import batched_logprobs, token_logprobs


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


def deepspeed_config(spec: LearnerSpec) -> dict[str, Any]:
    gas = spec.mini_batch_size // (spec.micro_batch_size * spec.num_workers)
    cfg: dict[str, Any] = {
        "train_micro_batch_size_per_gpu": spec.micro_batch_size,
        "gradient_accumulation_steps": gas,
        "gradient_clipping": spec.grad_clip,
        "zero_optimization": {"stage": spec.zero_stage},
        "steps_per_print": 10**9,
        "wall_clock_breakdown": False,
    }
    if spec.dtype == "bfloat16":
        cfg["bf16"] = {"enabled": True}
    elif spec.dtype == "float16":
        cfg["fp16"] = {"enabled": True}
    return cfg


class PolicyLearner:
    def __init__(self, spec: LearnerSpec, algorithm: dict[str, Any], rank: int, master_addr: str, master_port: int):
        import deepspeed
        from transformers import AutoModelForCausalLM, AutoTokenizer

        init_rank(rank, spec.num_workers, master_addr, master_port, spec.threads)
        torch.manual_seed(spec.seed)
        self.spec, self.params, self.rank = spec, algorithm, rank
        self.algorithm = get_algorithm(algorithm["name"])
        self.tokenizer = AutoTokenizer.from_pretrained(spec.model_path)
        model = AutoModelForCausalLM.from_pretrained(spec.model_path, dtype=getattr(torch, spec.dtype))
        model.config.use_cache = False
        optimizer = torch.optim.AdamW(model.parameters(), lr=spec.lr, weight_decay=spec.weight_decay)
        self.engine, *_ = deepspeed.initialize(model=model, optimizer=optimizer, config=deepspeed_config(spec))
        if spec.num_workers == 1 and spec.zero_stage == 0:
            # a one-rank all-reduce is the identity, but DeepSpeed still flattens and copies every gradient
            self.engine.enable_backward_allreduce = False
        self.updates = 0

    def ready(self) -> int:
        return self.rank

    def compute_logprobs(self, batch: RolloutBatch, shard: bool = True) -> torch.Tensor:
        """Logprobs [B', T] of this rank's shard (rows rank::world) or of the whole batch."""
        rows = torch.arange(len(batch))
        if shard:
            rows = rows[self.rank :: self.spec.num_workers]
        self.engine.eval()
        return batched_logprobs(
            self.engine, batch.input_ids[rows], batch.attention_mask[rows], self.spec.micro_batch_size, self.spec.temperature
        )

    def train(self, batch: RolloutBatch) -> dict[str, float]:
        """All epochs x mini-batches of optimizer steps on `batch`; returns mean diagnostics.

        `pg_loss` is the mini-batch loss (this rank's share x world size, so the mean over
        ranks is exact); the other diagnostics are means over micro-batches.
        """
        spec, world = self.spec, self.spec.num_workers
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
                for micro in torch.arange(len(sub))[self.rank :: world].split(spec.micro_batch_size):
                    loss, stats = self._micro_loss(sub.select(micro), norm)
                    # DeepSpeed averages gradients over ranks and divides by the accumulation
                    # steps; the loss is already normalised by the whole mini-batch, so undo both.
                    self.engine.backward(loss * world, scale_wrt_gas=False)
                    self.engine.step()
                    mini_loss += stats.pop("pg_loss") * world
                    micro_stats.append(stats)
                mini_losses.append(mini_loss)
                grad_norm = self.engine.get_global_grad_norm()
                if grad_norm is not None:
                    grad_norms.append(float(grad_norm))
        self.updates += 1
        out = {k: sum(s[k] for s in micro_stats) / len(micro_stats) for k in micro_stats[0]}
        out["pg_loss"] = sum(mini_losses) / len(mini_losses)
        if grad_norms:
            out["grad_norm"] = sum(grad_norms) / len(grad_norms)
        return out

    def _micro_loss(self, mb: RolloutBatch, norm: dict[str, float]) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss of one micro-batch, normalised by the whole mini-batch (`norm`)."""
        logits = self.engine(input_ids=mb.input_ids, attention_mask=mb.attention_mask).logits
        logprobs, entropy = token_logprobs(logits, mb.input_ids, self.spec.temperature)
        old_logprobs = mb.old_logprobs
        if old_logprobs is None:
            # on-policy (one optimizer step per rollout batch): the current policy is the old one
            old_logprobs = logprobs.detach()
        token_loss, stats = self.algorithm.policy_loss(logprobs, old_logprobs, mb.advantages, mb.response_mask, self.params)
        if mb.old_logprobs is None:
            stats["rollout_logprob_abs_diff"] = masked_mean((mb.rollout_logprobs - old_logprobs).abs(), mb.response_mask).item()
        agg = self.params["loss_agg"]
        pg_loss = aggregate_token_loss(token_loss, mb.response_mask, agg, **norm)
        loss = pg_loss
        if self.params["kl_coef"] > 0:
            kl = kl_penalty(logprobs, mb.ref_logprobs, self.params["kl_estimator"])
            loss = loss + self.params["kl_coef"] * aggregate_token_loss(kl, mb.response_mask, agg, **norm)
            stats["kl"] = masked_mean(kl.detach(), mb.response_mask).item()
        stats["pg_loss"] = pg_loss.item()
        stats["entropy"] = masked_mean(entropy, mb.response_mask).item()
        return loss, stats

    def full_state_dict(self) -> dict[str, torch.Tensor]:
        """The whole model's weights in Hugging Face names (gathered under ZeRO-3), on CPU.

        Includes `lm_head.weight` for tied embeddings so rollout engines do not keep a stale head.
        """
        if self.spec.zero_stage == 3:
            state = self.engine._zero3_consolidated_16bit_state_dict()
        else:
            state = self.engine.module.state_dict()
        # clone: under ZeRO the parameters are views into one flat buffer, and pickling a view
        # would ship the whole buffer once per tensor
        return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}

    def weights_ref(self):
        """Put the full state dict into Ray's object store once; engines on the node share it."""
        import ray

        return ray.put(self.full_state_dict())

    def save(self, path: str) -> str:
        """Write the policy in Hugging Face format (rank 0 writes; all ranks must call under ZeRO-3)."""
        state = self.full_state_dict()
        if self.rank == 0:
            out = Path(path)
            out.mkdir(parents=True, exist_ok=True)
            self.engine.module.save_pretrained(out, state_dict=state, safe_serialization=True)
            self.tokenizer.save_pretrained(out)
        return path


class ReferenceModel:
    """A frozen copy of the initial policy; only created when the KL term is on."""

    def __init__(self, model_path: str, dtype: str, micro_batch_size: int, temperature: float, threads: int | None):
        from transformers import AutoModelForCausalLM

        if threads:
            torch.set_num_threads(threads)
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=getattr(torch, dtype)).eval()
        self.micro_batch_size, self.temperature = micro_batch_size, temperature

    def ready(self) -> bool:
        return True

    def compute_logprobs(self, batch: RolloutBatch) -> torch.Tensor:
        return batched_logprobs(self.model, batch.input_ids, batch.attention_mask, self.micro_batch_size, self.temperature)
