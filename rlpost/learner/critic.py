"""The DeepSpeed critic learner (PPO): a scalar value head on a causal LM's backbone.

The model is `AutoModelForTokenClassification` with one label, so any architecture transformers
supports works and checkpoints stay in Hugging Face format. Values are aligned with
`RolloutBatch`: position t holds V(tokens < t), the value of the state in which token t is chosen.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rlpost.algorithms import aggregate_token_loss
from rlpost.algorithms.value import clipped_value_loss
from rlpost.batch import RolloutBatch
from rlpost.learner.deepspeed_learner import DeepSpeedLearner


def token_values(model, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """[B, T] values, position t from the hidden state of position t − 1 (position 0 is 0)."""
    scores = model(input_ids=input_ids, attention_mask=attention_mask).logits[..., 0].float()
    return F.pad(scores[:, :-1], (1, 0))


class CriticLearner(DeepSpeedLearner):
    loss_name = "vf_loss"

    def load_model(self):
        from transformers import AutoModelForTokenClassification

        return AutoModelForTokenClassification.from_pretrained(
            self.spec.model_path, num_labels=1, dtype=getattr(torch, self.spec.dtype)
        )

    @torch.no_grad()
    def compute_values(self, batch: RolloutBatch, shard: bool = True) -> torch.Tensor:
        """Values [B', T] of this rank's shard (rows rank::world) or of the whole batch, on the CPU."""
        rows = self.rows(batch, shard)
        self.engine.eval()
        ids, mask = batch.input_ids[rows].to(self.device), batch.attention_mask[rows].to(self.device)
        step = self.spec.micro_batch_size
        return torch.cat([token_values(self.engine, i, m) for i, m in zip(ids.split(step), mask.split(step))]).cpu()

    def micro_loss(self, mb: RolloutBatch, norm: dict[str, float]) -> tuple[torch.Tensor, dict[str, float]]:
        values = token_values(self.engine, mb.input_ids, mb.attention_mask)
        token_loss, stats = clipped_value_loss(values, mb.values, mb.returns, mb.response_mask, clip=self.params["value_clip"])
        loss = aggregate_token_loss(token_loss, mb.response_mask, self.params["loss_agg"], **norm)
        stats[self.loss_name] = loss.item()
        return loss, stats
