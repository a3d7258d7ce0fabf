"""Continual stages without the stack: config merging, instance filtering with fixed rollouts,
the accuracy matrix file and plots, stage checkpoints, the comparison report, the skill envs."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from rlpost.checkpoint import TrainerState, drop_learner_state, latest_checkpoint, mark_complete, stage_checkpoint_dir
from rlpost.cli import main
from rlpost.config import ConfigError, EnvSpec, FilterConfig, build_config
from rlpost.continual.filtering import apply_outcome, filter_env, load_outcomes, save_outcomes, summary_metrics
from rlpost.continual.matrix import HEATMAP_FILE, LINES_FILE, MATRIX_FILE, ContinualMatrix, format_matrix
from rlpost.data import load_env
from rlpost.report import write_comparison, write_report
from rlpost.rollout import Completion, SamplingSpec

STAGES = [
    {"name": "rev", "steps": 1, "envs": [{"name": "reverse"}]},
    {"name": "sort", "steps": 1, "envs": [{"name": "sort_digits"}], "algorithm": {"name": "gppo", "clip_low": 0.1}},
]


# ----- config ----------------------------------------------------------------------------------
def test_stage_overrides_merge_over_the_top_level():
    cfg = build_config(
        {
            "stages": STAGES,
            "algorithm": {"kl_coef": 0.01, "clip_low": 0.3},
            "continual": {"filter": {"enabled": True, "k": 4}},
        }
    )
    first, second = cfg.stage_algorithm(0), cfg.stage_algorithm(1)
    assert (first.name, first.clip_low, first.kl_coef) == ("grpo", 0.3, 0.01)
    assert (second.name, second.clip_low, second.kl_coef) == ("gppo", 0.1, 0.01)
    assert second.clip_high == 0.28 and second.dual_clip == 10  # GPPO's own defaults
    assert cfg.stage_filter(1).k == 4 and cfg.uses_reference


def test_stage_filter_override_and_reference_only_when_a_stage_has_kl():
    stages = [{**STAGES[0], "filter": {"rule": "partially_correct"}}, {**STAGES[1], "algorithm": {"kl_coef": 0.05}}]
    cfg = build_config({"stages": stages, "continual": {"filter": {"enabled": True, "k": 3}}})
    assert cfg.stage_filter(0).rule == "partially_correct" and cfg.stage_filter(0).k == 3
    assert cfg.stage_filter(1).rule == "any_correct"
    assert cfg.uses_reference  # stage 1 turns KL on though the top level has none


@pytest.mark.parametrize(
    "stage_extra, message",
    [
        ({"algorithm": {"name": "ppo"}}, "stages.1.algorithm.name: ppo and the run's grpo differ in needing a critic"),
        ({"algorithm": {"clip_low": 2}}, "stages.1.algorithm.clip_low"),
        ({"algorithm": {"nope": 1}}, "stages.1.algorithm.nope: unknown key"),
        ({"filter": {"rule": "sometimes"}}, "stages.1.filter.rule: expected one of"),
        ({"filter": {"k": 0}}, "stages.1.filter.k"),
    ],
)
def test_bad_stage_overrides_name_the_key(stage_extra, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_config({"stages": [STAGES[0], {**STAGES[1], **stage_extra}]})


def test_eval_config_errors():
    with pytest.raises(ConfigError, match=r"continual.eval.n: pass@4 needs at least k"):
        build_config({"stages": STAGES[:1], "continual": {"eval": {"k": 4, "n": 2}}})
    with pytest.raises(ConfigError, match=r"continual.eval.general.0.name"):
        build_config({"stages": STAGES[:1], "continual": {"eval": {"general": [{"params": {}}]}}})


# ----- instance filtering ------------------------------------------------------------------------
def fake_engine(correct_counts: dict[str, int], k: int):
    """A generate that answers each prompt's reference `correct_counts[prompt]` times out of k, and a scorer."""

    def generate(prompt_ids, spec):
        assert spec.n == k
        return [[Completion([i], [0.0], str(i), False) for i in range(k)] for _ in prompt_ids]

    def score(samples, bindings):
        out = []
        for s in samples:
            out.append(SimpleNamespace(score=float(int(s.response) < correct_counts.get(s.prompt, 0))))
        return out

    return generate, score


