"""Any dataset as an environment, no code needed: a local .jsonl / .json / .parquet file or a `datasets`
name, its columns mapped to the prompt and to the fields the rewards read.

    - name: dataset
      params:
        data_files: {train: data/train.jsonl, test: data/test.jsonl}   # or dataset: <name> (+ dataset_config)
        prompt: question                 # the prompt's column (default: prompt)
        template: "Q: {question}\\nA:"    # optional: the prompt built from the row's columns instead
        references: {answer: final}      # reward field -> column (default: every other column, same name)
        target: solution                 # optional: the column with a reference completion (warm-up, SFT)
      rewards: [{name: exact_answer}]    # required: this environment has no default reward

A row whose prompt is empty or whose mapped columns are missing is an error naming the source and row.
"""

from __future__ import annotations

from typing import Any

from rlpost.envs import Environment, load_rows, register_env, rows_loader, split_params

OWN = {"prompt", "template", "references", "target"}


def make_rows(split: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    own, source = split_params("dataset", params, OWN)
    if source.data_files is None and source.dataset is None:
        raise ValueError("dataset: give params.data_files (a local file or {split: file}) or params.dataset (a datasets name)")
    prompt_col, template = own.get("prompt", "prompt"), own.get("template")
    mapping: dict[str, str] | None = own.get("references")
    if mapping is not None and not (isinstance(mapping, dict) and all(isinstance(v, str) for v in mapping.values())):
        raise ValueError("dataset: params.references must map reward field names to column names")
    target = own.get("target")
    rows, where = load_rows("dataset", split, source, bundled=None)
    out = []
    for i, row in enumerate(rows, start=1):
        wanted = [*([] if template else [prompt_col]), *(mapping or {}).values(), *([target] if target else [])]
        missing = [c for c in wanted if c not in row]
        if missing:
            raise ValueError(f"dataset: {where} row {i} has no column(s) {missing}; it has {sorted(row)}")
        try:
            prompt = template.format(**row) if template else row[prompt_col]
        except KeyError as e:
            raise ValueError(f"dataset: params.template names column {e.args[0]!r}, which {where} row {i} lacks") from None
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError(f"dataset: {where} row {i}: the prompt is empty or not a string")
        if mapping is not None:
            refs = {k: row[c] for k, c in mapping.items()}
        else:
            refs = {k: v for k, v in row.items() if k != prompt_col}
        out.append({**refs, "prompt": prompt, **({"target": row[target]} if target else {})})
    return out


def _target(row: dict[str, Any]) -> str:
    if "target" not in row:
        raise ValueError("dataset: no reference completions to fine-tune on (set params.target to a column)")
    return str(row["target"])


DATASET = register_env(
    Environment(
        name="dataset",
        description="any local jsonl / parquet file or datasets name, columns mapped to prompt and reward fields",
        load=rows_loader(make_rows),
        rewards=(),
        reference_fields=None,
        sft_target=_target,
    )
)
