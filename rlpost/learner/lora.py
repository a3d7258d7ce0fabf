"""LoRA adapters (PEFT) on the policy: only the adapters train, the frozen base is the reference.

The engines get merged weights: for every adapted linear layer W + ΔW (ΔW = scale · B A, PEFT's
own `get_delta_weight`), computed from the live parameters without merging them in place, so the
base weights never drift. Checkpoints hold the merged model in Hugging Face format (what engines,
evaluation and `from_pretrained` load) and the adapter in PEFT format under `adapter/`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

ADAPTER_DIR = "adapter"


@dataclass(frozen=True)
class LoraSpec:
    """Adapter shape: rank r, α (scale α / r), dropout, and the modules adapted ("all-linear" or names)."""

    rank: int
    alpha: float
    dropout: float = 0.0
    target_modules: tuple[str, ...] | str = "all-linear"


def wrap(model: torch.nn.Module, spec: LoraSpec) -> torch.nn.Module:
    """`model` with fresh adapters (B = 0, so the wrapped model computes what the base does); base frozen."""
    from peft import LoraConfig, get_peft_model

    targets = spec.target_modules if isinstance(spec.target_modules, str) else list(spec.target_modules)
    config = LoraConfig(r=spec.rank, lora_alpha=spec.alpha, lora_dropout=spec.dropout, target_modules=targets,
                        task_type="CAUSAL_LM")  # fmt: skip
    return get_peft_model(model, config)


def _base_name(name: str) -> str:
    """A PEFT parameter name as the plain model names it (`base_model.model.` and `.base_layer` removed)."""
    return name.removeprefix("base_model.model.").replace(".base_layer.", ".")


def merged_state_dict(peft_model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The weights the policy computes with, in the base model's names: W + ΔW for adapted layers."""
    from peft.tuners.lora import LoraLayer

    with torch.no_grad():
        state = {
            _base_name(k): v.detach().clone()
            for k, v in peft_model.get_base_model().state_dict().items()
            if "lora_" not in k
        }
        for name, module in peft_model.get_base_model().named_modules():
            if isinstance(module, LoraLayer):
                for adapter in module.active_adapters:
                    state[f"{name}.weight"] += module.get_delta_weight(adapter).to(state[f"{name}.weight"].dtype)
    return state


def adapter_bytes(peft_model: torch.nn.Module) -> int:
    """Bytes of the trainable adapter tensors (what an adapter-only weight sync would carry)."""
    return sum(p.numel() * p.element_size() for p in peft_model.parameters() if p.requires_grad)
