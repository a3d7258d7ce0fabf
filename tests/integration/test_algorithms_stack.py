"""Every algorithm config in configs/ runs a few steps through the real stack (Ray, vLLM, DeepSpeed,
reward workers), with its own parts visibly at work, and so does a plugin recipe. Configs that differ only in
their algorithm block share one run, a stage each with that block as the stage's algorithm (one start-up instead
of one each); the plugin recipe is the first stage of the GRPO-family configs' run."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from rlpost.config import build_config
from rlpost.trainer import Trainer
from tests.conftest import ROOT, TINY_EXPERIMENT

pytestmark = pytest.mark.slow

STEPS = 3
CONFIGS = [
    "grpo_arithmetic", "dapo_arithmetic", "dr_grpo_arithmetic", "remax_arithmetic", "gppo_arithmetic", "ppo_arithmetic",
    "rloo_arithmetic", "reinforce_pp_arithmetic", "reinforce_pp_baseline_arithmetic", "gspo_arithmetic", "cispo_arithmetic",
]  # fmt: skip


# a recipe from a file outside the package, with its own hyperparameter: the first stage of the run the GRPO-family
# configs share, so the learner actors load it when they start
PLUGIN = "plugin"
PLUGIN_ALGORITHM = {"name": f"{ROOT / 'tests/plugins/scaled_grpo.py'}:SCALED_GRPO", "adv_scale": 3.0, "kl_coef": 0.0}


def shrunk(name: str) -> dict:
    """configs/<name>.yaml shrunk to the tiny test scale."""
    data = yaml.safe_load((ROOT / "configs" / f"{name}.yaml").read_text())
    data["warmup"]["enabled"] = False
    data["rollout"].update(TINY_EXPERIMENT["rollout"])
    one_update = data["algorithm"].get("remax_update") == "reinforce"  # no ratio: one optimizer step per batch
    data["learner"].update(mini_batch_size=16 if one_update else 8, micro_batch_size=4, lr=1e-3)
    data["stages"][0]["steps"] = STEPS
    # the untrained tiny model never answers right; this reward still varies within groups
    data["stages"][0]["envs"] = TINY_EXPERIMENT["stages"][0]["envs"]
    data["logging"] = {"console": False, "samples_per_step": 4}
    if data["algorithm"].get("overlong_buffer"):
        data["algorithm"]["overlong_buffer"] = 2
    if "critic" in data:
        data["critic"]["warmup_steps"] = 1
    return data


def run_key(data: dict) -> str:
    """Everything of a shrunk config but its name and algorithm block: configs that agree here share one run."""
    rest = {k: v for k, v in data.items() if k != "algorithm"}
    return json.dumps({**rest, "run": {k: v for k, v in data["run"].items() if k != "name"}}, sort_keys=True)


def run_configs(names: list[str], run_dir) -> dict[str, tuple[list[dict], list[dict]]]:
    """One run with a stage per config, named after it (of several, each with that config's algorithm block as the
    stage's own); per config: (its stage's metrics lines, its samples)."""
    data = shrunk(next(name for name in names if name != PLUGIN))
    data["run"]["dir"] = str(run_dir)
    data["stages"] = [{**data["stages"][0], "name": name} for name in names]
    if len(names) > 1:  # each stage brings its block whole (a top-level one would fill in the keys a block leaves out)
        del data["algorithm"]
        for stage, name in zip(data["stages"], names):
            stage["algorithm"] = PLUGIN_ALGORITHM if name == PLUGIN else shrunk(name)["algorithm"]
    run_dir = Trainer(build_config(data)).run()
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    samples = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert (run_dir / "checkpoints" / "final" / "COMPLETE").exists()
    out = {}
    for name in names:
        lines = [m for m in metrics if m["stage"] == name]
        steps = {m["step"] for m in lines}
        out[name] = lines, [s for s in samples if s["step"] in steps]
    return out


@pytest.fixture(scope="module")
def config_run(tmp_path_factory):
    """(metrics, samples) of a config; the configs that differ only in their algorithm block are run together,
    once, on first use (a failed run fails each of its configs' tests without running again)."""
    groups: dict[str, list[str]] = {}
    for name in CONFIGS:
        groups.setdefault(run_key(shrunk(name)), []).append(name)
    groups[run_key(shrunk(CONFIGS[0]))].insert(0, PLUGIN)
    runs: dict[str, dict | Exception] = {}

    def get(name: str) -> tuple[list[dict], list[dict]]:
        (key,) = [k for k, names in groups.items() if name in names]
        if key not in runs:
            try:
                runs[key] = run_configs(groups[key], tmp_path_factory.mktemp(name))
            except Exception as error:
                runs[key] = error
        if isinstance(runs[key], Exception):
            raise runs[key]
        return runs[key][name]

    return get


def assert_finite(m: dict, keys: list[str]) -> None:
    for key in keys:
        assert key in m, (key, sorted(m))
        assert math.isfinite(m[key]), (key, m[key])


@pytest.mark.parametrize("name", CONFIGS)
def test_algorithm_config_runs(name, config_run):
    metrics, samples = config_run(name)
    start = metrics[0]["step"]
    assert [m["step"] for m in metrics] == list(range(start, start + STEPS)) and len(samples) == STEPS * 4
    base = ["reward/mean", "reward/std", "response_length/mean", "advantage/mean_abs", "time/step_s", "time/train_s"]
    for m in metrics:
        assert_finite(m, base)
    last = metrics[-1]
    clipfrac = "actor/seq_clipfrac" if name == "gspo_arithmetic" else "actor/clipfrac"
    assert_finite(last, ["actor/pg_loss", "actor/grad_norm", clipfrac, "actor/entropy"])
    assert last["actor/grad_norm"] > 0

    if name == "remax_arithmetic":
        # the greedy baseline was decoded and scored every step; KL went into the returns
        for m in metrics:
            assert_finite(m, ["reward/greedy_mean", "time/baseline_rollout_s", "kl/mean"])
        assert {"baseline_response", "baseline_reward"} <= set(samples[0])
    if name == "gppo_arithmetic":
        assert_finite(last, ["actor/clipfrac_low", "actor/clipfrac_high", "actor/clipfrac_dual"])
    if name == "ppo_arithmetic":
        first = metrics[0]
        # critic warm-up: step 1 trains only the critic, so the policy is not updated or synced
        assert "actor/pg_loss" not in first and first["time/weight_sync_s"] == 0.0
        for m in metrics:
            assert_finite(m, ["critic/vf_loss", "critic/vf_clipfrac", "critic/explained_variance", "kl/mean", "time/values_s"])
        assert last["time/weight_sync_s"] > 0
    if name == "dapo_arithmetic":
        for m in metrics:
            assert_finite(
                m, ["sampling/rounds", "sampling/dropped_groups", "sampling/topped_up_groups", "reward/overlong_penalty"]
            )
            assert 1 <= m["sampling/rounds"] <= 3
            # after dynamic sampling, only topped-up groups may have all-equal rewards
            assert m["groups/all_equal_frac"] * 4 <= m["sampling/topped_up_groups"] + 1e-9
    if name.startswith("reinforce_pp"):
        for m in metrics:  # the advantage is whitened over the batch's response tokens; the KL went into the rewards
            assert m["advantage/token_std"] == pytest.approx(1.0, abs=1e-3)
            assert_finite(m, ["kl/mean", "time/ref_s", "time/old_logprobs_s"])
    if name == "gspo_arithmetic":
        for m in metrics[1:]:  # sequence ratios stay near 1; the tiny range clips some of them after the first update
            assert_finite(m, ["actor/seq_ratio_mean", "actor/seq_clipfrac"])
            assert abs(m["actor/seq_ratio_mean"] - 1.0) < 0.1
        assert max(m["actor/seq_clipfrac"] for m in metrics) > 0
    if name == "cispo_arithmetic":
        # clipped tokens keep their gradient: the loss never flattens to zero gradient
        assert all(m["actor/grad_norm"] > 0 for m in metrics)
    if name == "rloo_arithmetic":
        assert all(m["advantage/mean_abs"] > 0 for m in metrics if m["groups/all_equal_frac"] < 1)


def test_a_plugin_algorithm_trains_through_the_real_stack(config_run):
    """A recipe from a file outside the package, with its own hyperparameter: the learner actors load it too
    (it is the first stage of its run: they start with it)."""
    metrics, _ = config_run(PLUGIN)
    assert [m["step"] for m in metrics] == list(range(1, STEPS + 1))
    assert all(m["advantage/scale"] == 3.0 and m["actor/grad_norm"] > 0 for m in metrics)
