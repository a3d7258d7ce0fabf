"""configs/rtl_chipseek.yaml for two steps on the real stack (tiny settings, as tests/integration/test_reward_envs.py).

The untrained tiny model writes no module, so every sample scores (almost surely) the reward's
`fail` value; what is checked is that the path works end to end: the `verilog` environment's
rows, the warm-up on their reference solutions, the `rtl` reward on the Ray reward workers
(no errors) and its components in the metrics and samples.
"""

from __future__ import annotations

import math

import pytest

from tests.integration.test_reward_envs import _run

pytestmark = pytest.mark.slow


def test_grpo_rtl_runs_with_the_staged_rtl_reward(tmp_path):
    metrics, samples = _run("configs/rtl_chipseek.yaml", tmp_path, [])
    for m in metrics:
        for key in ("reward/rtl", "reward/rtl/syntax_ok", "reward/rtl/func_pass"):
            assert math.isfinite(m[key]), key
        assert 0.0 <= m["reward/rtl"] <= 1.6 and 0.0 <= m["reward/rtl/func_pass"] <= 1.0
    for s in samples:
        assert {"rtl", "rtl/syntax_ok", "rtl/func_pass"} <= set(s["components"]), s
