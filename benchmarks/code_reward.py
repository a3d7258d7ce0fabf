"""Code reward cost: executions per second, the split-assert harness against the old one, and `rewards test --workers`.

    .venv/bin/python benchmarks/code_reward.py --trivial 200 --busy 16 --mbpp-rounds 3 --cli 8

Executions: every sample is one sandboxed run (one assert test). Trivial programs return at
once; busy programs spin for 1 s of CPU. Measured side by side in one run: bwrap running
`true`, the reward called in this process one sample at a time, and reward pools of 1 and 2
workers on a local Ray (samples sent in chunks of 2).
Harness: seconds per sample for the 27 bundled MBPP reference solutions (3 asserts each),
scored by today's reward and by the one at commit `OLD` (its reward.py and harness.py are
taken from git into a temporary directory for the run, nothing of it stays in the product).
CLI: `rlpost rewards test code --workers 1` and `--workers 2` on `--cli` samples that sleep 1 s
and on `--cli` that spin 1 s of CPU, as subprocesses; wall time (Ray start-up included) and
the scoring time (the sum of the records' seconds).
Writes benchmarks/results/code_reward.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OLD = "4be2fc6"  # the last commit whose harness ran the asserts, and printed the verdicts, in the sandbox
TESTS = ["assert add(1, 2) == 3"]
TRIVIAL = "def add(a, b):\n    return a + b\n"
SLEEPY = "import time\n\ntime.sleep(1.0)\n\n" + TRIVIAL
BUSY = "import time\n\nstart = time.process_time()\nwhile time.process_time() - start < 1.0:\n    pass\n\n" + TRIVIAL


def per_second(fn, count: int) -> float:
    start = time.perf_counter()
    fn()
    return count / (time.perf_counter() - start)


def old_reward(where: Path):
    """The reward function of commit OLD, loaded from files written under `where` (not registered)."""
    for name in ("reward.py", "harness.py"):
        text = subprocess.run(["git", "-C", str(ROOT), "show", f"{OLD}:rewards/code/{name}"], capture_output=True, text=True,
                              check=True).stdout  # fmt: skip
        (where / name).write_text(text.replace('@register_reward("code")\n', ""))
    spec = importlib.util.spec_from_file_location("old_code_reward", where / "reward.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.code_reward


def harness_cost(rounds: int) -> dict[str, float]:
    """Seconds per bundled MBPP sample (3 asserts) for the old and today's reward, alternating rounds."""
    from envs.mbpp import make_rows
    from rewards.code import code_reward
    from rlpost.rewards import Sample

    rows = make_rows("train", {}) + make_rows("test", {})
    batch = [Sample("p", f"```python\n{r['code']}\n```", {"test_list": r["test_list"], "test_setup_code": r["test_setup_code"]})
             for r in rows]  # fmt: skip
    spent = {"old": 0.0, "new": 0.0}
    with tempfile.TemporaryDirectory() as where:
        rewards = {"old": old_reward(Path(where)), "new": code_reward}
        for _ in range(rounds):
            for name, fn in rewards.items():
                start = time.perf_counter()
                scores = [fn(s).score for s in batch]
                spent[name] += time.perf_counter() - start
                assert scores == [1.0] * len(batch), (name, scores)
    per = {f"{name} seconds per sample": total / (rounds * len(batch)) for name, total in spent.items()}
    return per | {"new / old": per["new seconds per sample"] / per["old seconds per sample"], "samples": rounds * len(batch)}


def cli_workers(count: int) -> dict[str, float]:
    """`rlpost rewards test code --workers N` for N = 1, 2 on `count` samples that sleep 1 s and on `count` that
    spin 1 s of CPU: wall and scoring seconds."""
    out: dict[str, float] = {"samples": count}
    with tempfile.TemporaryDirectory() as where:
        for (kind, code), workers in itertools.product((("sleep", SLEEPY), ("cpu", BUSY)), (1, 2)):
            path = Path(where) / f"{kind}.jsonl"
            path.write_text("".join(json.dumps({"response": code, "test_list": TESTS}) + "\n" for _ in range(count)))
            argv = [str(Path(sys.executable).parent / "rlpost"), "rewards", "test", "code", "--input", str(path),
                    "--workers", str(workers), "--param", "timeout_s=5"]  # fmt: skip
            start = time.perf_counter()
            done = subprocess.run(argv, capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
            wall = time.perf_counter() - start
            records = [json.loads(line) for line in done.stdout.splitlines()]
            assert [r["score"] for r in records] == [1.0] * count, done.stdout[-500:]
            out[f"{kind}, workers {workers}: wall s"] = wall
            out[f"{kind}, workers {workers}: scoring s"] = sum(r["seconds"] for r in records)
    for kind in ("sleep", "cpu"):
        out[f"{kind}: scoring speed-up, 2 vs 1"] = out[f"{kind}, workers 1: scoring s"] / out[f"{kind}, workers 2: scoring s"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trivial", type=int, default=200, help="trivial programs per measurement")
    parser.add_argument("--busy", type=int, default=16, help="1-second programs per measurement")
    parser.add_argument("--mbpp-rounds", type=int, default=3, help="rounds of the 27 bundled MBPP samples, old vs new")
    parser.add_argument("--cli", type=int, default=8, help="1-second samples for `rewards test --workers 1 / 2`")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "code_reward.json"))
    args = parser.parse_args()
    harness = harness_cost(args.mbpp_rounds)
    print(json.dumps({"harness": harness}, indent=2))
    cli = cli_workers(args.cli)
    print(json.dumps({"cli": cli}, indent=2))

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
    report = {"executions_per_second": results, "harness_vs_old": harness, "rewards_test_workers": cli, **meta}
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
