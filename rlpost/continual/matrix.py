"""Evaluation after each continual stage: one row of the accuracy matrix a[k][i] per stage, kept in
`<run>/continual/matrix.json` and drawn as a heatmap and a per-task line chart.

Tasks are the stages (a stage's accuracy is the problem-weighted mean over its environments'
test splits) followed by the `continual.eval.general` environments, never trained on. The
starting policy is evaluated too (`initial`); it is not a row of the matrix.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlpost.config import EvalConfig, ExperimentConfig, RolloutConfig
from rlpost.continual.forgetting import forgetting_metrics
from rlpost.data import LoadedEnv, load_env

if TYPE_CHECKING:
    from rlpost.evaluation import Score

MATRIX_FILE = Path("continual") / "matrix.json"
HEATMAP_FILE = Path("continual") / "matrix.png"
LINES_FILE = Path("continual") / "accuracy.png"


@dataclass(frozen=True)
class EvalTask:
    """A column of the matrix: a stage's environments, or one general environment."""

    name: str
    envs: list[LoadedEnv]
    general: bool


def eval_tasks(cfg: ExperimentConfig) -> list[EvalTask]:
    """The stages' test splits, then the general environments' (errors name the config key)."""
    strict = cfg.data.strict
    tasks = [
        EvalTask(stage.name, [load_env(s, "test", strict, f"stages.{i}.envs.{j}") for j, s in enumerate(stage.envs)], False)
        for i, stage in enumerate(cfg.stages)
    ]
    for j, spec in enumerate(cfg.continual.eval.general):
        env = load_env(spec, "test", strict, f"continual.eval.general.{j}")
        tasks.append(EvalTask(f"general:{spec.name}", [env], True))
    names = [t.name for t in tasks]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"continual.eval: task names must be unique (stage names, general:<env>), repeated: {dup}")
    return tasks


def evaluate_tasks(
    model_path: str, engine: Any, tasks: list[EvalTask], cfg: EvalConfig, rollout: RolloutConfig, seed: int, score: Score | None
) -> dict:
    """One matrix row: per task greedy accuracy and pass@k (problem-weighted over its environments), and
    the per-environment results of `rlpost.evaluation.evaluate` (scored by `score`, default in this process)."""
    from rlpost.evaluation import evaluate, pooled, score_here

    accuracy, pass_k, per_env = [], [], {}
    key = f"pass@{cfg.k}"
    for task in tasks:
        results = evaluate(
            model_path, task.envs, cfg.k, engine, n=cfg.n, threshold=cfg.threshold, max_new_tokens=rollout.max_new_tokens,
            temperature=cfg.temperature, limit=cfg.limit, seed=seed, score=score or score_here, turns=rollout.turns,
        )  # fmt: skip
        accuracy.append(pooled(results, "greedy_accuracy"))
        pass_k.append(pooled(results, key))
        per_env[task.name] = results
    return {"accuracy": accuracy, "pass_at_k": pass_k, "envs": per_env}


def evaluate_and_record(
    matrix: ContinualMatrix, run_dir: Path, tracker, cfg: ExperimentConfig, tasks: list[EvalTask],
    model_path: str, engine: Any, after: int | None, step: int, score: Score | None = None,
) -> Path:  # fmt: skip
    """Evaluate the policy after stage `after` (None: the starting policy), add its row to `matrix`, save the
    matrix and plots, and log an `evaluation` event; returns the matrix path."""
    start = time.perf_counter()
    row = evaluate_tasks(model_path, engine, tasks, cfg.continual.eval, cfg.rollout, cfg.run.seed, score)
    label = "start" if after is None else cfg.stages[after].name
    if after is None:
        matrix.initial = {"step": step, **row}
    else:
        matrix.rows.append({"stage": label, "step": step, **row})
    path = matrix.save(run_dir)
    accuracy = dict(zip(matrix.tasks, (round(a, 3) for a in row["accuracy"])))
    tracker.event(step, "evaluation", after=label, accuracy=accuracy, seconds=round(time.perf_counter() - start, 1))
    tracker.info(f"evaluation matrix: {path}")
    return path


