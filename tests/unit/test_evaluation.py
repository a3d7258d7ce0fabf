"""`rlpost.evaluation`: the pass@k estimator, evaluate() on a scripted engine and on the real transformers
engine with a tiny model, and `rlpost eval` target resolution / CLI."""

from __future__ import annotations

import json
import math

import datasets
import pytest
import yaml

import rlpost.envs as envs_mod
from rlpost.checkpoint import TrainerState, mark_complete
from rlpost.cli import main
from rlpost.config import ConfigError, EnvSpec
from rlpost.data import LoadedEnv, load_env
from rlpost.envs import Environment, RewardSpec, register_env
from rlpost.evaluation import env_labels, evaluate, pass_at_k, resolve_target
from rlpost.rollout import Completion
from rlpost.tinymodel import build_tiny_model, build_tokenizer
from tests.conftest import TINY_EXPERIMENT

# --------------------------------------------------------------------------------------
# pass@k
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (5, 2, 1, 0.4),  # pass@1 is the fraction correct
        (5, 2, 2, 1 - 3 / 10),  # 1 - C(3,2)/C(5,2)
        (10, 3, 4, 1 - 35 / 210),  # 1 - C(7,4)/C(10,4)
        (4, 0, 2, 0.0),
        (4, 3, 2, 1.0),  # fewer than k wrong: every k-subset has a correct one
        (8, 8, 8, 1.0),
    ],
)
def test_pass_at_k_matches_the_binomial_formula(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected)
    assert pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k))


def test_pass_at_k_grows_with_k_and_c():
    assert pass_at_k(20, 3, 1) < pass_at_k(20, 3, 5) < pass_at_k(20, 3, 10)
    assert pass_at_k(20, 2, 5) < pass_at_k(20, 3, 5)


@pytest.mark.parametrize(("n", "c", "k"), [(4, 5, 1), (4, 1, 5), (4, 1, 0), (4, -1, 1)])
def test_pass_at_k_rejects_impossible_counts(n, c, k):
    with pytest.raises(ValueError, match="pass@k"):
        pass_at_k(n, c, k)


# --------------------------------------------------------------------------------------
# evaluate() on a scripted engine
# --------------------------------------------------------------------------------------

ROWS = [{"prompt": "p0", "answer": "a"}, {"prompt": "p1", "answer": "b"}, {"prompt": "p2", "answer": "c"}]
GREEDY = {"p0": "a", "p1": "x", "p2": " c\n"}
SAMPLED = {"p0": ["a", "y", "a", "z"], "p1": ["q", "q", "q", "q"], "p2": ["c", "c", "c", "c"]}


class ScriptedEngine:
    """A RolloutEngine answering from tables, keyed by the decoded prompt; records the specs it got."""

    def __init__(self, tokenizer):
        self.tokenizer, self.specs = tokenizer, []

    def generate(self, prompts, spec):
        self.specs.append(spec)
        out = []
        for ids in prompts:
            text = self.tokenizer.decode(ids)
            texts = [GREEDY[text]] if spec.temperature == 0 else SAMPLED[text][: spec.n]
            out.append([Completion([], [], t, False) for t in texts])
        return out


@pytest.fixture
def tokenizer_dir(tmp_path):
    tok = build_tokenizer()
    tok.save_pretrained(tmp_path / "tok")
    return str(tmp_path / "tok")


@pytest.fixture
def table_env():
    env = Environment(
        name="test_eval_table",
        description="three rows",
        load=lambda split, params: datasets.Dataset.from_list(ROWS),
        rewards=(RewardSpec("exact_answer"),),
        reference_fields=("answer",),
    )
    register_env(env)
    yield load_env(EnvSpec(name="test_eval_table"), "test")
    del envs_mod.ENVS["test_eval_table"]


