"""Checkpoints under `<run>/checkpoints/`: the policy in Hugging Face format at the top of each
checkpoint directory (loads in transformers and vLLM as is), learner state for resuming under
`deepspeed/` (policy) and `critic/` (critic, HF + its own `deepspeed/`), and the trainer's state
in `trainer_state.json`. The COMPLETE marker is written last, so a checkpoint a crash cut short
is never used."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

COMPLETE_MARKER = "COMPLETE"
STATE_FILE = "trainer_state.json"


@dataclass
class TrainerState:
    """Where the run stands after `step` steps: enough to continue exactly there."""

    step: int
    stage: int  # index of the stage the next step belongs to
    stage_step: int  # steps of that stage already done
    finished: bool = False
    sampler: dict[str, Any] = field(default_factory=dict)  # PromptSampler.state()
    kl_coef: float | None = None  # the adaptive KL controller's current β


def checkpoint_dir(run_dir: Path, step: int | None) -> Path:
    return run_dir / "checkpoints" / ("final" if step is None else f"step_{step:06d}")


def stage_checkpoint_dir(run_dir: Path, index: int, name: str) -> Path:
    """The checkpoint kept at the end of continual stage `index` (never pruned)."""
    return run_dir / "checkpoints" / f"stage_{index:02d}_{name}"


def drop_learner_state(run_dir: Path, keep: Path) -> list[Path]:
    """Remove the optimizer state of every stage checkpoint but `keep` (their policies stay); the newest
    checkpoint is the only one a resume reads."""
    removed = []
    for stage in (run_dir / "checkpoints").glob("stage_*"):
        for state in (stage / "deepspeed", stage / "critic" / "deepspeed"):
            if stage != keep and state.is_dir():
                shutil.rmtree(state)
                removed.append(state)
    return removed


def mark_complete(path: Path, state: TrainerState) -> None:
    (path / STATE_FILE).write_text(json.dumps(asdict(state)))
    (path / COMPLETE_MARKER).write_text("ok\n")


def is_complete(path: Path) -> bool:
    return (path / COMPLETE_MARKER).exists() and (path / STATE_FILE).exists()


def read_state(path: Path) -> TrainerState:
    return TrainerState(**json.loads((path / STATE_FILE).read_text()))


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint: `final` when the run finished, else the furthest step or stage end."""
    root = run_dir / "checkpoints"
    if is_complete(root / "final"):
        return root / "final"
    found = [p for p in (*root.glob("step_*"), *root.glob("stage_*")) if is_complete(p)]
    if not found:
        return None
    return max(found, key=_position)


def _position(path: Path) -> tuple[int, int]:
    """(step, stage) of a checkpoint: a stage's end checkpoint follows the step checkpoint of the same step."""
    state = read_state(path)
    return state.step, state.stage


def prune(run_dir: Path, keep_last: int) -> list[Path]:
    """Delete all but the newest `keep_last` complete step checkpoints (incomplete ones are left
    for a person to look at); returns what was removed."""
    complete = sorted(p for p in (run_dir / "checkpoints").glob("step_*") if is_complete(p))
    removed = complete[:-keep_last] if len(complete) > keep_last else []
    for p in removed:
        shutil.rmtree(p)
    return removed