class CharTokenizer:
    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [ord(c) for c in text]}


def test_filter_env_keeps_instances_with_a_correct_rollout(tmp_path):
    env = load_env(EnvSpec(name="reverse", params={"train_size": 10, "test_size": 2}), "train")
    prompts = env.rows["prompt"]
    counts = {prompts[0]: 0, prompts[1]: 4, prompts[2]: 2, prompts[3]: 1}  # the other rows: never correct
    generate, score = fake_engine(counts, k=4)
    cfg = FilterConfig(enabled=True, k=4, max_instances=6)
    out = filter_env(env, generate, score, CharTokenizer(), cfg, SamplingSpec(n=1), log=lambda _: None)
    assert (out.seen, out.kept, out.kept_rows, out.dropped) == (6, 3, [1, 2, 3], {"no_correct": 3})
    assert out.mean_reward == pytest.approx((4 + 2 + 1) / 24)
    partial = filter_env(
        env, generate, score, CharTokenizer(), cfg.model_copy(update={"rule": "partially_correct"}), SamplingSpec(n=1),
        log=lambda _: None,
    )  # fmt: skip
    assert partial.kept_rows == [2, 3] and partial.dropped == {"no_correct": 3, "all_correct": 1}
    kept = apply_outcome(env, partial)
    assert kept.rows["prompt"] == [prompts[2], prompts[3]]

    save_outcomes(tmp_path, 1, "rev", [out, partial])
    again = load_outcomes(tmp_path, 1)
    assert again == [out, partial] and load_outcomes(tmp_path, 0) is None
    totals = summary_metrics(again)
    assert totals["filter/seen"] == 12 and totals["filter/kept"] == 5
    assert totals["filter/dropped/no_correct"] == 6 and totals["filter/dropped/all_correct"] == 1


def test_filter_keeping_nothing_falls_back_to_every_instance():
    env = load_env(EnvSpec(name="reverse", params={"train_size": 5, "test_size": 1}), "train")
    generate, score = fake_engine({}, k=2)
    out = filter_env(env, generate, score, CharTokenizer(), FilterConfig(k=2), SamplingSpec(n=1), log=lambda _: None)
    assert out.fallback and out.kept == 0 and out.kept_rows == [0, 1, 2, 3, 4]


# ----- the matrix ------------------------------------------------------------------------------
def hand_matrix() -> ContinualMatrix:
    m = ContinualMatrix("rl", ["a", "b", "c", "general:g"], ["a", "b", "c"], k=4)
    m.initial = {"step": 0, "accuracy": [0.1, 0.1, 0.1, 0.5], "pass_at_k": [0.2, 0.2, 0.2, 0.6], "envs": {}}
    for stage, acc in zip("abc", ([0.8, 0.2, 0.1, 0.5], [0.6, 0.9, 0.2, 0.4], [0.7, 0.5, 0.9, 0.3])):
        m.rows.append({"stage": stage, "step": 1, "accuracy": acc, "pass_at_k": [min(1.0, x + 0.1) for x in acc], "envs": {}})
    return m


def test_matrix_summary_on_a_hand_example():
    s = hand_matrix().summary()
    assert s["average_accuracy"] == pytest.approx((0.7 + 0.5 + 0.9) / 3)
    assert s["backward_transfer"] == pytest.approx(((0.7 - 0.8) + (0.5 - 0.9)) / 2)
    assert s["forgetting"] == pytest.approx(((0.8 - 0.7) + (0.9 - 0.5)) / 2)
    assert s["general_accuracy"] == pytest.approx(0.3) and s["general_accuracy_initial"] == pytest.approx(0.5)
    assert s["pass@4/average_accuracy"] == pytest.approx((0.8 + 0.6 + 1.0) / 3)


def test_matrix_summary_while_stages_are_still_running():
    m = hand_matrix()
    m.rows = m.rows[:2]
    s = m.summary()
    assert s["average_accuracy"] == pytest.approx((0.6 + 0.9) / 2)
    assert s["forgetting"] == pytest.approx(0.2)


