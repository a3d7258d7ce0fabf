"""MBPP-style Python tasks: rows of `text`, `test_list` (assert statements) and reference `code`.

27 tasks written for this repository are bundled (every fifth one is the test split); point
`params.data_files` at a local .jsonl / .parquet file or `params.dataset` at a `datasets` name
(the real set: dataset google-research-datasets/mbpp) to use another. A row may also carry
`test_setup_code`; the sanitized MBPP's `prompt` column is read when `text` is absent.
params.template builds the prompt from `{text}` and `{tests}`. Scored by the `code` reward.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rlpost.envs import Environment, RewardSpec, load_rows, register_env, rows_loader, split_params

BUNDLED = Path(__file__).parent / "data" / "mbpp_bundled.jsonl"
TEMPLATE = "{text}\nYour code should pass these tests:\n{tests}\nAnswer with the code in a ```python block."


def make_rows(split: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of prompt, text, test_list, test_setup_code, code; a malformed row is an error naming it."""
    own, source = split_params("mbpp", params, {"template"})
    template = own.get("template", TEMPLATE)
    if "{text}" not in template:
        raise ValueError("mbpp: params.template must contain '{text}'")
    rows, where = load_rows("mbpp", split, source, BUNDLED)
    out = []
    for i, row in enumerate(rows, start=1):
        text = row.get("text") or row.get("prompt")
        tests = row.get("test_list")
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"mbpp: {where} row {i}: 'text' must be a non-empty string")
        if not isinstance(tests, list) or not tests or not all(isinstance(t, str) for t in tests):
            raise ValueError(f"mbpp: {where} row {i}: 'test_list' must be a non-empty list of assert statements")
        prompt = template.replace("{text}", text).replace("{tests}", "\n".join(tests))
        setup, code = row.get("test_setup_code") or "", row.get("code") or ""
        out.append({"prompt": prompt, "text": text, "test_list": tests, "test_setup_code": setup, "code": code})
    return out


def _sft_target(row: dict[str, Any]) -> str:
    if not row["code"]:
        raise ValueError(f"mbpp: row {row['text'][:40]!r} has no reference 'code' for supervised warm-up")
    return f"```python\n{row['code']}\n```"


MBPP = register_env(
    Environment(
        name="mbpp",
        description="Python tasks (MBPP format, assert tests), sandboxed code reward; 27 bundled or a local/datasets source",
        load=rows_loader(make_rows),
        rewards=(RewardSpec("code"),),
        reference_fields=("test_list", "test_setup_code"),
        sft_target=_sft_target,
    )
)
