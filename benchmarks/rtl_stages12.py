"""RTL reward stages 1+2 (harness.check, warm) on the 15 bundled tasks: median wall ms per candidate, solutions and mutants.

    PYTHONPATH=<tree> .venv/bin/python benchmarks/rtl_stages12.py tests/data/verilog --label <name>

Short enough to run alternately for two source trees (e.g. a `git archive` of an older commit
and this one) on a loaded machine, so both see the same load. Prints one JSON line; with
--out, appends it to that file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mutants", help="directory of <task_id>_mutant.sv (tests/data/verilog)")
    parser.add_argument("--label", default="this tree")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    from rewards.rtl import harness, tools
    from rewards.rtl.params import parse_params
    from rlpost.envs import get_env, load_builtins

    load_builtins()
    env = get_env("verilog")
    params = parse_params({"ppa": False})
    config = tools.sandbox_config(params)
    cases = []
    for row in [*env.load("train", {}), *env.load("test", {})]:
        task = harness.Task.from_reference(row)
        harness.reference_run(task, params, config)
        cases += [(task, row["solution"]), (task, (Path(args.mutants) / f"{row['task_id']}_mutant.sv").read_text())]
    times = []
    for _ in range(args.repeats):
        for task, source in cases:
            start = time.perf_counter()
            harness.check(task, source, params, config)
            times.append(time.perf_counter() - start)
    line = json.dumps({"label": args.label, "median_ms": round(1000 * statistics.median(times), 1), "runs": len(times)})
    print(line)
    if args.out:
        with open(args.out, "a") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
