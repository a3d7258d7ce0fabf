"""The training loop, in parts with one job each:

- `loop`: the run (directory, resume, stages, checkpoints, evaluation matrix),
- `step`: one step as producer (draw, generate, score, filter) and consumer (logprobs,
  advantages, optimizer steps, weight sync, metrics),
- `rollout`, `scoring`, `sampling`: the producer's parts; `settings`: a stage's algorithm settings,
- `metrics`, `prompts`, `run_dir`, `warmup`: what a step reports, prompt budgets, the run
  directory, the starting model,
- `protocols`: the seams to whatever runs the models (`rlpost.cluster` on Ray; fakes in tests).
"""

from rlpost.trainer.loop import Trainer, TrainingFailed
from rlpost.trainer.summary import describe

__all__ = ["Trainer", "TrainingFailed", "describe"]
