"""The README's YAML examples of `reward_model` and `llm_judge` are valid params."""

from __future__ import annotations

import re

import yaml

from rewards.llm_judge import JudgeParams, template_fields
from rewards.reward_model import RewardModelParams
from tests.conftest import ROOT


def test_readme_examples_validate():
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Model-based rewards") : text.index("### RTL reward")]
    blocks = [yaml.safe_load(b)["rewards"][0] for b in re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)]
    assert [b["name"] for b in blocks] == ["reward_model", "llm_judge"]
    assert RewardModelParams(**blocks[0]["params"]).transform == "standardize"
    judge = JudgeParams(**blocks[1]["params"])
    assert judge.pattern == JudgeParams(model="m").pattern and template_fields(judge.template) == {"answer", "prompt", "response"}
