"""Verilog design tasks in the VerilogEval v2 spec-to-rtl layout, scored by the `rtl` reward.

A task is three files: `ProbNNN_<name>_prompt.txt`, a natural-language spec naming the module
`TopModule` and its ports; `ProbNNN_<name>_ref.sv`, the reference design as module `RefModule`
with the same ports; and `ProbNNN_<name>_test.sv`, module `tb`, which instantiates `RefModule`
and the candidate `TopModule` with identical connections, drives seeded stimulus, counts the
samples where their outputs differ and ends with
`$display("Mismatches: %0d in %0d samples", mismatches, samples); $finish;`.

Rows: `task_id`, `prompt` (params.template around the spec, `{spec}`), `ref` (the reference
source), `test` (the testbench source) and `solution` (the reference with its top module renamed
`TopModule`: the supervised warm-up target, in a ```verilog block).

Sources, one at a time:
- default: 15 small tasks written for this repository (`envs/data/verilog/`: 5 combinational,
  6 sequential, 4 state machines).
- `params.verilog_eval_dir`: the `dataset_spec-to-rtl` directory of a VerilogEval v2 checkout
  (NVlabs/verilog-eval); every `*_prompt.txt` needs its `_ref.sv` and `_test.sv`, used as they are.
- `params.rtllm_dir`: an RTLLM v2 checkout (hkust-zhiyao/RTLLM). Every directory below it holding
  a `design_description.txt` is a design (task_id: the directory name; two of one name are an
  error). RTLLM's own `testbench.v` is not used: it instantiates the design under its own name
  and prints free-form pass/fail text, so it cannot give the mismatch verdict. Instead the row is
  adapted: the prompt is the description with the module name (its `Module name:` line, else
  the directory name) replaced by `TopModule`; `ref` is the verified source with that module (or
  `verified_<name>`) renamed `RefModule` and any other module in the file prefixed `RefModule_`;
  `test` is generated (envs.verilog_tb: seeded, inputs held for random stretches, three samples
  per clock cycle, 1000 cycles, `x` in the reference matching anything and `z` compared
  exactly) from the ports read off the reference's header (envs.verilog_ports: a tokenizer, so
  any legal spacing, comments and attributes; ANSI or non-ANSI; widths may use the module's
  parameters, which keep their defaults). A design that cannot be used (no single
  `verified_*.v`, no such module, `inout`, unpacked-array or interface ports, no ports or no
  outputs, a range using a macro) is skipped with one warning naming its directory and why; a
  checkout where none can be used is an error.
- `params.data_files` / `params.dataset`: rows with `task_id`, `prompt` (the spec), `ref` and
  `test` in the same contract, split as in the other environments (`rlpost.envs.load_rows`).

Any module of a reference other than `RefModule` is renamed `RefModule_<name>` in `ref`, so that
a candidate may define a helper of the same name. Split of the directory sources: tasks sorted by
id, every fifth is 'test' (`rlpost.envs.bundled_split`); `limit` keeps the first rows of a split.
A missing or malformed file is an error naming it (RTLLM designs: skipped with the reason logged).
"""

from __future__ import annotations

import logging
import re
import zlib
from pathlib import Path
from typing import Any

from envs.verilog_ports import parse_ports
from envs.verilog_tb import Stimulus, equivalence_testbench
from rlpost.envs import Environment, RewardSpec, bundled_split, load_rows, register_env, split_params

BUNDLED = Path(__file__).parent / "data" / "verilog"
TEMPLATE = "{spec}\nAnswer with the complete Verilog module TopModule in a ```verilog block."
log = logging.getLogger(__name__)
OWN = {"template", "verilog_eval_dir", "rtllm_dir"}


# --------------------------------------------------------------------------------------
# rows
# --------------------------------------------------------------------------------------


