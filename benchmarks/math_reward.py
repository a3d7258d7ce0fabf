"""Math reward checks per second on one core, per kind of answer, in one process.

    .venv/bin/python benchmarks/math_reward.py --seconds 5

Pins itself to one CPU and scores each kind of (reference, response) pair in a loop for
`--seconds` after a warm-up, twice: with a new reference for every check (nothing cached: a
lower bound) and in groups of 8 samples per reference as in GRPO (the reference parse is cached;
right answers in a group repeat, wrong ones never do). Half the checks are right; every verdict
is asserted. Writes checks/s to benchmarks/results/math_reward.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from rewards.math import math_reward
from rlpost.rewards import Sample

# kind -> (group g, sample i) -> (reference, right response, wrong response); references and
# right answers depend on g only, wrong answers on i.
KINDS: dict[str, Callable[[int, int], tuple[str, str, str]]] = {
    "gsm8k integer": lambda g, i: (f"so\n#### {g}", f"work\n#### {g:,}", f"#### {g + i + 1}"),
    "boxed fraction": lambda g, i: (
        f"\\frac{{{g}}}{{{g + 1}}}",
        f"\\boxed{{\\frac{{{2 * g}}}{{{2 * g + 2}}}}}",
        f"\\boxed{{{i}/{g}}}",
    ),
    "percentage": lambda g, i: (f"{g}\\%", f"The answer is {g / 100}", f"The answer is {g + i + 1}%"),
    "latex expression": lambda g, i: (f"x^2+{2 * g}x+{g * g}", f"\\boxed{{(x+{g})^2}}", f"\\boxed{{(x-{g + i})^2}}"),
    "interval": lambda g, i: (f"[{g}, \\infty)", f"\\boxed{{[{g},\\infty)}}", f"\\boxed{{({g + i},\\infty)}}"),
    "no answer": lambda g, i: ("72", f"I do not know ({i})", f"no idea ({i})"),
}


def rate(kinds: list[Callable[[int, int], tuple[str, str, str]]], seconds: float, group: int) -> float:
    i, start = 1, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for make in kinds:
            gold, right, wrong = make(i // group + 1, i)
            response = right if i % 2 else wrong
            result = math_reward(Sample("q", response, {"answer": gold}))
            expected = float(i % 2 == 1 and "no idea" not in right and "not know" not in right)
            assert result.components["correct"] == expected, (gold, response, result.info)
            i += 1
    return (i - 1) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per kind and setting")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "math_reward.json"))
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    rate(list(KINDS.values()), 1.0, 1)  # warm-up: imports, regexes, sympy caches
    results: dict[str, dict[str, float]] = {}
    for setting, group in (("new reference per check", 1), ("8 samples per reference", 8)):
        results[setting] = {kind: rate([make], args.seconds, group) for kind, make in KINDS.items()}
        results[setting]["mix (all kinds)"] = rate(list(KINDS.values()), args.seconds, group)
    print(f"{'checks/s on one core':20s} " + " ".join(f"{s:>24s}" for s in results))
    for kind in results["new reference per check"]:
        print(f"{kind:20s} " + " ".join(f"{results[s][kind]:24.1f}" for s in results))
    Path(args.out).write_text(json.dumps({"checks_per_second": results, "seconds_per_kind": args.seconds}, indent=2) + "\n")


if __name__ == "__main__":
    main()
