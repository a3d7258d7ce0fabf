"""RTL reward: does every reference of a VerilogEval-layout suite, renamed to TopModule, pass the screen and score functional?

    .venv/bin/python benchmarks/rtl_refs_pass.py /path/to/dataset_spec-to-rtl

The suite directory holds `ProbNNN_name_{ref,test}.sv` pairs (VerilogEval v2 spec-to-rtl, or
`envs/data/verilog`). Each reference is renamed to TopModule (rewards.rtl.harness.Task.ref_as_top),
screened with the task's reserved names, then scored by the `rtl` reward with PPA off (a task
whose reference fails its own testbench is reported as a bad task). Prints every task that does
not pass and writes benchmarks/results/rtl_refs_pass.json (counts, seconds per task, failures).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", help="directory of ProbNNN_name_ref.sv / _test.sv pairs")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "rtl_refs_pass.json"))
    args = parser.parse_args()

    from rewards.rtl import harness, rtl_reward
    from rewards.rtl.screen import screen
    from rlpost.rewards import Sample

    refs = sorted(Path(args.suite).glob("*_ref.sv"))
    if not refs:
        raise SystemExit(f"no *_ref.sv files in {args.suite}")
    failures: dict[str, str] = {}
    screen_s = reward_s = 0.0
    for path in refs:
        task_id = path.name.removesuffix("_ref.sv")
        row = {"task_id": task_id, "ref": path.read_text(), "test": path.with_name(f"{task_id}_test.sv").read_text()}
        task = harness.Task.from_reference(row)
        start = time.perf_counter()
        rejected = screen(task.ref_as_top(), 100_000, task.reserved)
        screen_s += time.perf_counter() - start
        if rejected:
            failures[task_id] = f"screen: {rejected}"
            continue
        start = time.perf_counter()
        try:
            result = rtl_reward(Sample("p", f"```verilog\n{task.ref_as_top()}\n```", row), ppa=False)
        except ValueError as e:  # the task itself is broken (its reference fails its own testbench)
            failures[task_id] = f"bad task: {e}"
            continue
        reward_s += time.perf_counter() - start
        if result.score != 1.0:
            failures[task_id] = f"reward {result.score}: {result.info}"
    for task_id, why in failures.items():
        print(f"{task_id}: {why}")
    summary = {
        "suite": Path(args.suite).name,
        "tasks": len(refs),
        "passed": len(refs) - len(failures),
        "screen_ms_per_task": round(1000 * screen_s / len(refs), 2),
        "reward_s_per_task_cold_no_ppa": round(reward_s / max(len(refs) - len(failures), 1), 3),
        "failures": failures,
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "failures"}))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