def make_rows(split: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of task_id, prompt, ref, test, solution for `split`; bad input is an error naming the file or row."""
    own, source = split_params("verilog", params, OWN)
    template = own.get("template", TEMPLATE)
    if not isinstance(template, str) or "{spec}" not in template:
        raise ValueError("verilog: params.template must be a string containing '{spec}'")
    chosen = [
        f"params.{k}"
        for k in ("verilog_eval_dir", "rtllm_dir", "data_files", "dataset")
        if (own | vars(source)).get(k) is not None
    ]
    if len(chosen) > 1:
        raise ValueError(f"verilog: give one source, not {' and '.join(chosen)}")
    if source.data_files is not None or source.dataset is not None:
        # load_rows reads `data_files` / `dataset` (and applies `limit`); its bundled path is unused here
        rows, where = load_rows("verilog", split, source, BUNDLED)
        tasks = [_row_task(row, f"{where} row {i}") for i, row in enumerate(rows, start=1)]
    else:
        if own.get("rtllm_dir") is not None:
            tasks = read_rtllm_dir(own["rtllm_dir"])
        elif own.get("verilog_eval_dir") is not None:
            tasks = read_spec_dir(own["verilog_eval_dir"], "params.verilog_eval_dir")
        else:
            tasks = read_spec_dir(BUNDLED, "bundled")
        tasks = bundled_split("verilog", sorted(tasks, key=lambda t: t["task_id"]), split)
        tasks = tasks[: source.limit] if source.limit is not None else tasks
    return [
        {
            "task_id": t["task_id"],
            "prompt": template.replace("{spec}", t["spec"]),
            "ref": t["ref"],
            "test": t["test"],
            "solution": t["solution"],
        }
        for t in tasks
    ]


def _row_task(row: dict[str, Any], where: str) -> dict[str, Any]:
    for key in ("task_id", "prompt", "ref", "test"):
        if not isinstance(row.get(key), str) or not row[key].strip():
            raise ValueError(f"verilog: {where}: {key!r} must be a non-empty string")
    return _task(row["task_id"], row["prompt"], row["ref"], row["test"], where)


def _task(task_id: str, spec: str, ref: str, test: str, where: str, ref_where: str = "", test_where: str = "") -> dict[str, Any]:
    """Check a task in the spec-to-rtl contract and build its row (without the templated prompt)."""
    ref_where, test_where = ref_where or f"{where} 'ref'", test_where or f"{where} 'test'"
    names = module_names(ref)
    if "RefModule" not in names:
        raise ValueError(f"verilog: {ref_where}: no 'module RefModule' (found {names or 'no modules'})")
    code = strip_comments(test)
    if not re.search(r"\bmodule\s+tb\b", code):
        raise ValueError(f"verilog: {test_where}: no testbench 'module tb'")
    if not re.search(r"\bRefModule\b", code) or not re.search(r"\bTopModule\b", code):
        raise ValueError(f"verilog: {test_where}: the testbench must instantiate RefModule and TopModule")
    if "Mismatches:" not in test:
        raise ValueError(f"verilog: {test_where}: the testbench never prints 'Mismatches: N in M samples'")
    # other modules of the reference get a prefix so that a candidate may reuse their names
    ref_out = rename_modules(ref, {n: f"RefModule_{n}" for n in names if n != "RefModule"})
    solution = _strip_leading_comments(rename_modules(ref, {"RefModule": "TopModule"}))
    return {"task_id": task_id, "spec": spec.strip(), "ref": ref_out, "test": test, "solution": solution}


def read_spec_dir(directory: str | Path, what: str = "params.verilog_eval_dir") -> list[dict[str, Any]]:
    """Tasks from a directory of `<id>_prompt.txt`, `<id>_ref.sv`, `<id>_test.sv` (VerilogEval v2 spec-to-rtl)."""
    root = Path(directory)
    if not root.is_dir():
        raise ValueError(f"verilog: {what}: directory {str(root)!r} not found")
    ids = {p.name[: -len("_prompt.txt")] for p in root.glob("*_prompt.txt")}
    for p in [*root.glob("*_ref.sv"), *root.glob("*_test.sv")]:
        if p.name.rsplit("_", 1)[0] not in ids:
            raise ValueError(f"verilog: {what}: {p.name} has no {p.name.rsplit('_', 1)[0]}_prompt.txt beside it")
    if not ids:
        raise ValueError(f"verilog: {what}: no *_prompt.txt task files in {str(root)!r}")
    tasks = []
    for task_id in sorted(ids):
        files = {kind: root / f"{task_id}_{kind}" for kind in ("prompt.txt", "ref.sv", "test.sv")}
        for path in files.values():
            if not path.is_file():
                raise ValueError(f"verilog: {what}: task {task_id!r} has no {path.name} in {str(root)!r}")
        spec, ref, test = (_read(files[k]) for k in ("prompt.txt", "ref.sv", "test.sv"))
        if not spec.strip():
            raise ValueError(f"verilog: {what}: {files['prompt.txt'].name} is empty")
        tasks.append(_task(task_id, spec, ref, test, what, files["ref.sv"].name, files["test.sv"].name))
    return tasks


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"verilog: cannot read {str(path)!r}: {e}") from e


# --------------------------------------------------------------------------------------
# RTLLM
# --------------------------------------------------------------------------------------


def read_rtllm_dir(directory: str | Path) -> list[dict[str, Any]]:
    """Tasks from an RTLLM checkout, adapted to the spec-to-rtl contract (see the module docstring)."""
    root = Path(directory)
    if not root.is_dir():
        raise ValueError(f"verilog: params.rtllm_dir: directory {str(root)!r} not found")
    designs = [desc.parent for desc in sorted(root.rglob("design_description.txt"))]
    if not designs:
        raise ValueError(f"verilog: params.rtllm_dir: no design_description.txt below {str(root)!r}")
    seen: dict[str, Path] = {}
    for design in designs:
        if design.name in seen:
            raise ValueError(f"verilog: params.rtllm_dir: two designs named {design.name!r}: {seen[design.name]} and {design}")
        seen[design.name] = design
    tasks = []
    for design in designs:
        try:
            tasks.append(rtllm_task(design))
        except ValueError as e:
            log.warning("verilog: RTLLM design %s skipped: %s", design, str(e).removeprefix("verilog: "))
    if not tasks:
        raise ValueError(f"verilog: params.rtllm_dir: none of the {len(designs)} designs below {str(root)!r} could be read")
    return tasks


def rtllm_task(design: Path, stim: Stimulus = Stimulus()) -> dict[str, Any]:
    """One RTLLM design directory as a task row (without the templated prompt)."""
    verified = sorted(design.glob("verified_*.v"))
    if len(verified) != 1:
        found = [p.name for p in verified] or "none"
        raise ValueError(f"verilog: RTLLM design {str(design)!r}: expected one reference verified_*.v, found {found}")
    desc_path, ref_path = design / "design_description.txt", verified[0]
    description, source = _read(desc_path), _read(ref_path)
    match = re.search(r"Module name:\s*(\w+)", description)
    name = match.group(1) if match else design.name
    names = module_names(source)
    candidates = [n for n in (name, f"verified_{name}") if n in names] or (names if len(names) == 1 else [])
    if not candidates:
        raise ValueError(f"verilog: {ref_path}: no module {name!r} or 'verified_{name}' (found {names or 'no modules'})")
    top = candidates[0]
    ports, params = parse_ports(source, top, str(ref_path))
    if not any(p.dir == "output" for p in ports):
        raise ValueError(f"verilog: {ref_path}: module {top!r} has no outputs to compare")
    spec = re.sub(rf"\b{re.escape(name)}\b", "TopModule", description)
    test = equivalence_testbench(ports, params, zlib.crc32(design.name.encode()) & 0x7FFFFFFF, stim)
    ref = rename_modules(source, {top: "RefModule"})
    return _task(design.name, spec, ref, test, str(design), str(ref_path), "generated testbench")


# --------------------------------------------------------------------------------------
# source helpers
# --------------------------------------------------------------------------------------


def strip_comments(source: str) -> str:
    return re.sub(r"//[^\n]*|/\*.*?\*/", " ", source, flags=re.S)


def module_names(source: str) -> list[str]:
    return re.findall(r"\bmodule\s+(\w+)", strip_comments(source))


def rename_modules(source: str, mapping: dict[str, str]) -> str:
    """Rename identifiers (module names and their instantiations) by whole word."""
    if not mapping:
        return source
    pattern = re.compile(r"\b(" + "|".join(re.escape(k) for k in sorted(mapping, key=len, reverse=True)) + r")\b")
    return pattern.sub(lambda m: mapping[m.group(1)], source)


def _strip_leading_comments(source: str) -> str:
    lines = source.strip().splitlines()
    while lines and (lines[0].lstrip().startswith("//") or not lines[0].strip()):
        lines.pop(0)
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# registration
# --------------------------------------------------------------------------------------


def _load(split: str, params: dict[str, Any]):
    import datasets

    return datasets.Dataset.from_list(make_rows(split, params))


def _sft_target(row: dict[str, Any]) -> str:
    if not row.get("solution"):
        raise ValueError(f"verilog: task {row.get('task_id')!r} has no reference 'solution' for supervised warm-up")
    return f"```verilog\n{row['solution']}\n```"


VERILOG = register_env(
    Environment(
        name="verilog",
        description="Verilog spec-to-rtl tasks (VerilogEval layout), rtl reward; 15 bundled or local VerilogEval / RTLLM",
        load=_load,
        rewards=(RewardSpec("rtl"),),
        reference_fields=("task_id", "ref", "test"),
        sft_target=_sft_target,
    )
)