def test_evaluate_counts_greedy_and_unbiased_pass_at_k(tokenizer_dir, table_env):
    engine = ScriptedEngine(build_tokenizer())
    result = evaluate(tokenizer_dir, [table_env], k=2, engine=engine, n=4, max_new_tokens=5, temperature=0.7, seed=3)
    # greedy: p0 right, p1 wrong, p2 right after strip; sampled: 2/4, 0/4, 4/4 correct
    expected_pass = (pass_at_k(4, 2, 2) + 0.0 + 1.0) / 3
    assert result == {
        "test_eval_table": {"greedy_accuracy": 2 / 3, "pass@2": pytest.approx(expected_pass), "n": 3,
                            "samples_per_problem": 4, "reward_errors": 0}
    }  # fmt: skip
    greedy_spec, sample_spec = engine.specs
    assert (greedy_spec.n, greedy_spec.temperature, greedy_spec.max_new_tokens) == (1, 0.0, 5)
    assert (sample_spec.n, sample_spec.temperature, sample_spec.seed) == (4, 0.7, 3)


def test_evaluate_limit_threshold_and_default_n(tokenizer_dir, table_env):
    engine = ScriptedEngine(build_tokenizer())
    result = evaluate(tokenizer_dir, [table_env], k=4, engine=engine, limit=2)["test_eval_table"]
    assert result["n"] == 2 and result["samples_per_problem"] == 4
    assert result["greedy_accuracy"] == 0.5 and result["pass@4"] == 0.5  # p0 has a correct sample, p1 none
    strict = evaluate(tokenizer_dir, [table_env], k=1, engine=engine, n=4, threshold=1.5)["test_eval_table"]
    assert strict["greedy_accuracy"] == 0.0 and strict["pass@1"] == 0.0


def test_evaluate_rejects_bad_settings(tokenizer_dir, table_env):
    engine = ScriptedEngine(build_tokenizer())
    with pytest.raises(ValueError, match="k=4 n=2"):
        evaluate(tokenizer_dir, [table_env], k=4, engine=engine, n=2)
    with pytest.raises(ValueError, match="limit"):
        evaluate(tokenizer_dir, [table_env], k=1, engine=engine, limit=0)
    with pytest.raises(ValueError, match="unknown engine 'sglang'"):
        evaluate(tokenizer_dir, [table_env], k=1, engine="sglang")


def test_env_labels_disambiguate_the_same_env_with_other_params(table_env):
    other = LoadedEnv(EnvSpec(name="test_eval_table", params={"x": 1}), table_env.env, table_env.rows)
    assert env_labels([table_env]) == ["test_eval_table"]
    assert env_labels([table_env, other]) == ["test_eval_table{}", 'test_eval_table{"x": 1}']


# --------------------------------------------------------------------------------------
# evaluate() through the real transformers engine on a tiny model
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return str(build_tiny_model(tmp_path_factory.mktemp("eval") / "model"))


def test_evaluate_with_the_hf_engine_scores_what_the_model_says(tiny_model):
    """Rows whose reference is the model's own greedy answer count as correct, the others (longer than the
    token budget) cannot: greedy accuracy is exactly the share of the former."""
    from rlpost.rollout import SamplingSpec, create_engine

    prompts = ["1+2=", "3+4=", "5+6=", "7+8="]
    engine = create_engine("hf", model_path=tiny_model)
    greedy = engine.generate(
        [engine.tokenizer(p)["input_ids"] for p in prompts], SamplingSpec(n=1, max_new_tokens=3, temperature=0)
    )
    rows = [{"prompt": p, "answer": g[0].text if i % 2 == 0 else "far too long"} for i, (p, g) in enumerate(zip(prompts, greedy))]
    env = Environment("test_eval_echo", "", lambda split, params: datasets.Dataset.from_list(rows), (RewardSpec("exact_answer"),),
                      ("answer",))  # fmt: skip
    loaded = LoadedEnv(EnvSpec(name="test_eval_echo"), env, env.load("test", {}))
    result = evaluate(tiny_model, [loaded], k=2, engine="hf", max_new_tokens=3, temperature=1e-4)["test_eval_echo"]
    assert result["greedy_accuracy"] == 0.5
    assert result["pass@2"] == 0.5  # near-zero temperature samples the greedy answer


# --------------------------------------------------------------------------------------
# rlpost eval: what it evaluates, and the command
# --------------------------------------------------------------------------------------


