"""Weight sync learner -> engine on CPU, both channels side by side on the same actors: the object store
(a packed copy put by the learner, read in place by the engine) and the collective path (policy rank 0
broadcasts buckets over gloo to the engine, `cluster.weight_sync: collective`).

    .venv/bin/python benchmarks/weight_sync.py --models tiny 50m 200m --pushes 4

Per model: one vLLM engine and one DeepSpeed learner (ZeRO-0, float32) started by the real launcher
with the collective group available; then pushes alternate between the two channels, timed at the
driver (the whole `push()`: gather, transport, the engine's in-place reload). The first push of each
channel (group formation, first object-store put) is reported apart. After the last push of each
channel the engine's logprobs of a fixed batch are checked against the learner's. Writes
benchmarks/results/weight_sync.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODELS = {
    "tiny": {},
    "50m": {"hidden_size": 512, "num_layers": 12, "num_heads": 8, "num_kv_heads": 4, "intermediate_size": 2048},
    "200m": {"hidden_size": 1024, "num_layers": 12, "num_heads": 16, "num_kv_heads": 4, "intermediate_size": 4096},
}


def experiment(run_dir: Path, shape: dict, bucket_mib: float) -> dict:
    from tests.conftest import TINY_EXPERIMENT

    data = copy.deepcopy(TINY_EXPERIMENT)
    data["run"]["dir"] = str(run_dir)
    data["model"]["tiny"] = shape
    data["algorithm"]["kl_coef"] = 0.0
    data["learner"].update(zero_stage=0, threads=2)
    data["rollout"]["threads"] = 2
    data["cluster"] = {"weight_sync": "collective", "sync_bucket_mib": bucket_mib}
    return data


def engine_matches_learner(trainer) -> float:
    """Largest |engine − learner| logprob over one rollout batch generated after the push."""
    from rlpost.data import PromptSampler

    sampler = PromptSampler(trainer.stages[0], seed=1)
    algo = trainer.begin_stage(0)
    batch = trainer.runner.produce_with_retries(sampler, algo, 1).batch
    learner = trainer.cluster.learners.old_logprobs(batch)
    mask = batch.response_mask.bool()
    return float((batch.rollout_logprobs - learner)[mask].abs().max())


def bench(name: str, pushes: int, bucket_mib: float) -> dict:
    import torch

    from rlpost.cluster.channel import CHANNELS
    from rlpost.config import build_config
    from rlpost.trainer import Trainer

    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(build_config(experiment(Path(tmp) / "run", MODELS[name], bucket_mib)))
        trainer.setup()
        try:
            cluster, cfg = trainer.cluster, trainer.cfg
            params = sum({t.data_ptr(): t.numel() for t in _state(trainer).values()}.values())  # tied: once
            channels = {
                "object_store": CHANNELS["object_store"](cluster.learners, cluster.engines, cfg.cluster, 1),
                "collective": cluster.weights,
            }
            times: dict[str, list[float]] = {k: [] for k in channels}
            check: dict[str, float] = {}
            for i in range(pushes + 1):
                for way, channel in channels.items():
                    start = time.perf_counter()
                    channel.push()
                    times[way].append(time.perf_counter() - start)
                    if i == pushes:
                        check[way] = engine_matches_learner(trainer)
            out = {"params": params, "bytes": params * torch.finfo(torch.float32).bits // 8, "bucket_mib": bucket_mib}
            for way, t in times.items():
                out[way] = {"first_s": round(t[0], 4), "median_s": round(statistics.median(t[1:]), 4),
                            "runs_s": [round(x, 4) for x in t[1:]], "max_logprob_diff": check[way]}  # fmt: skip
            return out
        finally:
            trainer.shutdown()


def _state(trainer) -> dict:
    import ray

    from rlpost.cluster.weights import unpack

    return unpack(ray.get(trainer.cluster.learners.weights_ref()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["tiny", "50m", "200m"], choices=sorted(MODELS))
    parser.add_argument("--pushes", type=int, default=4)
    parser.add_argument("--bucket-mib", type=float, default=256.0)
    args = parser.parse_args()
    results = {name: bench(name, args.pushes, args.bucket_mib) for name in args.models}
    out = ROOT / "benchmarks" / "results" / "weight_sync.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    for name, r in results.items():
        print(f"{name}: {r['params'] / 1e6:.1f}M params; object store {r['object_store']['median_s']:.3f}s, "
              f"collective (gloo) {r['collective']['median_s']:.3f}s per push")  # fmt: skip


if __name__ == "__main__":
    main()
