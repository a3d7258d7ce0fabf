"""The experiment schema: loading, defaults, overrides and the one-line `ConfigError` messages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from rlpost.config import (
    ConfigError,
    ExperimentConfig,
    apply_override,
    build_config,
    dump_config,
    load_config,
    parse_override,
)

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "configs" / "quickstart.yaml"

MINIMAL = {"stages": [{"envs": [{"name": "arithmetic"}]}]}


def _error(overrides: list[str] = (), path: Path = QUICKSTART) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, list(overrides))
    message = str(info.value)
    assert "\n" not in message, f"multi-line config error: {message!r}"
    return message


# --------------------------------------------------------------------------------------
# loading and defaults
# --------------------------------------------------------------------------------------


def test_quickstart_loads_with_its_values():
    raw = yaml.safe_load(Path(QUICKSTART).read_text())
    cfg = load_config(QUICKSTART)
    assert isinstance(cfg, ExperimentConfig)
    assert cfg.run.name == raw["run"]["name"] == "quickstart"
    assert cfg.warmup.enabled is True and cfg.warmup.steps == raw["warmup"]["steps"]
    assert cfg.rollout.prompts_per_step == raw["rollout"]["prompts_per_step"] and cfg.rollout.n == raw["rollout"]["n"]
    assert cfg.algorithm.clip_high == pytest.approx(raw["algorithm"]["clip_high"])
    assert cfg.learner.lr == pytest.approx(float(raw["learner"]["lr"]))
    assert [s.name for s in cfg.stages] == [s["name"] for s in raw["stages"]]
    assert cfg.stages[0].envs[0].name == "arithmetic"
    assert cfg.stages[0].envs[0].params == raw["stages"][0]["envs"][0]["params"]
    assert cfg.batch_size == raw["rollout"]["prompts_per_step"] * raw["rollout"]["n"]
    assert cfg.mini_batch_size == raw["learner"]["mini_batch_size"]


def test_quickstart_unset_keys_take_defaults():
    cfg = load_config(QUICKSTART)
    assert cfg.rollout.top_p == 1.0
    assert cfg.rollout.num_engines == 1
    assert cfg.algorithm.kl_estimator == "k3"
    assert cfg.algorithm.loss_agg == "token-mean"
    assert cfg.learner.num_workers == 1 and cfg.learner.epochs == 1
    assert cfg.rewards.fallback_score == 0.0
    assert cfg.checkpoint.keep_last == 2
    assert cfg.stages[0].envs[0].weight == 1.0 and cfg.stages[0].envs[0].rewards is None


def test_minimal_config_fills_every_section_with_defaults():
    cfg = build_config(MINIMAL)
    assert cfg.run.name == "run" and cfg.run.seed == 0 and cfg.run.dir is None
    assert cfg.model.path == "tiny" and cfg.model.tiny.hidden_size == 128 and cfg.model.dtype == "float32"
    assert cfg.warmup.enabled is False
    assert cfg.rollout.engine == "vllm" and cfg.rollout.n == 8 and cfg.rollout.prompts_per_step == 16
    assert cfg.algorithm.name == "grpo" and cfg.algorithm.clip_low == pytest.approx(0.2)
    assert cfg.learner.mini_batch_size is None and cfg.learner.micro_batch_size == 16
    assert cfg.mini_batch_size == cfg.batch_size == 128
    assert cfg.stages[0].name == "main" and cfg.stages[0].steps == 20


def test_run_path_defaults_under_run_root(monkeypatch, tmp_path):
    monkeypatch.delenv("RLPOST_RUN_ROOT", raising=False)
    cfg = build_config({**MINIMAL, "run": {"name": "abc"}})
    assert cfg.run.path == Path("runs") / "abc"
    monkeypatch.setenv("RLPOST_RUN_ROOT", str(tmp_path))
    assert cfg.run.path == tmp_path / "abc"
    explicit = build_config({**MINIMAL, "run": {"name": "abc", "dir": str(tmp_path / "x")}})
    assert explicit.run.path == tmp_path / "x"


def test_dump_config_round_trips():
    cfg = load_config(QUICKSTART, ["learner.lr=1e-4", "rollout.engine=hf", "stages.0.steps=5"])
    again = build_config(yaml.safe_load(dump_config(cfg)))
    assert again == cfg
    assert again.learner.lr == pytest.approx(1e-4) and again.rollout.engine == "hf" and again.stages[0].steps == 5


def test_dump_config_round_trips_through_a_file(tmp_path):
    cfg = build_config(MINIMAL)
    path = tmp_path / "dumped.yaml"
    path.write_text(dump_config(cfg))
    assert load_config(path) == cfg


# --------------------------------------------------------------------------------------
# overrides
# --------------------------------------------------------------------------------------


def test_overrides_with_dotted_paths_list_index_and_yaml_typing():
    cfg = load_config(QUICKSTART, ["learner.lr=1e-4", "rollout.engine=hf", "stages.0.steps=5", "run.seed=7"])
    assert isinstance(cfg.learner.lr, float) and cfg.learner.lr == pytest.approx(1e-4)
    assert cfg.rollout.engine == "hf"
    assert cfg.stages[0].steps == 5
    assert cfg.run.seed == 7
    # the file itself is untouched by the overrides
    assert load_config(QUICKSTART).stages[0].steps == yaml.safe_load(Path(QUICKSTART).read_text())["stages"][0]["steps"] != 5


def test_override_of_nested_list_item_and_structured_value():
    cfg = load_config(
        QUICKSTART, ["stages.0.envs.0.params.digits=3", "stages.0.envs.0.rewards=[{name: exact_answer, weight: 2}]"]
    )
    env = cfg.stages[0].envs[0]
    raw = yaml.safe_load(Path(QUICKSTART).read_text())["stages"][0]["envs"][0]["params"]
    assert env.params == {**raw, "digits": 3} and raw["digits"] != 3
    assert env.rewards is not None and env.rewards[0].name == "exact_answer" and env.rewards[0].weight == 2.0


def test_override_scientific_notation_ends_up_a_float_in_typed_fields():
    # PyYAML (YAML 1.1) reads "1e-4" as a string; the float-typed field converts it.
    assert parse_override("learner.lr=1e-4")[1] == "1e-4"
    cfg = load_config(QUICKSTART, ["learner.lr=1e-4", "algorithm.kl_coef=2e-3"])
    assert type(cfg.learner.lr) is float and cfg.learner.lr == pytest.approx(1e-4)
    assert cfg.algorithm.kl_coef == pytest.approx(2e-3)


def test_override_creates_missing_sections():
    cfg = load_config(QUICKSTART, ["cluster.num_cpus=3"])
    assert cfg.cluster.num_cpus == 3


@pytest.mark.parametrize(
    ("text", "keys", "value"),
    [
        ("learner.lr=1.0e-4", ["learner", "lr"], 1e-4),
        ("rollout.n=4", ["rollout", "n"], 4),
        ("rollout.engine=hf", ["rollout", "engine"], "hf"),
        ("stages.0.steps=5", ["stages", "0", "steps"], 5),
        ("warmup.enabled=false", ["warmup", "enabled"], False),
        ("run.dir=null", ["run", "dir"], None),
        ("run.name=a=b", ["run", "name"], "a=b"),
        ("run.name=", ["run", "name"], ""),
        ("stages.0.envs=[{name: x}]", ["stages", "0", "envs"], [{"name": "x"}]),
    ],
)
def test_parse_override(text, keys, value):
    got_keys, got_value = parse_override(text)
    assert got_keys == keys
    assert got_value == value and type(got_value) is type(value)


@pytest.mark.parametrize("text", ["learner.lr", "=1", "a..b=1", ".a=1", "a.=1"])
def test_parse_override_rejects_bad_syntax(text):
    with pytest.raises(ConfigError) as info:
        parse_override(text)
    assert "override" in str(info.value)


def test_apply_override_walks_dicts_and_lists():
    data = {"a": {"b": [{"c": 1}, {"c": 2}]}}
    apply_override(data, ["a", "b", "1", "c"], 5)
    apply_override(data, ["a", "b", "0"], {"c": 9})
    apply_override(data, ["x", "y"], 3)
    assert data == {"a": {"b": [{"c": 9}, {"c": 5}]}, "x": {"y": 3}}


def test_apply_override_into_a_scalar_names_the_path():
    with pytest.raises(ConfigError, match=r"^a\.b: is a value"):
        apply_override({"a": {"b": 1}}, ["a", "b", "c"], 2)


# --------------------------------------------------------------------------------------
# one-line errors naming the key path
# --------------------------------------------------------------------------------------


def test_unknown_top_level_key():
    assert _error(["bogus=1"]) == "bogus: unknown key"


def test_unknown_nested_key():
    assert _error(["rollout.bogus=1"]) == "rollout.bogus: unknown key"
    assert _error(["stages.0.envs.0.colour=red"]) == "stages.0.envs.0.colour: unknown key"


def test_wrong_type():
    message = _error(["rollout.n=abc"])
    assert message.startswith("rollout.n: ")
    assert "integer" in message and "'abc'" in message


def test_wrong_literal():
    message = _error(["rollout.engine=foo"])
    assert message.startswith("rollout.engine: ") and "'foo'" in message


def test_out_of_range_value():
    message = _error(["algorithm.clip_low=1.5"])
    assert message.startswith("algorithm.clip_low: ")
    assert "1.5" in message


def test_non_positive_lr():
    assert _error(["learner.lr=0"]).startswith("learner.lr: ")


def test_unregistered_algorithm():
    message = _error(["algorithm.name=nope"])
    assert message.startswith("algorithm.name: ") and "grpo" in message and "'nope'" in message


def test_missing_model_dir():
    message = _error(["model.path=/nope"])
    assert message.startswith("model.path: ")
    assert "/nope" in message


def test_existing_model_dir_is_accepted(tmp_path):
    assert load_config(QUICKSTART, [f"model.path={tmp_path}", "warmup.enabled=false"]).model.path == str(tmp_path)


def test_mini_batch_must_divide_the_rollout_batch():
    message = _error(["rollout.prompts_per_step=16", "learner.mini_batch_size=48"])
    assert message.startswith("learner.mini_batch_size: ")
    assert "128" in message and "48" in message


def test_micro_batch_times_workers_must_divide_the_mini_batch():
    message = _error(["learner.micro_batch_size=48"])
    assert message.startswith("learner.micro_batch_size: ") and "64" in message
    message = _error(["learner.num_workers=3"])  # 64 * 3 = 192 does not divide 64
    assert message.startswith("learner.micro_batch_size: ") and "192" in message


def test_consistent_batch_sizes_are_accepted():
    cfg = load_config(QUICKSTART, ["learner.micro_batch_size=16", "learner.num_workers=2", "learner.mini_batch_size=32"])
    assert cfg.mini_batch_size == 32


def test_grpo_needs_more_than_one_sample_per_prompt():
    message = _error(["rollout.n=1"])
    assert message.startswith("rollout.n: ")
    assert "grpo" in message


def test_warmup_only_with_tiny_model(tmp_path):
    message = _error([f"model.path={tmp_path}"])  # quickstart has warmup.enabled: true
    assert message.startswith("warmup.enabled: ")
    assert "tiny" in message


def test_empty_stages_and_envs():
    assert _error(["stages=[]"]).startswith("stages: ")
    assert _error(["stages.0.envs=[]"]).startswith("stages.0.envs: ")


def test_missing_required_key():
    assert _error(["stages.0.envs.0.rewards=[{weight: 1}]"]).startswith("stages.0.envs.0.rewards.0.name: ")


def test_bad_override_syntax():
    message = _error(["learner.lr"])
    assert "learner.lr" in message and "key.path=value" in message


def test_override_into_a_list_index_out_of_range():
    message = _error(["stages.3.steps=5"])
    assert message.startswith("stages.3: ")
    assert "length 1" in message
    assert _error(["stages.0.envs.5.name=x"]).startswith("stages.0.envs.5: ")
    assert _error(["stages.x.steps=5"]).startswith("stages.x: ")


def test_override_with_invalid_yaml_value():
    message = _error(["rollout.n=[1"])
    assert "rollout.n" in message and "YAML" in message


def test_invalid_yaml_file_names_the_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("run:\n  name: x\nmodel: a: b\n")
    message = _error(path=path)
    assert str(path) in message
    assert "line 3" in message


def test_missing_file():
    message = _error(path=Path("/nope/missing.yaml"))
    assert "/nope/missing.yaml" in message and "not found" in message


def test_top_level_must_be_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    assert "mapping" in _error(path=path)


def test_several_errors_report_the_first_and_a_count():
    message = _error(["rollout.bogus=1", "learner.bogus=2"])
    assert message.startswith("rollout.bogus: unknown key") and "(+1 more)" in message


def test_yaml_file_with_a_control_character_gives_a_one_line_error(tmp_path):
    path = tmp_path / "ctl.yaml"
    path.write_text("run:\n  name: a\x07b\n")
    message = _error(path=path)
    assert str(path) in message


def test_override_with_a_control_character_is_a_config_error():
    with pytest.raises(ConfigError, match="run.name"):
        parse_override("run.name=a\x07b")


# --------------------------------------------------------------------------------------
# algorithm settings
# --------------------------------------------------------------------------------------

CONFIGS = ROOT / "configs"


RECIPES = ["grpo", "remax", "gppo", "ppo", "rloo", "reinforce_pp", "reinforce_pp_baseline", "gspo", "cispo"]
RECIPE_CONFIGS = [(name, name) for name in RECIPES] + [("dapo", "grpo"), ("dr_grpo", "grpo")]


@pytest.mark.parametrize("name, algorithm", RECIPE_CONFIGS)
def test_every_algorithm_config_validates(name, algorithm):
    assert load_config(CONFIGS / f"{name}_arithmetic.yaml").algorithm.name == algorithm


def test_unset_keys_take_the_algorithms_defaults():
    gppo = load_config(QUICKSTART, ["algorithm.name=gppo", "algorithm.clip_high=null"])
    assert (gppo.algorithm.clip_high, gppo.algorithm.dual_clip, gppo.algorithm.kl_in) == (0.28, 10.0, "loss")
    remax = load_config(QUICKSTART, ["algorithm.name=remax", "learner.mini_batch_size=null"])
    assert (remax.algorithm.kl_in, remax.algorithm.adv_clip) == ("reward", 5.0)
    # a value set in YAML wins over the algorithm's default
    assert load_config(QUICKSTART, ["algorithm.name=gppo"]).algorithm.clip_high == 0.28  # quickstart sets 0.28
    assert load_config(QUICKSTART, ["algorithm.name=gppo", "algorithm.clip_high=0.3"]).algorithm.clip_high == 0.3


def test_ppo_without_a_critic_model():
    message = _error(["algorithm.name=ppo"])
    assert message.startswith("critic.model: ") and "ppo needs a critic" in message


def test_critic_model_must_exist():
    assert _error(["algorithm.name=ppo", "critic.model=/no/such/dir"]).startswith("critic.model: ")


def test_kl_placement_the_algorithm_does_not_support():
    message = _error(["algorithm.kl_in=reward"])
    assert message.startswith("algorithm.kl_in: ") and "grpo supports ['loss']" in message


def test_adaptive_kl_needs_kl_in_the_reward():
    message = _error(["algorithm.kl_target=0.01"])
    assert message.startswith("algorithm.kl_target: ")
    remax = load_config(QUICKSTART, ["algorithm.name=remax", "algorithm.kl_target=0.01", "learner.mini_batch_size=null"])
    assert remax.algorithm.kl_target == 0.01


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("algorithm.clip_low=1.0", "algorithm.clip_low"),
        ("algorithm.clip_low=-0.1", "algorithm.clip_low"),
        ("algorithm.clip_high=-0.1", "algorithm.clip_high"),
        ("algorithm.dual_clip=1.0", "algorithm.dual_clip"),
        ("algorithm.lam=1.5", "algorithm.lam"),
        ("algorithm.gamma=0", "algorithm.gamma"),
        ("algorithm.adv_clip=0", "algorithm.adv_clip"),
        ("algorithm.remax_update=sgd", "algorithm.remax_update"),
        ("algorithm.max_sampling_rounds=0", "algorithm.max_sampling_rounds"),
    ],
)
def test_out_of_range_algorithm_values(override, key):
    assert _error([override]).startswith(f"{key}: ")


@pytest.mark.parametrize("name", ["remax", "ppo"])
def test_dynamic_sampling_only_where_equal_rewards_carry_no_signal(name):
    one_update = ["learner.mini_batch_size=null", "critic.model=policy"]
    message = _error([f"algorithm.name={name}", "algorithm.dynamic_sampling=true", *one_update])
    assert message.startswith("algorithm.dynamic_sampling: ") and "not zero for a group of equal rewards" in message
    listed = set(ast.literal_eval(message[message.index("dynamic sampling is for ") + len("dynamic sampling is for ") :]))
    assert {"cispo", "gppo", "grpo", "gspo", "rloo"} <= listed and not {"remax", "ppo", "reinforce_pp"} & listed
    assert load_config(QUICKSTART, ["algorithm.dynamic_sampling=true"]).algorithm.dynamic_sampling


def test_remax_reinforce_needs_one_optimizer_step_per_rollout_batch():
    message = _error(["algorithm.name=remax", "rollout.prompts_per_step=64", "learner.mini_batch_size=64"])  # 512 / 64
    assert message.startswith("learner.mini_batch_size: ") and "got 8" in message
    assert _error(["algorithm.name=remax", "learner.mini_batch_size=null", "learner.epochs=2"]).endswith("got 2")
    clipped = load_config(QUICKSTART, ["algorithm.name=remax", "algorithm.remax_update=clipped", "learner.mini_batch_size=64"])
    assert clipped.algorithm.remax_update == "clipped"


def test_overlong_buffer_within_the_token_budget():
    message = _error(["algorithm.overlong_buffer=9"])  # quickstart: max_new_tokens 8
    assert message.startswith("algorithm.overlong_buffer: ") and "8" in message


def test_critic_micro_batch_must_divide_the_mini_batch():
    message = _error(["algorithm.name=ppo", "critic.model=policy", "critic.micro_batch_size=48"])
    assert message.startswith("critic.micro_batch_size: ")
