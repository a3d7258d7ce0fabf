"""The hostile corpus (tests/hostile_rtl/) against the `rtl` reward: each design contained and scored 0 with a reason.

Scored in this process, then as one batch on a real Ray reward pool that must keep serving
normal requests afterwards. Nothing outside the sandbox's run directories may change, and no
sandboxed process may outlive its run.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from rewards.rtl import harness, rtl_reward, tools
from rewards.rtl.params import parse_params
from rlpost.rewards import Sample
from tests.conftest import ROOT, processes_with
from tests.rtl_tasks import ADD8, fenced, reference

CORPUS = sorted((ROOT / "tests" / "hostile_rtl").glob("*.sv"))
SCREENED = ("system_call", "file_write", "token_pasting", "dpi_import", "read_memory_file", "include_testbench")


class World:
    """A sentinel file the corpus tries to write, the sandbox root, and a snapshot to compare after."""

    def __init__(self, base: Path):
        self.sentinel_dir = base / "sentinel"
        self.sentinel_dir.mkdir()
        self.sentinel = self.sentinel_dir / "keep.txt"
        self.sentinel.write_text("do not touch")
        self.tmp_root = base / "sandbox-root"
        self.before = self.snapshot()

    def snapshot(self) -> dict[str, tuple[int, int]]:
        return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in self.sentinel_dir.rglob("*")}

    def design(self, path: Path) -> str:
        return path.read_text().split("\n", 1)[1].replace("__SENTINEL__", str(self.sentinel))

    def params(self) -> dict:
        limits = {"memory_mb": 1024, "output_bytes": 64 << 10}
        return {"timeout_s": 3.0, "synth_timeout_s": 5.0, "limits": limits, "tmp_root": str(self.tmp_root)}

    def assert_untouched(self) -> None:
        assert self.snapshot() == self.before and self.sentinel.read_text() == "do not touch"
        assert not self.tmp_root.exists() or list(self.tmp_root.iterdir()) == [], list(self.tmp_root.iterdir())
        assert processes_with(str(self.tmp_root)) == []


def _expectation(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("// expect: "), f"{path.name}: first line must be '// expect: REGEX'"
    return first[len("// expect: ") :]


@pytest.fixture
def world(tmp_path):
    return World(tmp_path)


def test_corpus_covers_the_known_attacks():
    names = {p.stem for p in CORPUS}
    assert len(CORPUS) >= 18
    for required in ("system_call", "file_write", "dpi_import", "forged_verdict", "upward_reference", "while_forever",
                     "always_without_delay", "runaway_generate", "memory_bomb", "synthesis_bomb", "huge_output",
                     "wrong_module_name", "wrong_port_name", "wrong_port_width", "combinational_loop"):  # fmt: skip
        assert required in names
    for path in CORPUS:
        re.compile(_expectation(path))


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_hostile_design_is_contained_and_scores_zero(world, path):
    start = time.monotonic()
    result = rtl_reward(Sample("p", fenced(world.design(path)), reference(ADD8)), **world.params())
    assert time.monotonic() - start < 30
    assert result.score == 0.0, result  # func_pass may be 1 where only synthesis caught it (a loop, a bomb)
    assert re.search(_expectation(path), result.info), result.info
    assert not {"area_ratio", "ppa_bonus"} & set(result.components)
    time.sleep(0.05)
    world.assert_untouched()
    good = rtl_reward(Sample("p", fenced(ADD8["solution"]), reference(ADD8)), **world.params())
    assert good.score == pytest.approx(1.01) and good.info == ""
    world.assert_untouched()


@pytest.mark.parametrize("name", SCREENED)
def test_the_sandbox_holds_what_the_screen_rejects(world, name):
    """The same designs straight through iverilog and vvp, with the static screen bypassed."""
    params = parse_params(world.params())
    task = harness.Task.from_reference(reference(ADD8))
    outcome = harness.check(
        task, world.design(ROOT / "tests" / "hostile_rtl" / f"{name}.sv"), params, tools.sandbox_config(params)
    )
    assert outcome.verdict is None or outcome.verdict.samples == 300  # whatever it did, only inside its run directory
    time.sleep(0.05)
    world.assert_untouched()


@pytest.mark.slow
def test_reward_pool_survives_the_corpus_and_keeps_serving(world):
    import ray

    from rlpost.cluster.reward_pool import RewardPool
    from rlpost.cluster.runtime import actor_options

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False)
    bindings = {"verilog": [{"name": "rtl", "weight": 1.0, "params": world.params()}]}
    pool = RewardPool(bindings, num_workers=2, timeout_s=120, fallback=-5.0, actor_options=actor_options())
    try:
        good = Sample("p", fenced(ADD8["solution"]), reference(ADD8), "verilog")
        hostile = [Sample("p", fenced(world.design(p)), reference(ADD8), "verilog") for p in CORPUS]
        out = pool.score(hostile + [good] * 4, ["verilog"] * (len(hostile) + 4), chunk_size=4)
        for path, scored in zip(CORPUS, out):
            assert scored.error is None and scored.score == 0.0, (path.name, scored)
            assert re.search(_expectation(path), scored.info), (path.name, scored.info)
        assert [s.score for s in out[len(hostile) :]] == [pytest.approx(1.01)] * 4
        assert pool.restarts == 0
        assert [s.score for s in pool.score([good] * 4, ["verilog"] * 4)] == [pytest.approx(1.01)] * 4
    finally:
        pool.close()
    time.sleep(0.2)
    world.assert_untouched()
