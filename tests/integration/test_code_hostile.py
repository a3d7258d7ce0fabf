"""The hostile corpus (tests/hostile/) against the code reward: each attack contained and scored 0 with a reason.

Run directly in this process, and as one batch on a real Ray reward pool that must keep
serving normal requests afterwards. Nothing outside the sandbox's run directories may change.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from pathlib import Path

import pytest

from rewards.code import code_reward
from rlpost.rewards import Sample
from tests.conftest import ROOT, processes_with

CORPUS = sorted((ROOT / "tests" / "hostile").glob("*.py"))
TESTS = ["assert add(1, 2) == 3", "assert add(2, 5) == 7"]
GOOD = "```python\ndef add(a, b):\n    return a + b\n```"
SECRET_ENV = "RLPOST_TEST_SECRET_TOKEN"


class World:
    """What the corpus may attack, and a snapshot of it to compare after."""

    def __init__(self, base: Path):
        self.sentinel_dir = base / "sentinel"
        self.sentinel_dir.mkdir()
        self.sentinel = self.sentinel_dir / "keep.txt"
        self.sentinel.write_text("do not touch")
        self.tmp_root = base / "sandbox-root"
        self.marker = f"rlpost-hostile-{os.getpid()}-{time.monotonic_ns()}"
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.listener.setblocking(False)
        self.before = self.snapshot()

    def fill(self, source: str) -> str:
        for key, value in {
            "__SENTINEL_DIR__": str(self.sentinel_dir),
            "__SENTINEL__": str(self.sentinel),
            "__REPO__": str(ROOT),
            "__PORT__": str(self.listener.getsockname()[1]),
            "__PARENT_PID__": str(os.getpid()),
            "__MARKER__": self.marker,
            "__SECRET_ENV__": SECRET_ENV,
        }.items():
            source = source.replace(key, value)
        return source

    def snapshot(self) -> dict[str, tuple[int, int]]:
        return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in self.sentinel_dir.rglob("*")}

    def assert_untouched(self) -> None:
        assert self.snapshot() == self.before and self.sentinel.read_text() == "do not touch"
        assert not self.tmp_root.exists() or list(self.tmp_root.iterdir()) == [], list(self.tmp_root.iterdir())
        assert not Path("/usr/lib/rlpost-pwned").exists()
        assert processes_with(self.marker) == []
        with pytest.raises(BlockingIOError):
            self.listener.accept()


def _expectation(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name}: first line must be '# expect: REGEX'"
    return first[len("# expect: ") :]


def _reference(path: Path) -> dict:
    """The tests (and setup code) the file is run against: `# tests:` / `# setup:` JSON headers, else TESTS."""
    lines = path.read_text().splitlines()[1:3]
    headers = dict(line[2:].split(": ", 1) for line in lines if line.startswith(("# tests: ", "# setup: ")))
    tests = json.loads(headers["tests"]) if "tests" in headers else TESTS
    return {"test_list": tests, "test_setup_code": json.loads(headers.get("setup", '""'))}


def _params(world: World) -> dict:
    return {"timeout_s": 1.0, "tmp_root": str(world.tmp_root), "limits": {"memory_mb": 512, "output_bytes": 64 << 10}}


@pytest.fixture
def world(tmp_path, monkeypatch):
    monkeypatch.setenv(SECRET_ENV, "hunter2")
    w = World(tmp_path)
    yield w
    w.listener.close()


def test_corpus_is_large_and_annotated():
    assert len(CORPUS) >= 20
    for path in CORPUS:
        re.compile(_expectation(path))


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_hostile_program_is_contained(world, path):
    source = world.fill(path.read_text())
    start = time.monotonic()
    result = code_reward(Sample("p", f"```python\n{source}\n```", _reference(path)), **_params(world))
    assert time.monotonic() - start < 15
    assert result.score == 0.0 and result.components["passed"] == 0.0, result
    assert result.components["total"] == 2.0
    assert re.search(_expectation(path), result.info), result.info
    time.sleep(0.1)
    world.assert_untouched()
    good = code_reward(Sample("p", GOOD, {"test_list": TESTS}), **_params(world))
    assert good.score == 1.0, good.info


@pytest.mark.slow
def test_reward_pool_survives_the_corpus_and_keeps_serving(world, tmp_path):
    import ray

    from rlpost.cli import main
    from rlpost.cluster.reward_pool import RewardPool
    from rlpost.cluster.runtime import actor_options

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False)
    bindings = {"mbpp": [{"name": "code", "weight": 1.0, "params": _params(world)}]}
    pool = RewardPool(bindings, num_workers=2, timeout_s=60, fallback=-5.0, actor_options=actor_options())
    try:
        hostile = [Sample("p", world.fill(p.read_text()), _reference(p), "mbpp") for p in CORPUS]
        normal = [Sample("p", GOOD, {"test_list": TESTS}, "mbpp")] * 4
        start = time.monotonic()
        out = pool.score(hostile + normal, ["mbpp"] * (len(hostile) + len(normal)), chunk_size=4)
        took = time.monotonic() - start
        for path, scored in zip(CORPUS, out):
            assert scored.error is None and scored.score == 0.0, (path.name, scored)
            assert re.search(_expectation(path), scored.info), (path.name, scored.info)
            assert scored.components["code/total"] == 2.0
        assert [s.score for s in out[len(hostile) :]] == [1.0] * 4
        assert pool.restarts == 0  # no worker was killed or hung
        assert took < 120, took
        after = pool.score([Sample("p", GOOD, {"test_list": TESTS}, "mbpp")] * 6, ["mbpp"] * 6)
        assert [s.score for s in after] == [1.0] * 6
    finally:
        pool.close()
    time.sleep(0.2)
    world.assert_untouched()

    # the CLI's pool mode scores the same way, one JSON line per input line
    lines = [{"response": GOOD, "test_list": TESTS}, {"response": "while True: pass", "test_list": TESTS}]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    argv = ["rewards", "test", "code", "--input", str(tmp_path / "in.jsonl"), "--workers", "2", "--param", "timeout_s=1"]
    assert main(argv) == 0