def test_matrix_file_plots_and_round_trip(tmp_path):
    m = hand_matrix()
    path = m.save(tmp_path)
    assert path == tmp_path / MATRIX_FILE
    data = json.loads(path.read_text())
    assert data["accuracy"][1] == [0.6, 0.9, 0.2, 0.4] and data["summary"]["forgetting"] == pytest.approx(0.25)
    for png in (HEATMAP_FILE, LINES_FILE):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
    again = ContinualMatrix.load(path)
    assert again.accuracy == m.accuracy and again.initial == m.initial
    table = format_matrix(again)
    assert table[2].startswith("| start | 0.100") and table[5].startswith("| after c | 0.700")


def test_report_and_comparison(tmp_path):
    rl, sft = tmp_path / "rl", tmp_path / "sft"
    hand_matrix().save(rl)
    other = hand_matrix()
    other.method = "sft"
    other.rows[-1]["accuracy"] = [0.1, 0.2, 0.95, 0.1]
    other.save(sft)
    summary = write_report(rl).read_text()
    assert "## Continual evaluation" in summary and "| after b | 0.600 | 0.900" in summary
    md = write_comparison(rl, sft).read_text()
    assert "| forgetting | +0.250 | +0.700 | +0.450 |" in md
    assert "| general:g | 0.300 | 0.100 |" in md
    assert (rl / "report" / "compare-sft" / "compare.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["report", "--compare", str(rl), str(sft), "--out", str(tmp_path / "cmp")]) == 0
    assert (tmp_path / "cmp" / "compare.md").exists()
    assert main(["report", "--compare", str(rl), str(tmp_path / "missing")]) == 2
    assert main(["report"]) == 2


# ----- stage checkpoints -----------------------------------------------------------------------
def test_stage_checkpoints_resume_order_and_state_cleanup(tmp_path):
    def ckpt(path, state):
        (path / "deepspeed").mkdir(parents=True)
        mark_complete(path, state)
        return path

    step4 = ckpt(tmp_path / "checkpoints" / "step_000004", TrainerState(4, 0, 4))
    assert latest_checkpoint(tmp_path) == step4
    s0 = ckpt(stage_checkpoint_dir(tmp_path, 0, "rev"), TrainerState(4, 1, 0))
    assert latest_checkpoint(tmp_path) == s0  # same step, but the stage is over
    s1 = ckpt(stage_checkpoint_dir(tmp_path, 1, "sort"), TrainerState(8, 2, 0))
    assert latest_checkpoint(tmp_path) == s1
    assert drop_learner_state(tmp_path, keep=s1) == [s0 / "deepspeed"]
    assert (s1 / "deepspeed").is_dir() and (s0 / "COMPLETE").exists()


# ----- environments ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["reverse", "sort_digits", "count_char"])
def test_skill_envs_answer_their_prompts(name):
    train = load_env(EnvSpec(name=name, params={"train_size": 200, "test_size": 50}), "train")
    test = load_env(EnvSpec(name=name, params={"train_size": 200, "test_size": 50}), "test")
    assert len(train.rows) == 200 and len(test.rows) == 50
    assert not set(train.rows["prompt"]) & set(test.rows["prompt"])
    for row in train.rows.select(range(50)):
        body = row["prompt"].split(":", 1)[1].rstrip("=")
        if name == "reverse":
            assert row["answer"] == body[::-1]
        elif name == "sort_digits":
            assert row["answer"] == "".join(sorted(body))
        else:
            letter, word = body.split(":")
            assert row["answer"] == str(word.count(letter))


def test_skill_env_bad_params():
    with pytest.raises(ConfigError, match=r"stages.0.envs.0.*min_len"):
        load_env(EnvSpec(name="reverse", params={"min_len": 6, "max_len": 2}), "train", key="stages.0.envs.0")
    with pytest.raises(ConfigError, match=r"cannot draw"):
        load_env(EnvSpec(name="count_char", params={"min_len": 1, "max_len": 1, "train_size": 50}), "train", key="x")
    with pytest.raises(ConfigError, match=r"unknown params key\(s\) \['digits'\]"):
        load_env(EnvSpec(name="sort_digits", params={"digits": 2}), "train", key="x")


def test_sft_runs_plot_their_loss(tmp_path):
    from rlpost.plots import plot_panels

    rows = [{"step": s, "stage": "a" if s <= 3 else "b", "sft/loss": 1.0 / s} for s in range(1, 7)]
    written = plot_panels(rows, [], tmp_path)
    assert tmp_path / "sft_loss.png" in written and tmp_path / "reward.png" not in written