def _fake_checkpoint(path):
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    mark_complete(path, TrainerState(step=2, stage=1, stage_step=0, finished=True))
    return path


def _config_file(tmp_path, run_dir):
    data = json.loads(json.dumps(TINY_EXPERIMENT))
    data["run"]["dir"] = str(run_dir)
    data["stages"].append({"name": "again", "steps": 1, "envs": [data["stages"][0]["envs"][0], {"name": "gsm8k"}]})
    data["data"] = {"strict": True}
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, data


def test_resolve_target_from_a_config_uses_its_final_checkpoint_and_distinct_envs(tmp_path):
    path, data = _config_file(tmp_path, tmp_path / "run")
    with pytest.raises(ConfigError, match="no complete final checkpoint"):
        resolve_target(str(path), [])
    final = _fake_checkpoint(tmp_path / "run" / "checkpoints" / "final")
    target = resolve_target(str(path), [])
    assert target.model_path == str(final)
    assert [(key, spec.name) for key, spec in target.envs] == [("stages.0.envs.0", "arithmetic"), ("stages.1.envs.1", "gsm8k")]
    assert target.envs[0][1].params == data["stages"][0]["envs"][0]["params"]
    assert (target.max_new_tokens, target.strict) == (6, True)
    given = resolve_target(str(path), ['arithmetic:{"digits": 2}'])
    assert [(key, spec.name, spec.params) for key, spec in given.envs] == [("--envs 0", "arithmetic", {"digits": 2})]


def test_resolve_target_from_a_checkpoint_reads_the_run_config_two_levels_up(tmp_path):
    final = _fake_checkpoint(tmp_path / "run" / "checkpoints" / "final")
    with pytest.raises(ConfigError, match="give --envs"):
        resolve_target(str(final), [])
    assert [s.name for _, s in resolve_target(str(final), ["arithmetic", "gsm8k"]).envs] == ["arithmetic", "gsm8k"]
    _, data = _config_file(tmp_path, tmp_path / "run")
    (tmp_path / "run" / "config.yaml").write_text(yaml.safe_dump(data))
    target = resolve_target(str(final), [])
    assert [s.name for _, s in target.envs] == ["arithmetic", "gsm8k"] and target.strict


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["eval", "MISSING"], "neither an experiment YAML nor a model checkpoint"),
        (["eval", "MODEL", "--envs", "arithmetic:{bad json"], "expected name or name:{json params}"),
        (["eval", "MODEL", "--envs", "test_no_such_env"], "unknown environment 'test_no_such_env'"),
        (["eval", "MODEL", "--envs", 'arithmetic:{"digits": 9}'], "--envs 0 (arithmetic): arithmetic: params.digits"),
        (["eval", "MODEL", "--envs", "arithmetic", "--k", "4", "--n", "2"], "--n (2) must be at least --k (4)"),
    ],
)
def test_rlpost_eval_bad_input_exits_2_with_one_line(argv, message, tmp_path, tiny_model, capsys):
    argv = [a.replace("MISSING", str(tmp_path / "nope")).replace("MODEL", tiny_model) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_rlpost_eval_on_a_checkpoint_prints_a_table_and_writes_json(tiny_model, tmp_path, capsys):
    out = tmp_path / "eval.json"
    argv = ["eval", tiny_model, "--envs", 'arithmetic:{"digits": 1, "train_size": 20, "test_size": 5}', "--engine", "hf",
            "--k", "2", "--n", "3", "--limit", "3", "--max-new-tokens", "3", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["environment", "problems", "greedy", "pass@2"]
    assert table[1].split()[:2] == ["arithmetic", "3"]
    record = json.loads(out.read_text())
    assert record["model"] == tiny_model and record["k"] == 2 and record["samples_per_problem"] == 3
    result = record["results"]["arithmetic"]
    assert result["n"] == 3 and result["samples_per_problem"] == 3
    assert 0.0 <= result["greedy_accuracy"] <= 1.0 and 0.0 <= result["pass@2"] <= 1.0