@dataclass
class ContinualMatrix:
    """accuracy[k][i]: greedy accuracy on task i after stage k (rows appended as stages end)."""

    method: str
    tasks: list[str]
    stages: list[str]
    k: int
    initial: dict[str, Any] | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)  # {"stage", "step", "accuracy", "pass_at_k", "envs"}

    @property
    def accuracy(self) -> list[list[float]]:
        return [r["accuracy"] for r in self.rows]

    @property
    def pass_at_k(self) -> list[list[float]]:
        return [r["pass_at_k"] for r in self.rows]

    def summary(self) -> dict[str, float]:
        """Forgetting metrics of the greedy and pass@k matrices over the stages done so far, and the general
        tasks' mean accuracy before and after."""
        if not self.rows:
            return {}
        n = len(self.rows)
        out = forgetting_metrics([row[:n] for row in self.accuracy])
        out.update({f"pass@{self.k}/{k}": v for k, v in forgetting_metrics([row[:n] for row in self.pass_at_k]).items()})
        general = list(range(len(self.stages), len(self.tasks)))
        if general:
            out["general_accuracy"] = sum(self.accuracy[-1][i] for i in general) / len(general)
            if self.initial is not None:
                out["general_accuracy_initial"] = sum(self.initial["accuracy"][i] for i in general) / len(general)
        return out

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "accuracy": self.accuracy, "pass_at_k": self.pass_at_k, "summary": self.summary()}

    def save(self, run_dir: Path) -> Path:
        """Write matrix.json (atomically) and its two plots; returns the JSON path."""
        path = run_dir / MATRIX_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        tmp.replace(path)
        plot_matrix(self, run_dir / HEATMAP_FILE)
        plot_task_lines(self, run_dir / LINES_FILE)
        return path

    @classmethod
    def load(cls, path: Path) -> ContinualMatrix:
        data = json.loads(path.read_text())
        return cls(data["method"], data["tasks"], data["stages"], data["k"], data.get("initial"), data.get("rows", []))

    @classmethod
    def for_run(cls, run_dir: Path, cfg: ExperimentConfig, tasks: list[EvalTask]) -> ContinualMatrix:
        """The run's matrix so far (after a resume), or an empty one."""
        path = run_dir / MATRIX_FILE
        if path.exists():
            return cls.load(path)
        return cls(cfg.method, [t.name for t in tasks], [s.name for s in cfg.stages], cfg.continual.eval.k)


def _row_labels(matrix: ContinualMatrix) -> list[str]:
    return (["start"] if matrix.initial else []) + [f"after {r['stage']}" for r in matrix.rows]


def _rows(matrix: ContinualMatrix) -> list[list[float]]:
    return ([matrix.initial["accuracy"]] if matrix.initial else []) + matrix.accuracy


def plot_matrix(matrix: ContinualMatrix, out: Path) -> Path | None:
    """Heatmap of greedy accuracy: rows = start and each stage's end, columns = tasks."""
    from rlpost.plots import pyplot

    rows = _rows(matrix)
    if not rows:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(matrix.tasks), 1.2 + 0.6 * len(rows)))
    im = ax.imshow(rows, vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(matrix.tasks)), matrix.tasks, rotation=20, ha="right")
    ax.set_yticks(range(len(rows)), _row_labels(matrix))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            ax.text(c, r, f"{value:.2f}", ha="center", va="center", color="white" if value < 0.6 else "black", fontsize=9)
    ax.set_title(f"{matrix.method}: greedy accuracy after each stage")
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_task_lines(matrix: ContinualMatrix, out: Path) -> Path | None:
    """One line per task: greedy accuracy at the start and after each stage."""
    from rlpost.plots import pyplot

    rows = _rows(matrix)
    if not rows:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    labels = _row_labels(matrix)
    for i, task in enumerate(matrix.tasks):
        style = "--" if i >= len(matrix.stages) else "-"
        ax.plot(range(len(rows)), [row[i] for row in rows], style, marker="o", label=task)
    ax.set_xticks(range(len(rows)), labels, rotation=15)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("greedy accuracy")
    ax.set_title(f"{matrix.method}: accuracy per task through the stages")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def format_matrix(matrix: ContinualMatrix) -> list[str]:
    """Markdown table of the greedy accuracy rows (start first) and the summary metrics."""
    head = "| after \\ task | " + " | ".join(matrix.tasks) + " |"
    lines = [head, "|" + "---|" * (len(matrix.tasks) + 1)]
    for label, row in zip(_row_labels(matrix), _rows(matrix)):
        lines.append(f"| {label} | " + " | ".join(f"{v:.3f}" for v in row) + " |")
    lines.append("")
    for name, value in matrix.summary().items():
        lines.append(f"- {name}: {value:+.3f}" if not math.isnan(value) else f"- {name}: n/a")
    return lines
