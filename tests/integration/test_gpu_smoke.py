"""The GPU smoke script's CPU dry run: the same code path (learner, reference and engine in one process,
device `cpu`), a tiny model, without Ray or vLLM imported."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

RUN = """
import runpy, sys
sys.argv = ["gpu_smoke.py", *sys.argv[1:]]
runpy.run_path("benchmarks/gpu_smoke.py", run_name="__main__")
loaded = sorted(m for m in ("ray", "vllm") if m in sys.modules)
assert not loaded, f"imported {loaded}"
"""


def test_gpu_smoke_dry_run_on_cpu(tmp_path):
    out = tmp_path / "smoke.json"
    args = ["--device", "cpu", "--shape", "tiny", "--steps", "2", "--prompts", "2", "--n", "2", "--prompt-len", "6",
            "--new-tokens", "6", "--micro-batch", "2", "--out", str(out)]  # fmt: skip
    done = subprocess.run([sys.executable, "-c", RUN, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["device"] == "cpu" and result["dtype"] == "float32" and result["steps"] == 2
    assert result["finite_loss"] and result["learner_tokens_per_s"] > 0 and result["generation_tokens_per_s"] > 0
    assert result["weight_sync_s"] > 0 and result["mfu"] is None and result["peak_memory_gib"] is None
    # the optimizer steps moved the weights, and the engine serves exactly the learner's after the sync
    assert result["weights_moved_max_abs"] > 0
    assert result["engine_vs_learner_max_abs"] == 0.0
