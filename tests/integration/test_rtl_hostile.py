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
from rewards.rtl.screen import SYSTEM_FUNCTIONS, screen
from rlpost import sandbox
from rlpost.rewards import Sample
from tests.conftest import ROOT, processes_with
from tests.rtl_tasks import ADD8, fenced, reference

CORPUS = sorted((ROOT / "tests" / "hostile_rtl").glob("*.sv"))
# the corpus' task: add8 with the macros every VerilogEval testbench defines before the designs
TASK = {**ADD8, "test": "`define OK 12\n`define INCORRECT 13\n" + ADD8["test"]}


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
    assert len(CORPUS) >= 36
    for required in ("system_call", "file_write", "dpi_import", "forged_verdict", "upward_reference", "while_forever",
                     "always_without_delay", "runaway_generate", "memory_bomb", "synthesis_bomb", "huge_output",
                     "wrong_module_name", "wrong_port_name", "wrong_port_width", "combinational_loop",
                     "ivlh_nonce_read", "testbench_macro_ifdef", "escaped_reference_name", "sibling_reference",
                     "root_scope", "resetall", "line_directive", "random_and_time", "redefine_testbench_macro",
                     "verdict_print_variants", "ends_simulation_variants", "delay_games", "macro_glued_name"):  # fmt: skip
        assert required in names
    for path in CORPUS:
        re.compile(_expectation(path))


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_hostile_design_is_contained_and_scores_zero(world, path):
    start = time.monotonic()
    result = rtl_reward(Sample("p", fenced(world.design(path)), reference(TASK)), **world.params())
    assert time.monotonic() - start < 30
    assert result.score == 0.0, result  # func_pass may be 1 where only synthesis caught it (a loop, a bomb)
    assert re.search(_expectation(path), result.info), result.info
    assert not {"area_ratio", "ppa_bonus"} & set(result.components)
    time.sleep(0.05)
    world.assert_untouched()
    good = rtl_reward(Sample("p", fenced(ADD8["solution"]), reference(TASK)), **world.params())
    assert good.score == pytest.approx(1.01) and good.info == ""
    world.assert_untouched()


def test_the_harness_holds_what_the_screen_rejects(world):
    """Every design the static screen rejects, straight through the harness: never functional, nothing outside touched."""
    params = parse_params(world.params())
    task = harness.Task.from_reference(reference(TASK))
    screened = [p for p in CORPUS if screen(world.design(p), 50_000, task.reserved)]
    assert len(screened) >= 25
    for path in screened:
        outcome = harness.check(task, world.design(path), params, tools.sandbox_config(params))
        assert outcome.verdict is None or outcome.verdict.mismatches > 0, (path.name, outcome)
        time.sleep(0.05)
        world.assert_untouched()


ALLOWED = """module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  localparam W = $clog2(512);
  wire [W-1:0] s = $unsigned($signed({1'b0, a}) + $signed({1'b0, b}));
  wire ok = $countones(a) <= 8 && ($onehot(a) || !$onehot(a)) && ($onehot0(b) || 1'b1) && $bits(a) == $size(b);
  assign sum = ok ? s : 9'd0;
endmodule
"""


def test_every_whitelisted_system_function_passes_the_screen_and_loads_alone(world):
    assert all(name in ALLOWED for name in SYSTEM_FUNCTIONS)
    result = rtl_reward(Sample("p", fenced(ALLOWED), reference(TASK)), **world.params(), ppa=False)
    assert result.score == 1.0 and result.info == "", result


READER = """module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  assign sum = a + b;
  integer fd, n, i;
  reg [8*4096:1] line;
  task dump(input [8*64:1] path);
    begin
      fd = $fopen(path, "r");
      if (fd) begin
        for (n = 0; n < 100000 && !$feof(fd); n = n + 1) if ($fgets(line, fd)) $display("READ %0s: %0s", path, line);
        $fclose(fd);
      end
    end
  endtask
  initial begin
    #1;
    dump("/proc/self/status");
    dump("sim.vvp"); dump("run.vvp"); dump("tb.sv"); dump("ref.sv"); dump("cand.sv"); dump("preprocessed.sv");
    dump("/dev/stdin"); dump("/proc/self/fd/0"); dump("/proc/self/cmdline"); dump("/proc/self/environ");
    for (i = 3; i < 12; i = i + 1) begin
      $sformat(line, "/proc/self/fd/%0d", i); dump(line);
    end
    for (i = 1; i < 12; i = i + 1) begin
      $sformat(line, "/proc/%0d/cmdline", i); dump(line);
    end
  end
endmodule
"""


def _simulate_unchecked(candidate: str, nonce: str):
    """The harness' build and simulation steps for `candidate` with no screen and no alone-load check."""
    params = parse_params({})
    config = tools.sandbox_config(params)
    task = harness.Task.from_reference(reference(TASK))
    pre = harness.preprocessed(task, params, config)
    test = pre["tb"].replace('$display("Mismatches:', f'$display("{nonce} Mismatches:')
    with sandbox.Workdir({"tb.sv": test, "ref.sv": pre["ref"], "cand.sv": candidate}, config) as wd:
        built = tools.run(wd, "iverilog", [*harness.COMPILE, "-s", "tb", "-o", "sim.vvp", "tb.sv", "ref.sv", "cand.sv"], params)
        assert built.reason == "ok", built.stderr
        return tools.run_script(wd, harness.vvp_script("sim.vvp", harness.SIM_MODULES, "-N", feed=True), params)


def test_no_file_the_simulation_can_open_holds_the_nonce():
    nonce = "c0ffee" + "5ec7e7" * 3
    ran = _simulate_unchecked(READER, nonce)
    out = ran.stdout.decode(errors="replace")
    assert "READ /proc/self/status: Name:" in out  # the reader works inside the simulation
    assert out.count(nonce) == 1 and harness.read_verdict(ran, nonce).verdict.mismatches == 0
    assert "READ sim.vvp" not in out and "READ tb.sv" not in out and "READ /dev/stdin" not in out


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('initial begin : r integer fd; $ivlh_file_open(fd, "x.txt", 1); end', r"no verdict \(.*ivlh_file_open"),
        ("initial #20 $stop;", r"no verdict \(exit code 1\)"),
        ("initial #20 $finish;", r"no verdict \(0 verdict lines\)"),
        ('initial #1 $display("Mismatches: 0 in 300 samples");', "printed a verdict line of its own"),
    ],
)
def test_what_the_checks_before_the_simulation_miss_the_simulation_holds(body, reason):
    """Screen and alone-load check bypassed: no textio, and an early end or a printed verdict never yields a verdict."""
    design = ADD8["solution"].replace("endmodule", f"  {body}\nendmodule")
    outcome = harness.read_verdict(_simulate_unchecked(design, "ab12"), "ab12")
    assert outcome.verdict is None and re.search(reason, outcome.reason), outcome.reason


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
        good = Sample("p", fenced(ADD8["solution"]), reference(TASK), "verilog")
        hostile = [Sample("p", fenced(world.design(p)), reference(TASK), "verilog") for p in CORPUS]
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
