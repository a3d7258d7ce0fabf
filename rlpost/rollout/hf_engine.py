"""Fallback rollout engine on transformers `generate` (no vLLM needed)."""

from __future__ import annotations

import torch

from rlpost.collective import GroupInfo, TensorMeta, join, receive
from rlpost.devices import actor_device, set_threads
from rlpost.rollout.base import Completion, SamplingSpec, register_engine


@register_engine("hf")
class HFEngine:
    def __init__(
        self, model_path: str, dtype: str = "float32", seed: int = 0, max_model_len: int = 512, *,
        device: str | None = None, threads: int | None = None,
    ):  # fmt: skip
        """On `device` (default: the actor's GPU, else the CPU with `threads`, default every core of the node)."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        set_threads(threads)
        self.device = actor_device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=getattr(torch, dtype)).to(self.device).eval()
        self.generator = torch.Generator().manual_seed(seed)
        self.max_model_len = max_model_len

    @torch.no_grad()
    def generate(self, prompts: list[list[int]], spec: SamplingSpec) -> list[list[Completion]]:
        if spec.seed is not None:
            torch.manual_seed(spec.seed)
        eos, pad = self.tokenizer.eos_token_id, self.tokenizer.pad_token_id
        results = []
        for prompt in prompts:
            ids = torch.tensor([prompt] * spec.n, device=self.device)
            greedy = spec.temperature == 0
            out = self.model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=spec.max_new_tokens,
                do_sample=not greedy,
                temperature=None if greedy else spec.temperature,
                top_p=None if greedy else spec.top_p,
                top_k=None,
                pad_token_id=pad,
                eos_token_id=eos,
            )
            new = out[:, len(prompt) :]
            # logprobs of the sampled tokens under the sampling distribution (logits / temperature, as the
            # learner computes them); causal, so padding after EOS is harmless
            logits = self.model(out).logits[:, len(prompt) - 1 : -1].float() / (1.0 if greedy else spec.temperature)
            lp = torch.log_softmax(logits, -1).gather(-1, new.unsqueeze(-1)).squeeze(-1)
            group = []
            for row, row_lp in zip(new.tolist(), lp.tolist()):
                n_tok = row.index(eos) + 1 if eos in row else len(row)
                toks = row[:n_tok]
                group.append(
                    Completion(toks, row_lp[:n_tok], self.tokenizer.decode(toks, skip_special_tokens=True), eos not in toks)
                )
            results.append(group)
        return results

    def update_weights(self, state_dict: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(state_dict, strict=False)

    def join_weight_group(self, group: dict, rank_offset: int) -> None:
        """Join the weight group (`rlpost.collective.GroupInfo` fields) as member `rank_offset`."""
        self.group_info = GroupInfo(**group)
        self.store, self.group = join(self.group_info, rank_offset, self.device)

    def receive_weights(self, metas: list[list]) -> None:
        """Take one broadcast of the weights ([name, dtype, shape] per tensor, in broadcast order), bucket by bucket."""
        for bucket in receive(self.group, [TensorMeta(n, d, tuple(s)) for n, d, s in metas], self.group_info.bucket_bytes,
                              self.device):  # fmt: skip
            self.model.load_state_dict(dict(bucket), strict=False)
