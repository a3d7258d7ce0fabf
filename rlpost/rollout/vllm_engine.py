"""vLLM rollout engine, in-process (V1 multiprocessing off), weights reloaded in place.

On CPU the engine repacks linear weights after loading, so the update goes through the
worker's `reload_weights` (which repacks) rather than `model.load_weights` (which leaves empty
parameters behind). The VLLM_* environment must be set before vLLM is imported: given
`kv_cache_gib`, the engine sets it itself on a CPU node, sized to that node's cores (see `vllm_env`);
without it the caller's environment stands.
"""

from __future__ import annotations

import os

import torch

from rlpost.devices import actor_device, node_cores
from rlpost.rollout.base import Completion, SamplingSpec, register_engine


def vllm_env(threads: int, kv_cache_gib: float) -> dict[str, str]:
    """Environment for an in-process vLLM CPU engine that may use `threads` cores."""
    return {
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
        "VLLM_CPU_KVCACHE_SPACE": str(max(1, round(kv_cache_gib))),
        "VLLM_CPU_OMP_THREADS_BIND": f"0-{threads - 1}",
        "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
        "OMP_NUM_THREADS": str(threads),
        "VLLM_LOGGING_LEVEL": os.environ.get("VLLM_LOGGING_LEVEL", "ERROR"),
        "TOKENIZERS_PARALLELISM": "false",
    }


@register_engine("vllm")
class VLLMEngine:
    def __init__(
        self, model_path: str, dtype: str = "float32", seed: int = 0, max_model_len: int = 512, *,
        tensor_parallel_size: int = 1, gpu_memory_utilization: float = 0.9, enforce_eager: bool = True,
        threads: int | None = None, kv_cache_gib: float | None = None, weight_transfer: bool = False,
    ):  # fmt: skip
        """`tensor_parallel_size` GPUs of this actor hold one model; `gpu_memory_utilization` is vLLM's share of
        each; `enforce_eager` turns CUDA graphs off (always on CPU); `threads` / `kv_cache_gib`: CPU only;
        `weight_transfer`: weights may also come over a process group (`join_weight_group`, `receive_weights`)."""
        if actor_device().type == "cpu" and kv_cache_gib is not None:
            os.environ.update(vllm_env(threads or node_cores(), kv_cache_gib))
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        from vllm import LLM

        gpu = {} if actor_device().type == "cpu" else {"gpu_memory_utilization": gpu_memory_utilization}
        if weight_transfer:
            from rlpost.rollout.vllm_transfer import BACKEND, register

            register()
            gpu["weight_transfer_config"] = {"backend": BACKEND}
        self.llm = LLM(
            model=model_path,
            dtype=dtype,
            seed=seed,
            enforce_eager=enforce_eager,
            tensor_parallel_size=tensor_parallel_size,
            **gpu,
            max_model_len=max_model_len,
            enable_prefix_caching=True,
            # logprobs of the distribution sampled from (after temperature), as the learner computes them
            logprobs_mode="processed_logprobs",
        )

    def generate(self, prompts: list[list[int]], spec: SamplingSpec) -> list[list[Completion]]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        options = dict(
            n=spec.n,
            max_tokens=spec.max_new_tokens,
            temperature=spec.temperature,
            top_p=spec.top_p,
            logprobs=0,
            # per-token Python objects are a measurable share of a CPU rollout: logprobs come as
            # flat lists, and the texts are decoded once at the end (as the hf engine does)
            flat_logprobs=True,
            detokenize=False,
        )
        # one seed per prompt (seed + i): one seed for the whole batch gives every prompt the same random draws
        # (measured on the tool_arithmetic warm-up model: 2 of 200 seeded samples opened with a tool call, 68 of
        # 200 unseeded, the model's own rate being about 0.3)
        params = (
            SamplingParams(**options)
            if spec.seed is None
            else [SamplingParams(**options, seed=spec.seed + i) for i in range(len(prompts))]
        )
        outs = self.llm.generate([TokensPrompt(prompt_token_ids=p) for p in prompts], params, use_tqdm=False)
        ids = [list(c.token_ids) for out in outs for c in out.outputs]
        texts = iter(self.llm.get_tokenizer().batch_decode(ids, skip_special_tokens=True))
        return [[_completion(c, next(texts)) for c in out.outputs] for out in outs]

    def update_weights(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Every worker (one per tensor-parallel rank) reloads the full weights, keeping its own shard."""
        self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": list(state_dict.items())})
        self.llm.reset_prefix_cache()

    def join_weight_group(self, group: dict, rank_offset: int) -> None:
        """Every worker joins the weight group (`rlpost.collective.GroupInfo` fields) as member rank_offset + its
        tensor-parallel rank."""
        self.llm.collective_rpc("init_weight_transfer_engine", args=({"group": group, "rank_offset": rank_offset},))

    def receive_weights(self, metas: list[list]) -> None:
        """Take one broadcast of the weights ([name, dtype, shape] per tensor, in broadcast order)."""
        self.llm.collective_rpc("start_weight_update")
        self.llm.collective_rpc("update_weights", args=({"metas": metas},))
        self.llm.collective_rpc("finish_weight_update")
        self.llm.reset_prefix_cache()


def _completion(c, text: str) -> Completion:
    """With `logprobs=0` the flat logprobs hold exactly the sampled token's logprob at each position."""
    return Completion(list(c.token_ids), list(c.logprobs.logprobs), text, c.finish_reason == "length")
