"""GSM8K-style math word problems: rows of `question` and `answer` (a worked solution ending in `#### n`).

40 problems written for this repository are bundled (every fifth one is the test split); point
`params.data_files` at a local .jsonl / .parquet file or `params.dataset` at a `datasets` name
(for the real set: dataset openai/gsm8k, dataset_config main) to use another. params.template
builds the prompt from `{question}`. Scored by the `math` reward.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rlpost.envs import Environment, RewardSpec, load_rows, register_env, rows_loader, split_params

BUNDLED = Path(__file__).parent / "data" / "gsm8k_bundled.jsonl"
TEMPLATE = "{question}\nSolve it step by step and end with the final answer on its own line as '#### <number>'."


def make_rows(split: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of prompt, question, answer; a row without a question or a '#### ' answer is an error naming it."""
    own, source = split_params("gsm8k", params, {"template"})
    template = own.get("template", TEMPLATE)
    if "{question}" not in template:
        raise ValueError("gsm8k: params.template must contain '{question}'")
    rows, where = load_rows("gsm8k", split, source, BUNDLED)
    out = []
    for i, row in enumerate(rows, start=1):
        question, answer = row.get("question"), row.get("answer")
        if not isinstance(question, str) or not question.strip():
            raise ValueError(f"gsm8k: {where} row {i}: 'question' must be a non-empty string")
        if not isinstance(answer, str) or "####" not in answer:
            raise ValueError(f"gsm8k: {where} row {i}: 'answer' must be a string with a final '#### <answer>'")
        out.append({"prompt": template.replace("{question}", question), "question": question, "answer": answer})
    return out


GSM8K = register_env(
    Environment(
        name="gsm8k",
        description="math word problems (GSM8K format, '#### n' answers), math reward; 40 bundled or a local/datasets source",
        load=rows_loader(make_rows),
        rewards=(RewardSpec("math"),),
        reference_fields=("answer",),
        sft_target=lambda row: row["answer"],
    )
)
