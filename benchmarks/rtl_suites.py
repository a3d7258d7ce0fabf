"""RTL suites: loading, references through the `rtl` reward, one-edit mutants caught, seconds per candidate per stage.

    .venv/bin/python benchmarks/rtl_suites.py /path/to/verilog-eval/dataset_spec-to-rtl /path/to/RTLLM \\
        --modes simulate,formal,both --mutants-per-task 6 --workers 2 --time-tasks 8

Each PATH is a VerilogEval v2 `dataset_spec-to-rtl` folder (it holds `*_prompt.txt`) or an RTLLM
v2 checkout (it holds `design_description.txt` files), loaded with the `verilog` environment's
own loaders (envs.verilog). Per suite:
- tasks loaded, and the designs skipped with the loader's logged reason;
- references functional: each reference solution (module renamed TopModule) as the candidate
  through `rewards.rtl.reward.rtl_reward` with `ppa: false`, once per mode of `--modes`
  (`function: <mode>` is passed for every mode other than `simulate`);
- one-edit mutants of each reference, from benchmarks/rtl_mutants.py's generator (`mutants`,
  seeded per task with the CRC-32 of its id; operator swaps, constant bit flips, inverted
  conditions, swapped operands / arms, bit index moves, negations, outside the module header;
  all of them kept: those that do not compile count as `invalid`), scored the same way:
  `caught` = the verdict counts mismatches, `abnormal` = compiled but ended without a verdict
  (a timeout, a limit), `invalid` = failed the screen or stage 1 (does not compile or no
  longer fits the testbench; left out of the rate), `survived` = functional, `error` = the
  reward refused the task (its reference fails its own testbench; left out).
  For RTLLM each mutant is scored against several generated testbenches (envs.verilog_tb):
  `legacy` (200 cycles re-drawn every cycle, one sample per cycle: the testbench before this
  change), `long` (1000 cycles, otherwise legacy), `hold` (1000 cycles, held inputs and
  corner values, one sample per cycle), `new` (the default: `hold` plus three samples per
  cycle) and `new-2000` (the default with 2000 cycles), so the designs where holding or
  sampling phases matter show up. The modes other than `simulate` use `new` alone (the proof
  does not depend on the testbench). Each reference is scored twice per testbench, the second
  (warm) call timed: seconds per candidate with that testbench;
- seconds per candidate per stage on the first `--time-tasks` references, one at a time
  (`--workers` does not apply): the screen and stages 1+2 (syntax, fit and simulation; one
  `harness.check`) and the proof (`formal.check`, formal modes) timed by wrapping those functions
  from outside, the whole reward with
  `ppa: false` and `ppa: true` (warm: the reference's results cached), and `ppa: true` cold
  (caches cleared: the reference is simulated and synthesised too).
Writes benchmarks/results/rtl_suites.json and the generated tables of the suites section of
benchmarks/RESULTS.md (between its rtl_suites markers). Progress: one line per task on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rtl_mutants import edit_line, mutants  # the one mutant generator, beside this script

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- rtl_suites:begin -->", "<!-- rtl_suites:end -->"
# the testbench the modes other than `simulate` are scored against (the proof does not depend on it)
DEFAULT_TB = {"verilog_eval": "own", "rtllm": "new"}
# how the written command names a suite's folder (a local checkout, not a path of this repository)
PLACEHOLDER = {"verilog_eval": "<verilog-eval>/{}", "rtllm": "<RTLLM>"}


class _Collect(logging.Handler):
    """Keeps the messages logged while a suite loads (the loader's skip reasons)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def load_suite(path: Path) -> dict[str, Any]:
    """{kind, tasks: [{task_id, ref, test, solution, tests: {variant: testbench}}], skipped: [reason]} of one PATH."""
    from envs import verilog
    from envs.verilog_tb import LEGACY, Stimulus

    if any(path.glob("*_prompt.txt")):
        tasks = verilog.read_spec_dir(path, str(path))
        tasks = [t | {"tests": {"own": t["test"]}, "default_test": DEFAULT_TB["verilog_eval"]} for t in tasks]
        return {"kind": "verilog_eval", "tasks": tasks, "skipped": []}
    if not any(path.rglob("design_description.txt")):
        raise SystemExit(f"rtl_suites: {path} holds neither *_prompt.txt (VerilogEval) nor design_description.txt (RTLLM)")
    collect = _Collect()
    logging.getLogger("envs.verilog").addHandler(collect)
    try:
        tasks = verilog.read_rtllm_dir(path)
    finally:
        logging.getLogger("envs.verilog").removeHandler(collect)
    designs = {d.parent.name: d.parent for d in path.rglob("design_description.txt")}
    variants = {
        "legacy": LEGACY,
        "long": Stimulus(hold=False, phases=1, corners=False),
        "hold": Stimulus(phases=1),
        "new": Stimulus(),
        "new-2000": Stimulus(cycles=2000),
    }
    for t in tasks:
        t["tests"] = {name: verilog.rtllm_task(designs[t["task_id"]], stim)["test"] for name, stim in variants.items()}
        t["default_test"] = DEFAULT_TB["rtllm"]
    return {"kind": "rtllm", "tasks": tasks, "skipped": collect.messages}


def _score(task: dict[str, Any], test: str, source: str, params: dict[str, Any]) -> dict[str, Any]:
    from rewards.rtl.reward import rtl_reward
    from rlpost.rewards import Sample

    ref = {"task_id": task["task_id"], "ref": task["ref"], "test": test}
    try:
        result = rtl_reward(Sample("", f"```verilog\n{source}\n```", ref, "bench"), **params)
    except ValueError as e:  # a task the reward refuses (e.g. its reference fails its own testbench)
        return {"score": None, "components": {}, "info": f"error: {e}"}
    return {"score": result.score, "components": dict(result.components), "info": result.info}


def _outcome(scored: dict[str, Any]) -> str:
    c = scored["components"]
    if scored["score"] is None:
        return "error"
    if not c.get("syntax_ok"):
        return "invalid"
    if c.get("func_pass"):
        return "survived"
    return "caught" if c.get("mismatches", 0) > 0 else "abnormal"


def _mode_params(mode: str, ppa: bool, formal_timeout_s: float) -> dict[str, Any]:
    return {"ppa": ppa} | ({} if mode == "simulate" else {"function": mode, "formal_timeout_s": formal_timeout_s})


def _testbenches(task: dict[str, Any], mode: str) -> dict[str, str]:
    """The testbench variants a mode is scored against: all of them for `simulate`, the default one otherwise."""
    if mode == "simulate":
        return task["tests"]
    default = task["default_test"]
    return {default: task["tests"][default]}


def mutant_seed(task_id: str) -> int:
    """The mutant generator's seed of one task (stable across runs and machines)."""
    return zlib.crc32(task_id.encode())


def run_task(task: dict[str, Any], modes: list[str], count: int, formal_timeout_s: float) -> dict[str, Any]:
    """References and mutants of one task under every mode and its testbench variants."""
    out: dict[str, Any] = {"task_id": task["task_id"], "default_test": task["default_test"], "reference": {}, "mutants": []}
    for mode in modes:
        params = _mode_params(mode, False, formal_timeout_s)
        tests = _testbenches(task, mode)
        out["reference"][mode] = {v: _score(task, tb, task["solution"], params) for v, tb in tests.items()}
        for v, tb in tests.items():  # again, warm (the reference's own run cached): seconds per candidate
            start = time.perf_counter()
            _score(task, tb, task["solution"], params)
            out["reference"][mode][v]["seconds"] = time.perf_counter() - start
    for kind, source in mutants(task["solution"], count, mutant_seed(task["task_id"])):
        row: dict[str, Any] = {"kind": kind, "edit": edit_line(task["solution"], source), "outcome": {}, "proof": {}}
        for mode in modes:
            params = _mode_params(mode, False, formal_timeout_s)
            scored = {v: _score(task, tb, source, params) for v, tb in _testbenches(task, mode).items()}
            row["outcome"][mode] = {v: _outcome(r) for v, r in scored.items()}
            if mode != "simulate":
                row["proof"][mode] = proof_status(next(iter(scored.values()))["info"])[0]
        out["mutants"].append(row)
    return out


def time_stages(tasks: list[dict[str, Any]], modes: list[str], formal_timeout_s: float) -> dict[str, dict[str, float]]:
    """Median seconds per candidate: screen, stages 1+2, proof, whole reward without / with PPA (warm), with PPA cold."""
    from rewards.rtl import formal, harness
    from rewards.rtl import reward as reward_module
    from rewards.rtl.cache import CACHE

    spent: dict[str, float] = {}

    def timed(name: str, fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - start

        return wrapper

    screen, check, prove = reward_module.screen, harness.check, formal.check
    reward_module.screen, harness.check = timed("screen", screen), timed("syntax+simulation", check)
    formal.check = timed("proof", prove)
    results: dict[str, dict[str, list[float]]] = {}
    try:
        for mode in modes:
            per: dict[str, list[float]] = {}
            for task in tasks:
                test = task["tests"][task["default_test"]]
                for label, ppa, cold in (("reward, ppa: false", False, False), ("reward, ppa: true", True, False),
                                         ("reward, ppa: true, cold", True, True)):  # fmt: skip
                    _score(task, test, task["solution"], _mode_params(mode, ppa, formal_timeout_s))  # warm the caches
                    if cold:
                        CACHE.clear()
                    spent.clear()
                    start = time.perf_counter()
                    _score(task, test, task["solution"], _mode_params(mode, ppa, formal_timeout_s))
                    per.setdefault(label, []).append(time.perf_counter() - start)
                    if not ppa:
                        for name, seconds in spent.items():
                            per.setdefault(name, []).append(seconds)
            results[mode] = per
    finally:
        reward_module.screen, harness.check, formal.check = screen, check, prove
    return {mode: {k: statistics.median(v) for k, v in per.items()} for mode, per in results.items()}


def proof_status(info: str) -> tuple[str, str]:
    """(proven | bounded | counterexample | unknown | none, detail) of a scored candidate, read off the reward's `info`."""
    note = info[info.index("formal: ") :].strip() if "formal: " in info else ""
    for prefix, status in (("formal: proven", "proven"), ("formal: bounded-proven", "bounded"),
                           ("formal: counterexample", "counterexample"), ("formal: unknown", "unknown")):  # fmt: skip
        if note.startswith(prefix):
            return status, note.removeprefix(prefix).strip(" ()").removesuffix("), simulation verdict kept")
    return "none", info[:200]


def reference_proofs(done: list[dict[str, Any]], mode: str) -> dict[str, Any]:
    """How the proof ended on each reference under a formal mode: counts per status and the details of the others."""
    statuses = {d["task_id"]: proof_status(r["info"]) for d in done for r in d["reference"][mode].values()}
    counts = {k: sum(st == k for st, _ in statuses.values()) for k in ("proven", "bounded", "counterexample", "unknown", "none")}
    details = {task: f"{st}: {why}" for task, (st, why) in statuses.items() if st not in ("proven", "bounded")}
    return {"counts": counts, "not_passed": details}


def survivor_proofs(done: list[dict[str, Any]], mode: str) -> dict[str, int]:
    """How the proof ended on the mutants that survived a formal mode (proven: an equivalent mutant, not a miss)."""
    ends = [m["proof"][mode] for d in done for m in d["mutants"] if m["outcome"][mode][d["default_test"]] == "survived"]
    return {status: ends.count(status) for status in sorted(set(ends))}


def summarize(suite: dict[str, Any], done: list[dict[str, Any]], modes: list[str]) -> dict[str, Any]:
    """Counts per mode and testbench variant, and the designs whose catches differ between variants."""
    summary: dict[str, Any] = {"loaded": len(suite["tasks"]), "skipped": suite["skipped"], "modes": {}}
    for mode in modes:
        variants = list(done[0]["reference"][mode]) if done else []
        per_variant = {}
        for v in variants:
            refs = [d["reference"][mode][v] for d in done]
            outcomes = [m["outcome"][mode][v] for d in done for m in d["mutants"]]
            per_variant[v] = {
                "references": len(refs),
                "references_functional": sum(bool(r["components"].get("func_pass")) for r in refs),
                "references_failing": {
                    d["task_id"]: r["info"] for d, r in zip(done, refs, strict=True) if not r["components"].get("func_pass")
                },
                "median_seconds_per_candidate": statistics.median(r["seconds"] for r in refs) if refs else None,
                "mutants": len(outcomes),
                **{k: outcomes.count(k) for k in ("caught", "abnormal", "survived", "invalid", "error")},
            }
        differs = {}
        for d in done:
            caught = {v: sum(m["outcome"][mode][v] == "caught" for m in d["mutants"]) for v in variants}
            if len(set(caught.values())) > 1:
                differs[d["task_id"]] = caught
        summary["modes"][mode] = {"variants": per_variant, "designs_where_variants_differ": differs}
        if mode != "simulate":
            summary["modes"][mode]["reference_proofs"] = reference_proofs(done, mode)
            summary["modes"][mode]["survivor_proofs"] = survivor_proofs(done, mode)
    return summary


def markdown(results: dict[str, Any], command: str) -> str:
    """The generated tables of the RESULTS.md section."""
    lines = []
    for s in results["suites"].values():
        loaded, skipped, per = s["summary"]["loaded"], len(s["summary"]["skipped"]), results["settings"]["mutants_per_task"]
        lines += [f"**{s['kind']}** (`{s['path']}`): {loaded} tasks loaded, {skipped} skipped, {per} mutants per task.", ""]
        for line in s["summary"]["skipped"]:
            lines.append(f"- skipped: {line}")
        lines += [
            "",
            "| mode | testbench | references functional | s per candidate | mutants valid | caught | abnormal "
            "| survived | catch rate |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for mode, m in s["summary"]["modes"].items():
            for v, c in m["variants"].items():
                valid = c["caught"] + c["abnormal"] + c["survived"]
                rate = f"{100 * c['caught'] / valid:.1f} %" if valid else "-"
                lines.append(
                    f"| {mode} | {v} | {c['references_functional']} / {c['references']} "
                    f"| {c['median_seconds_per_candidate']:.3f} | {valid} | {c['caught']} "
                    f"| {c['abnormal']} | {c['survived']} | {rate} |"
                )
        for mode, m in s["summary"]["modes"].items():
            lines += _proof_lines(mode, m.get("reference_proofs"))
            if m.get("survivor_proofs"):
                ends = ", ".join(f"{n} {status}" for status, n in m["survivor_proofs"].items())
                lines += ["", f"Proof on the surviving mutants ({mode}): {ends} (proven: equivalent to the reference)."]
            failing = {t: i for c in m["variants"].values() for t, i in c["references_failing"].items()}
            if failing:
                lines += ["", f"References not functional ({mode}):", ""]
                lines += [f"- {task}: {info[:300]}" for task, info in sorted(failing.items())]
            if m["designs_where_variants_differ"]:
                names = list(next(iter(m["designs_where_variants_differ"].values())))
                lines += ["", f"Mutants caught per design where the testbenches differ ({mode}):", ""]
                lines += [f"| design | {' | '.join(names)} |", "|---|" + "---|" * len(names)]
                for design, caught in m["designs_where_variants_differ"].items():
                    lines.append(f"| {design} | {' | '.join(str(caught[n]) for n in names)} |")
        for mode, t in s["timing"].items():
            n = results["settings"]["time_tasks"]
            lines += ["", f"Median seconds per candidate ({mode}, {n} references, one at a time):", ""]
            lines += ["| stage | s |", "|---|---|"] + [f"| {k} | {v:.3f} |" for k, v in t.items()]
        lines.append("")
    lines += [f"Command: `{command}` (raw numbers in `benchmarks/results/rtl_suites.json`)."]
    return "\n".join(lines)


def _proof_lines(mode: str, proofs: dict[str, Any] | None) -> list[str]:
    """The proof's outcome on the references of one formal mode, and why where it did not pass."""
    if not proofs:
        return []
    counts = ", ".join(f"{n} {status}" for status, n in proofs["counts"].items() if n)
    lines = ["", f"Proof on the references ({mode}): {counts}."]
    if proofs["not_passed"]:
        lines += [""] + [f"- {task}: {why[:240]}" for task, why in sorted(proofs["not_passed"].items())]
    return lines


def write_section(path: Path, body: str) -> None:
    """Replace the text between the rtl_suites markers of RESULTS.md (appending a section when they are missing)."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    block = f"{BEGIN}\n{body}\n{END}"
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip() + "\n\n## RTL suites: VerilogEval v2 and RTLLM v2 (`benchmarks/rtl_suites.py`)\n\n" + block + "\n"
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, help="VerilogEval dataset_spec-to-rtl folders and/or RTLLM checkouts")
    parser.add_argument("--modes", default="simulate", help="comma-separated function modes: simulate, formal, both")
    parser.add_argument("--formal-timeout", type=float, default=10.0, help="formal_timeout_s of the formal modes")
    parser.add_argument("--limit", type=int, default=None, help="first N tasks of each suite (sorted by id)")
    parser.add_argument("--mutants-per-task", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2, help="tasks scored at once (threads; the tools are processes)")
    parser.add_argument("--time-tasks", type=int, default=8, help="references per suite for the per-stage timing")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "rtl_suites.json")
    parser.add_argument("--results-md", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    results: dict[str, Any] = {
        "settings": {k: v for k, v in vars(args).items() if k not in ("paths", "out", "results_md")} | {"modes": modes},
        "suites": {},
    }
    for path in args.paths:
        suite = load_suite(path)
        suite["tasks"] = suite["tasks"][: args.limit] if args.limit else suite["tasks"]
        print(f"{path}: {suite['kind']}, {len(suite['tasks'])} tasks, {len(suite['skipped'])} skipped", file=sys.stderr)
        for line in suite["skipped"]:
            print(f"  skipped: {line}", file=sys.stderr)
        done: list[dict[str, Any]] = []
        with ThreadPoolExecutor(args.workers) as pool:
            for i, d in enumerate(
                pool.map(lambda t: run_task(t, modes, args.mutants_per_task, args.formal_timeout), suite["tasks"]), start=1
            ):
                done.append(d)
                first = modes[0]
                refs = " ".join(
                    f"{v}:{'ok' if r['components'].get('func_pass') else 'FAIL'}" for v, r in d["reference"][first].items()
                )
                caught = " ".join(
                    f"{v}:{sum(m['outcome'][first][v] == 'caught' for m in d['mutants'])}" for v in d["reference"][first]
                )
                print(f"[{suite['kind']} {i}/{len(suite['tasks'])}] {d['task_id']}: ref {refs}; "
                      f"mutants caught of {len(d['mutants'])}: {caught}", file=sys.stderr)  # fmt: skip
        timing = time_stages(suite["tasks"][: args.time_tasks], modes, args.formal_timeout)
        results["suites"][f"{suite['kind']}:{path.name}"] = {
            "path": path.name,
            "kind": suite["kind"],
            "summary": summarize(suite, done, modes),
            "timing": timing,
            "tasks": done,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")  # after every suite, so a later failure keeps it
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    # suite paths are local checkouts: the command names them by kind, not by where they are on this machine
    placeholders = {
        str(p): PLACEHOLDER[s["kind"]].format(s["path"]) for p, s in zip(args.paths, results["suites"].values(), strict=True)
    }
    command = "benchmarks/rtl_suites.py " + " ".join(placeholders.get(a, a) for a in sys.argv[1:])
    write_section(args.results_md, markdown(results, command))
    print(markdown(results, command))


if __name__ == "__main__":
    main()
