"""The `reward_model` plugin on tiny random-init sequence classifiers: batched scores equal one-by-one scores of
the model itself (with and without a pad token), left truncation, transforms, label choice and param errors."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from rlpost.rewards import Sample, resolve_reward
from tests.model_zoo import build_model

SAMPLES = [
    Sample("3+4=", "7"),
    Sample("You add numbers. Answer with the sum only. 12+30=", "42, the sum"),
    Sample("9+9=", ""),
    Sample("1+1=", "2 " * 20),
    Sample("0+0=", "0<|im_end|><|eot_id|>"),  # the model's own special-token strings are removed before tokenizing
]
OWN_SPECIAL = {"qwen2": "<|im_end|>", "llama": "<|eot_id|>"}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """qwen2: a pad token in the config; llama: none, three labels."""
    root = tmp_path_factory.mktemp("rm")
    labels = {"qwen2": 1, "llama": 3}
    return {name: str(build_model(name, root / name, num_labels=n)) for name, n in labels.items()}


def by_hand(path: str, texts: list[str], label: int = 0, max_length: int | None = None) -> list[float]:
    """The model's own logits, one unpadded sequence at a time, read at `label`."""
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path).eval()
    out = []
    for text in texts:
        ids = tok(text)["input_ids"]
        ids = ids[-max_length:] if max_length else ids
        with torch.no_grad():
            out.append(model(input_ids=torch.tensor([ids])).logits[0, label].item())
    return out


def plain_texts(samples, family="qwen2"):
    return [s.prompt + s.response.replace(OWN_SPECIAL[family], "") for s in samples]


def scores(samples, **params):
    return resolve_reward("reward_model")(samples, params)


@pytest.mark.parametrize("family,label", [("qwen2", 0), ("llama", 2)])
def test_batched_scores_equal_one_by_one_logits(models, family, label):
    expected = by_hand(models[family], plain_texts(SAMPLES, family), label)
    batched = scores(SAMPLES, model=models[family], batch_size=5, label=label)
    single = scores(SAMPLES, model=models[family], batch_size=1, label=label)
    assert [r.score for r in batched] == pytest.approx(expected, abs=1e-5)
    assert [r.score for r in single] == pytest.approx(expected, abs=1e-5)
    assert [r.components["logit"] for r in batched] == pytest.approx(expected, abs=1e-5)
    assert len(set(round(x, 6) for x in expected)) == len(expected)  # the samples are told apart


def test_truncation_keeps_the_right_end(models):
    tok = AutoTokenizer.from_pretrained(models["qwen2"])
    texts = plain_texts(SAMPLES)
    lengths = [len(tok(t)["input_ids"]) for t in texts]
    expected = by_hand(models["qwen2"], texts, max_length=6)
    out = scores(SAMPLES, model=models["qwen2"], max_length=6, batch_size=3)
    assert [r.score for r in out] == pytest.approx(expected, abs=1e-5)
    assert [r.components["truncated"] for r in out] == [max(0, n - 6) for n in lengths]
    assert any(n > 6 for n in lengths) and all(("from the left" in r.info) == (n > 6) for r, n in zip(out, lengths))


def test_transforms(models):
    logit = by_hand(models["llama"], plain_texts(SAMPLES[:2], "llama"), label=1)
    sig = scores(SAMPLES[:2], model=models["llama"], label=1, transform="sigmoid")
    std = scores(SAMPLES[:2], model=models["llama"], label=1, transform="standardize", mean=0.25, std=0.5)
    assert [r.score for r in sig] == pytest.approx([1 / (1 + math.exp(-x)) for x in logit], abs=1e-6)
    assert [r.score for r in std] == pytest.approx([(x - 0.25) / 0.5 for x in logit], abs=1e-5)


def test_chat_template_formats_the_turns(models):
    tok = AutoTokenizer.from_pretrained(models["llama"])
    model = AutoModelForSequenceClassification.from_pretrained(models["llama"]).eval()
    text = tok.apply_chat_template([{"role": "user", "content": "3+4="}, {"role": "assistant", "content": "7"}], tokenize=False)
    assert text.startswith("<|begin_of_text|><|start_header_id|>user")
    with torch.no_grad():
        expected = model(input_ids=torch.tensor([tok(text, add_special_tokens=False)["input_ids"]])).logits[0, 0].item()
    (out,) = scores([Sample("3+4=", "7")], model=models["llama"], chat=True)
    assert out.score == pytest.approx(expected, abs=1e-5)
    assert out.score != pytest.approx(scores([Sample("3+4=", "7")], model=models["llama"])[0].score, abs=1e-4)


@pytest.mark.parametrize(
    "params,message",
    [
        ({"model": "{m}", "label": 3}, "param label: 3 is not below the model's num_labels 3"),
        ({"model": "{m}", "batch": 4}, "param batch: Extra inputs are not permitted"),
        ({"model": "{m}", "mean": 1.0}, "mean / std are used only by transform standardize"),
        ({"model": "{m}", "transform": "tanh"}, "param transform"),
        ({"model": "{m}", "std": 0}, "param std"),
        ({"model": "/nonexistent/rm"}, "param model: '/nonexistent/rm' (/nonexistent/rm) does not exist"),
        ({}, "param model: Field required"),
    ],
)
def test_bad_params_name_the_key(models, params, message):
    params = {k: v.format(m=models["llama"]) if isinstance(v, str) else v for k, v in params.items()}
    with pytest.raises((ValueError, FileNotFoundError)) as e:
        scores(SAMPLES[:1], **params)
    assert message in str(e.value) and str(e.value).startswith("reward_model: ")
