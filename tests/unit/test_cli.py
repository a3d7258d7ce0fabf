"""`rlpost check | rewards list | envs list`: exit codes and the one-line config error."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from rlpost.cli import main

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = "configs/quickstart.yaml"
HEAVY = ("vllm", "ray", "deepspeed")


@pytest.fixture(autouse=True)
def _in_repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def _heavy_modules() -> set[str]:
    return {m for m in sys.modules if m.split(".")[0] in HEAVY}


def _config_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {captured.err!r}"
    assert lines[0].startswith("config error: ")
    return lines[0][len("config error: ") :]


def test_check_quickstart_is_ok_and_imports_nothing_heavy(capsys):
    before = _heavy_modules()
    assert main(["check", QUICKSTART]) == 0
    assert _heavy_modules() == before, "rlpost check must not import vllm / ray / deepspeed"
    out = capsys.readouterr().out
    first, _, rest = out.partition("\n")
    assert first == f"{QUICKSTART}: ok"
    summary = json.loads(rest)
    assert summary["algorithm"] == "grpo"
    raw = yaml.safe_load(Path(QUICKSTART).read_text())
    sequences = raw["rollout"]["prompts_per_step"] * raw["rollout"]["n"]
    assert summary["steps"] == sum(stage["steps"] for stage in raw["stages"])
    assert summary["sequences_per_step"] == sequences
    assert summary["optimizer_steps_per_rollout"] == sequences // raw["learner"]["mini_batch_size"]
    assert summary["reference_model"] is True
    # on CPU: float32, no GPUs; the same config would take engine + learner + reference GPUs
    assert (summary["dtype"], summary["gpus"], summary["gpus_layout_needs"]) == ("float32", 0, 3)
    assert (summary["placement"], summary["weight_sync"]) == ("pack", "object_store")


def test_check_applies_overrides(capsys):
    overrides = ["stages.0.steps=5", "algorithm.kl_coef=0", "rollout.prompts_per_step=16", "learner.mini_batch_size=128"]
    assert main(["check", QUICKSTART, *overrides]) == 0
    summary = json.loads(capsys.readouterr().out.partition("\n")[2])
    assert summary["steps"] == 5
    assert summary["reference_model"] is False
    assert summary["optimizer_steps_per_rollout"] == 1


def test_check_accepts_a_module_reward_reference(capsys):
    assert main(["check", QUICKSTART, "stages.0.envs.0.rewards=[{name: 'rewards.exact:exact_answer'}]"]) == 0
    assert capsys.readouterr().out.startswith(f"{QUICKSTART}: ok")


def test_bad_override_key(capsys):
    assert _config_error(capsys, ["check", QUICKSTART, "learnr.lr=1"]) == "learnr: unknown key"


def test_bad_override_syntax(capsys):
    message = _config_error(capsys, ["check", QUICKSTART, "learner.lr"])
    assert "learner.lr" in message


def test_out_of_range_value(capsys):
    assert _config_error(capsys, ["check", QUICKSTART, "algorithm.clip_low=1.5"]).startswith("algorithm.clip_low: ")


def test_missing_config_file(capsys, tmp_path):
    message = _config_error(capsys, ["check", str(tmp_path / "nope.yaml")])
    assert "nope.yaml" in message and "not found" in message


def test_unknown_env_name(capsys):
    message = _config_error(capsys, ["check", QUICKSTART, "stages.0.envs.0.name=test_no_such_env"])
    assert message.startswith("stages.0.envs.0.name: ")
    assert "test_no_such_env" in message and "arithmetic" in message


def test_unknown_env_in_a_second_env_entry(capsys):
    argv = ["check", QUICKSTART, "stages.0.envs=[{name: arithmetic}, {name: test_no_such_env}]"]
    assert _config_error(capsys, argv).startswith("stages.0.envs.1.name: ")


def test_unknown_interaction_names_its_key(capsys):
    argv = ["check", QUICKSTART, "stages.0.envs.0.interaction={name: no_such_interaction}"]
    message = _config_error(capsys, argv)
    assert message.startswith("stages.0.envs.0.interaction.name: unknown interaction 'no_such_interaction'")
    assert "tools" in message and "code_feedback" in message  # the registered ones are listed


def test_unresolvable_reward_override(capsys):
    message = _config_error(capsys, ["check", QUICKSTART, "stages.0.envs.0.rewards=[{name: nope}]"])
    assert message.startswith("stages.0.envs.0.rewards.0.name: ")
    assert "'nope'" in message and "exact_answer" in message


def test_unresolvable_second_reward_names_its_index(capsys, tmp_path):
    argv = ["check", QUICKSTART, f"stages.0.envs.0.rewards=[{{name: exact_answer}}, {{name: '{tmp_path}/missing.py:fn'}}]"]
    message = _config_error(capsys, argv)
    assert message.startswith("stages.0.envs.0.rewards.1.name: ") and "not found" in message


@pytest.mark.parametrize("spec", ["rewards.exact:no_such_attr", "test_no_such_module_xyz:fn"])
def test_unresolvable_reward_references(capsys, spec):
    message = _config_error(capsys, ["check", QUICKSTART, f"stages.0.envs.0.rewards=[{{name: '{spec}'}}]"])
    assert message.startswith("stages.0.envs.0.rewards.0.name: ")


def test_reward_file_with_a_syntax_error_is_a_config_error(capsys, tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("def f(:\n")
    message = _config_error(capsys, ["check", QUICKSTART, f"stages.0.envs.0.rewards=[{{name: '{path}:f'}}]"])
    assert message.startswith("stages.0.envs.0.rewards.0.name: ")


def test_rewards_list(capsys):
    assert main(["rewards", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    line = next(line for line in lines if line.split()[0] == "exact_answer")
    assert "exact" in line.split(maxsplit=1)[1]


def test_envs_list(capsys):
    assert main(["envs", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    line = next(line for line in lines if line.split()[0] == "arithmetic")
    assert "arithmetic" in line.split(maxsplit=1)[1]


def test_missing_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "usage" in capsys.readouterr().err


def test_console_script_fails_fast_on_a_bad_override():
    script = ROOT / ".venv" / "bin" / "rlpost"
    if not script.exists():
        pytest.skip("console script not installed in .venv")
    start = time.monotonic()
    proc = subprocess.run([str(script), "check", QUICKSTART, "learnr.lr=1"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    elapsed = time.monotonic() - start
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == ["config error: learnr: unknown key"]
    assert elapsed < 10, f"rlpost check took {elapsed:.1f}s to reject a bad override"
