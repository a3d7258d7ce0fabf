"""evaluate() through the real vLLM CPU engine in a Ray actor: with an engine the caller owns (as the continual
trainer passes its own) and with one it creates, on a tiny model whose own greedy answers are half the references."""

from __future__ import annotations

import datasets
import pytest
import ray

from rlpost.config import EnvSpec
from rlpost.data import LoadedEnv
from rlpost.envs import Environment, RewardSpec
from rlpost.evaluation import evaluate
from rlpost.rollout import SamplingSpec
from rlpost.tinymodel import build_tiny_model

pytestmark = pytest.mark.slow

PROMPTS = ["1+2=", "3+4=", "5+6=", "7+8=", "2+9=", "4+4="]
MAX_NEW = 4


def _echo_env(greedy_texts: list[str]) -> LoadedEnv:
    """References: the model's greedy answer for even rows, an answer longer than the token budget for odd ones."""
    rows = [
        {"prompt": p, "answer": g if i % 2 == 0 else "x" * (MAX_NEW + 3)} for i, (p, g) in enumerate(zip(PROMPTS, greedy_texts))
    ]
    env = Environment("test_eval_echo", "", lambda split, params: datasets.Dataset.from_list(rows), (RewardSpec("exact_answer"),),
                      ("answer",))  # fmt: skip
    return LoadedEnv(EnvSpec(name="test_eval_echo"), env, env.load("test", {}))


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> str:
    return str(build_tiny_model(tmp_path_factory.mktemp("eval") / "model"))


@pytest.fixture(scope="module")
def engine(model):
    """One vLLM engine actor on the tiny model, shared by the tests that drive an engine themselves."""
    from rlpost.cluster.actors import RolloutActor
    from rlpost.cluster.runtime import actor_options, start_ray
    from rlpost.config import ClusterConfig
    from rlpost.rollout.vllm_engine import vllm_env

    start_ray(ClusterConfig())
    actor = RolloutActor.options(**actor_options(vllm_env(2, 1))).remote("vllm", model_path=model, max_model_len=64)
    yield actor
    ray.kill(actor)


def test_evaluate_on_vllm_with_a_given_and_a_created_engine(model, engine):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model)
    prompt_ids = [tok(p, add_special_tokens=False)["input_ids"] for p in PROMPTS]
    greedy = ray.get(engine.generate.remote(prompt_ids, SamplingSpec(n=1, max_new_tokens=MAX_NEW, temperature=0)), timeout=300)
    env = _echo_env([g[0].text for g in greedy])
    given = evaluate(model, [env], k=2, engine=engine, n=3, max_new_tokens=MAX_NEW, temperature=1.0)["test_eval_echo"]
    assert ray.get(engine.ready.remote(), timeout=60)  # the caller's engine stays up
    assert given["greedy_accuracy"] == 0.5 and given["n"] == len(PROMPTS) and given["samples_per_problem"] == 3
    assert 0.0 <= given["pass@2"] <= 0.5  # odd rows cannot be answered within the token budget

    created = evaluate(model, [env], k=2, engine="vllm", max_new_tokens=MAX_NEW, temperature=1e-4)["test_eval_echo"]
    assert created["greedy_accuracy"] == 0.5
    assert created["pass@2"] == 0.5  # near-zero temperature samples the greedy answer
    assert created["reward_errors"] == 0


def test_rlpost_eval_with_vllm_scores_on_reward_workers(model, tmp_path, capsys):
    """`rlpost eval --engine vllm`: the table comes back, scored by a time-bounded reward pool."""
    import json

    from rlpost.cli import main

    out = tmp_path / "eval.json"
    argv = ["eval", model, "--envs", 'arithmetic:{"digits": 1, "train_size": 20, "test_size": 5}', "--engine", "vllm",
            "--k", "2", "--limit", "3", "--max-new-tokens", "3", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[:2] == ["arithmetic", "3"]
    result = json.loads(out.read_text())["results"]["arithmetic"]
    assert result["n"] == 3 and result["reward_errors"] == 0


def test_vllm_logprobs_agree_with_the_learner_at_temperature_0_7(model, engine):
    """vLLM returns the logprobs of the distribution it sampled from (logits / T), as the learner computes them."""
    import torch
    from transformers import AutoModelForCausalLM

    from rlpost.batch import pad_sequences
    from rlpost.learner.logprobs import batched_logprobs

    prompt = [20, 21, 16, 22, 23, 33]
    out = ray.get(engine.generate.remote([prompt], SamplingSpec(n=8, max_new_tokens=6, temperature=0.7, seed=3)), timeout=300)
    completions = out[0]
    ids, mask, response = pad_sequences([prompt] * 8, [c.token_ids for c in completions], 0)
    hf = AutoModelForCausalLM.from_pretrained(model).eval()
    learner, raw = batched_logprobs(hf, ids, mask, 8, 0.7), batched_logprobs(hf, ids, mask, 8, 1.0)
    engine = torch.cat([torch.tensor(c.logprobs) for c in completions])
    at = response.bool()
    assert (engine - learner[at]).abs().max().item() < 1e-4
    assert (engine - raw[at]).abs().max().item() > 1e-3


def test_a_seeded_batch_draws_each_prompt_independently_and_repeats(engine):
    """One seed per prompt: the same prompt four times gives four different samples (one seed for the whole batch
    gave every prompt the same draws), and the same call again gives the same samples."""
    from rlpost.rollout import SamplingSpec

    spec = SamplingSpec(n=1, max_new_tokens=12, temperature=1.0, seed=7)
    first = ray.get(engine.generate.remote([[5, 6, 7]] * 4, spec), timeout=300)
    again = ray.get(engine.generate.remote([[5, 6, 7]] * 4, spec), timeout=300)
    texts = [group[0].token_ids for group in first]
    assert len({tuple(t) for t in texts}) == 4
    assert [group[0].token_ids for group in again] == texts
