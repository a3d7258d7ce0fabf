"""Continual post-training: stages trained one after another, with

- `keep_rules`: which instances a stage keeps after rollout-based filtering (pure math),
- `filtering`: running that filter on a stage's environments (rollouts, rewards, outcome files),
- `matrix`: the accuracy matrix after each stage, its plots and summary,
- `forgetting`: average accuracy, backward transfer and forgetting of that matrix,
- `sft_baseline`: `method: sft`, the same stages trained with supervised fine-tuning.
"""
