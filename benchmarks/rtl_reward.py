"""RTL reward: seconds per candidate for each stage and whole (cold and warm), and candidates/s on reward pools.

    .venv/bin/python benchmarks/rtl_reward.py --repeats 5 --pool-samples 60

Candidates are the 15 bundled `verilog` tasks' reference solutions (they pass, so every stage
runs, PPA included) and their buggy mutants (they stop after simulation, score 0.2). Measured
side by side in one run:
- each tool step alone in a sandbox work dir (bwrap `true` for the sandbox's own cost), the
  median over tasks and repeats;
- the reward's stages as it runs them: stages 1+2 (syntax, fit, simulation, one work dir) and
  stage 3 (yosys + OpenSTA, one work dir);
- the whole reward per candidate, warm (the reference's sample count and PPA cached, as for
  every sample of a task after its first) and cold (caches cleared before each candidate, so
  the reference is simulated and synthesised too);
- candidates per second over a shuffled batch of half solutions, half mutants, in this process
  and on local Ray reward pools of 1 and 2 workers (chunks of 2; reference results pre-computed
  in a shared cache_dir, so this is the steady state of training).
Writes benchmarks/results/rtl_reward.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="runs of each task per per-candidate measurement")
    parser.add_argument("--pool-samples", type=int, default=60, help="candidates per throughput measurement")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "rtl_reward.json"))
    args = parser.parse_args()

    import ray

    from rewards.rtl import harness, ppa, rtl_reward, tools
    from rewards.rtl.cache import CACHE
    from rewards.rtl.extract import TOP
    from rewards.rtl.params import parse_params
    from rlpost import sandbox
    from rlpost.cluster.reward_pool import RewardPool
    from rlpost.cluster.runtime import actor_options
    from rlpost.envs import get_env, load_builtins
    from rlpost.rewards import Sample

    load_builtins()
    env = get_env("verilog")
    rows = [*env.load("train", {}), *env.load("test", {})]
    mutants = Path(__file__).parents[1] / "tests" / "data" / "verilog"
    params = parse_params({})
    config = tools.sandbox_config(params)

    def sample(row: dict, source: str) -> Sample:
        return Sample(row["prompt"], f"```verilog\n{source}\n```", {k: row[k] for k in ("task_id", "ref", "test")}, "bench")

    solutions = [sample(r, r["solution"]) for r in rows]
    wrong = [sample(r, (mutants / f"{r['task_id']}_mutant.sv").read_text()) for r in rows]

    def median_s(fn, items) -> float:
        times = []
        for _ in range(args.repeats):
            for item in items:
                start = time.perf_counter()
                fn(item)
                times.append(time.perf_counter() - start)
        return statistics.median(times)

    def tool_step(step: str):
        """One tool step alone, in a work dir that already holds what it reads (prepared outside the timing)."""
        seconds: list[float] = []

        def run(row: dict) -> None:
            lib = tools.liberty(params)
            files = {"cand.sv": row["solution"], "ref.sv": row["ref"], "tb.sv": row["test"], "design.sv": row["solution"]}
            files |= {"synth.ys": ppa.synth_script(TOP, lib), "sta.tcl": ppa.sta_script(TOP, lib, 10.0, "clk")}
            with sandbox.Workdir(files, config) as wd:
                if step in ("vvp", "sta"):  # their inputs come from the step before
                    prep = ("iverilog", [*harness.COMPILE, "-s", "tb", "-o", "sim.vvp", "tb.sv", "ref.sv", "cand.sv"])
                    prep = prep if step == "vvp" else ("yosys", ["-q", "-s", "synth.ys"])
                    tools.run(wd, *prep, params, 60)
                argv = {
                    "true": ["true"],
                    "iverilog alone": [tools.tool("iverilog"), "-g2012", "-t", "null", "-s", TOP, "cand.sv"],
                    "iverilog with testbench": [
                        tools.tool("iverilog"),
                        *harness.COMPILE,
                        "-s",
                        "tb",
                        "-o",
                        "sim.vvp",
                        "tb.sv",
                        "ref.sv",
                        "cand.sv",
                    ],  # fmt: skip
                    "vvp": [tools.tool("vvp"), "-n", "sim.vvp"],
                    "yosys": [tools.tool("yosys"), "-q", "-s", "synth.ys"],
                    "sta": [tools.tool("sta"), "-no_init", "-no_splash", "-exit", "sta.tcl"],
                }[step]
                start = time.perf_counter()
                result = wd.run(argv, limits=tools.limits(params, 60))
                seconds.append(time.perf_counter() - start)
                assert result.reason == "ok", (step, row["task_id"], result.stderr[-300:])

        for _ in range(args.repeats):
            for row in rows:
                run(row)
        return statistics.median(seconds)

    per_candidate: dict[str, float] = {}
    for step in ("true", "iverilog alone", "iverilog with testbench", "vvp", "yosys", "sta"):
        per_candidate[f"tool: {step}"] = tool_step(step)
    tasks = [(harness.Task.from_reference(s.reference), r["solution"]) for s, r in zip(solutions, rows)]
    for task, _ in tasks:
        harness.reference_run(task, params, config)
    per_candidate["stages 1+2: syntax, fit, simulation"] = median_s(lambda t: harness.check(t[0], t[1], params, config), tasks)
    per_candidate["stage 3: synthesis, timing, power"] = median_s(lambda t: ppa.measure(t[1], TOP, params, config), tasks)
    for s in solutions + wrong:  # warm the reference caches
        rtl_reward(s)
    per_candidate["whole, warm: correct (all stages)"] = median_s(lambda s: rtl_reward(s), solutions)
    per_candidate["whole, warm: mutant (stops after simulation)"] = median_s(lambda s: rtl_reward(s), wrong)

    def cold(s: Sample) -> None:
        CACHE.clear()
        rtl_reward(s)

    per_candidate["whole, cold: correct (reference simulated and synthesised too)"] = median_s(cold, solutions)
    for s in solutions:
        assert rtl_reward(s).components["func_pass"] == 1.0
    for s in wrong:
        assert rtl_reward(s).score == 0.2

    rng = random.Random(0)
    batch = [rng.choice(solutions) if i % 2 == 0 else rng.choice(wrong) for i in range(args.pool_samples)]
    expected = [1.0 if s in solutions else 0.0 for s in batch]

    def check(scores) -> None:
        assert [float(x >= 1.0) for x in scores] == expected, scores

    throughput: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as cache_dir:
        for s in solutions:  # reference results computed once, shared with the workers through cache_dir
            rtl_reward(s, cache_dir=cache_dir)
        start = time.perf_counter()
        check([rtl_reward(s, cache_dir=cache_dir).score for s in batch])
        throughput["this process, one at a time"] = len(batch) / (time.perf_counter() - start)
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        bindings = {"bench": [{"name": "rtl", "weight": 1.0, "params": {"cache_dir": cache_dir}}]}
        for workers in (1, 2):
            pool = RewardPool(bindings, workers, 300.0, 0.0, actor_options({"OMP_NUM_THREADS": "1"}))
            # warm-up: imports, sandbox check, Ray's own start-up settling
            pool.score(solutions + wrong, ["bench"] * (len(solutions) + len(wrong)), chunk_size=2)
            start = time.perf_counter()
            check([s.score for s in pool.score(batch, ["bench"] * len(batch), chunk_size=2)])
            throughput[f"reward pool, {workers} worker{'s' if workers > 1 else ''}"] = len(batch) / (time.perf_counter() - start)
            pool.close()
        ray.shutdown()

    for key, value in per_candidate.items():
        print(f"{key:66s} {value * 1000:8.1f} ms")
    for key, value in throughput.items():
        print(f"{key:66s} {value:8.2f} candidates/s")
    meta = {"cores": os.cpu_count(), "tasks": len(rows), "repeats": args.repeats, "pool_samples": args.pool_samples}
    result = {"seconds_per_candidate": per_candidate, "candidates_per_second": throughput, **meta}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
