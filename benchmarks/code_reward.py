"""Code reward executions per second: bare sandbox start-up, one process, and Ray reward pools.

    .venv/bin/python benchmarks/code_reward.py --trivial 200 --busy 16

Every sample is one sandboxed run (one assert test). Trivial programs return at once; busy
programs spin for 1 s of CPU. Measured side by side in one run: bwrap running `true`, the
reward called in this process one sample at a time, and reward pools of 1 and 2 workers on
a local Ray (samples sent in chunks of 2). Writes benchmarks/results/code_reward.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

TESTS = ["assert add(1, 2) == 3"]
TRIVIAL = "def add(a, b):\n    return a + b\n"
BUSY = "import time\n\nstart = time.process_time()\nwhile time.process_time() - start < 1.0:\n    pass\n\n" + TRIVIAL


def per_second(fn, count: int) -> float:
    start = time.perf_counter()
    fn()
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trivial", type=int, default=200, help="trivial programs per measurement")
    parser.add_argument("--busy", type=int, default=16, help="1-second programs per measurement")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "code_reward.json"))
    args = parser.parse_args()

    import ray

    from rewards.code import code_reward
    from rlpost import sandbox
    from rlpost.cluster.reward_pool import RewardPool
    from rlpost.cluster.runtime import actor_options
    from rlpost.rewards import Sample

    def samples(code: str, count: int) -> list[Sample]:
        return [Sample("p", code, {"test_list": TESTS}, "bench") for _ in range(count)]

    def check(scored) -> None:
        bad = [s for s in scored if s.score != 1.0]
        assert not bad, bad[:2]

    results: dict[str, float] = {}
    sandbox.ensure_working()
    results["bwrap `true`, this process"] = per_second(lambda: [sandbox.run(["true"]) for _ in range(args.trivial)], args.trivial)
    one = samples(TRIVIAL, args.trivial)
    results["trivial, this process"] = per_second(lambda: [code_reward(s) for s in one], args.trivial)
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    bindings = {"bench": [{"name": "code", "weight": 1.0, "params": {"timeout_s": 5}}]}
    for workers in (1, 2):
        pool = RewardPool(bindings, workers, 60.0, 0.0, actor_options({"OMP_NUM_THREADS": "1"}))
        check(pool.score(samples(TRIVIAL, 4), ["bench"] * 4))  # warm-up
        for name, code, count in (("trivial", TRIVIAL, args.trivial), ("1-second", BUSY, args.busy)):
            batch = samples(code, count)
            score = lambda b=batch, p=pool: check(p.score(b, ["bench"] * len(b), chunk_size=2))  # noqa: E731
            results[f"{name}, pool of {workers}"] = per_second(score, count)
        pool.close()
    ray.shutdown()
    for key, value in results.items():
        print(f"{key:32s} {value:8.2f} executions/s")
    meta = {"cores": os.cpu_count(), "trivial": args.trivial, "busy": args.busy}
    Path(args.out).write_text(json.dumps({"executions_per_second": results, **meta}, indent=2) + "\n")


if __name__ == "__main__":
    main()
