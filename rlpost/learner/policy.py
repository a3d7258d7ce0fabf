"""The DeepSpeed policy learner: old logprobs, the policy-gradient optimizer steps, weights for sync."""

from __future__ import annotations

import torch

from rlpost.algorithms import aggregate_token_loss, kl_penalty, masked_mean, resolve_algorithm
from rlpost.algorithms.off_policy import correction_weights
from rlpost.batch import RolloutBatch
from rlpost.devices import actor_device, set_threads
from rlpost.learner import lora
from rlpost.learner.deepspeed_learner import DeepSpeedLearner, LearnerSpec
from rlpost.learner.logprobs import batched_logprobs, chunking_agrees, default_chunk, model_logprobs

__all__ = ["LearnerSpec", "PolicyLearner", "ReferenceModel"]


def usable_chunk(model, configured: int | None) -> int:
    """The chunk of positions for the output head: the configured or default one, 0 where the model's head is
    not the plain linear layer chunking assumes (checked once, on a random batch)."""
    chunk = default_chunk(model, configured)
    return chunk if chunk and chunking_agrees(model, chunk) else 0


class PolicyLearner(DeepSpeedLearner):
    loss_name = "pg_loss"

    def __init__(self, spec: LearnerSpec, algorithm: dict, rank: int, master_addr: str, master_port: int):
        self.algorithm = resolve_algorithm(algorithm)
        super().__init__(spec, algorithm, rank, master_addr, master_port)
        self.chunk = usable_chunk(self.engine.module, spec.logprob_chunk)

    @property
    def model(self):
        """What to run for logprobs: the DeepSpeed engine (full logits), or its module for the chunked head."""
        return self.engine.module if self.chunk else self.engine

    def set_params(self, params: dict) -> None:
        super().set_params(params)
        self.algorithm = resolve_algorithm(params)

    def load_model(self):
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(self.spec.model_path, dtype=getattr(torch, self.spec.dtype))
        return model if self.spec.lora is None else lora.wrap(model, self.spec.lora)

    def compute_ref_logprobs(self, batch: RolloutBatch) -> torch.Tensor:
        """Under LoRA the reference is the base: logprobs [B', T] of this rank's shard with the adapters off."""
        with self.engine.module.disable_adapter():
            return self.compute_logprobs(batch)

    def compute_logprobs(self, batch: RolloutBatch, shard: bool = True) -> torch.Tensor:
        """Logprobs [B', T] of this rank's shard (rows rank::world) or of the whole batch, at the response tokens
        (0 elsewhere)."""
        rows = self.rows(batch, shard)
        self.engine.eval()
        ids, mask, wanted = (t[rows].to(self.device) for t in (batch.input_ids, batch.attention_mask, batch.response_mask))
        spec = self.spec
        return batched_logprobs(self.model, ids, mask, spec.micro_batch_size, spec.temperature, self.chunk, wanted).cpu()

    def micro_loss(self, mb: RolloutBatch, norm: dict[str, float]) -> tuple[torch.Tensor, dict[str, float]]:
        logprobs, entropy = model_logprobs(
            self.model, mb.input_ids, mb.attention_mask, self.spec.temperature, self.chunk, mb.response_mask
        )
        old_logprobs = mb.old_logprobs
        if old_logprobs is None:
            # on-policy (one optimizer step per rollout batch): the current policy is the old one
            old_logprobs = logprobs.detach()
        token_loss, stats = self.algorithm.policy_loss(logprobs, old_logprobs, mb.advantages, mb.response_mask, self.params)
        weights, is_stats = correction_weights(
            self.params.get("is_correction") or "none", old_logprobs, mb.rollout_logprobs, mb.response_mask,
            self.params.get("is_cap", 2.0),
        )  # fmt: skip
        if weights is not None:
            token_loss = token_loss * weights
            stats.update(is_stats)
        if mb.old_logprobs is None:
            stats["rollout_logprob_abs_diff"] = masked_mean((mb.rollout_logprobs - old_logprobs).abs(), mb.response_mask).item()
        agg = self.params["loss_agg"]
        pg_loss = aggregate_token_loss(token_loss, mb.response_mask, agg, **norm)
        loss = pg_loss
        if self.params["kl_coef"] > 0 and self.params["kl_in"] == "loss":
            kl = kl_penalty(logprobs, mb.ref_logprobs, self.params["kl_estimator"])
            loss = loss + self.params["kl_coef"] * aggregate_token_loss(kl, mb.response_mask, agg, **norm)
            stats["kl"] = masked_mean(kl.detach(), mb.response_mask).item()
        stats[self.loss_name] = pg_loss.item()
        stats["entropy"] = masked_mean(entropy, mb.response_mask).item()
        return loss, stats


class ReferenceModel:
    """A frozen copy of the initial policy, on the actor's GPU or the CPU (`device`: see `rlpost.devices.actor_device`);
    only created when the KL term is on."""

    def __init__(
        self, model_path: str, dtype: str, micro_batch_size: int, temperature: float, threads: int | None,
        logprob_chunk: int | None = 0, device: str | None = None,
    ):  # fmt: skip
        from transformers import AutoModelForCausalLM

        set_threads(threads)
        self.device = actor_device(device)
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=getattr(torch, dtype)).to(self.device).eval()
        self.micro_batch_size, self.temperature = micro_batch_size, temperature
        self.chunk = usable_chunk(self.model, logprob_chunk)

    def ready(self) -> bool:
        return True

    def compute_logprobs(self, batch: RolloutBatch) -> torch.Tensor:
        """Logprobs [B, T] of the whole batch at its response tokens (0 elsewhere), on the CPU."""
        ids, mask, wanted = (t.to(self.device) for t in (batch.input_ids, batch.attention_mask, batch.response_mask))
        return batched_logprobs(self.model, ids, mask, self.micro_batch_size, self.temperature, self.chunk, wanted).cpu()
