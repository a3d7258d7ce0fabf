"""Formal equivalence of a candidate `TopModule` with the task's `RefModule`, by yosys's SAT solver.

Sandboxed yosys runs in one work dir (files `gold.sv` = the reference, `gate.sv` = the
candidate), each within `formal_timeout_s`:

1. prepare: each design is read and elaborated *alone* (`proc; flatten`, unused modules
   dropped, formal cells removed with `chformal -remove`) and renamed (`rlpost_gold`,
   `rlpost_gate`), so helper modules of the same name never meet; then
   `miter -equiv -flatten -make_assert -make_outputs -ignore_gold_x` joins them, `memory`
   maps memories to flip-flops, `async2sync` turns asynchronous resets into synchronous
   emulations, `dffunmap` leaves plain `$dff` cells, `opt -keepdc` keeps every x, and
   `check -assert` rejects loops and conflicting drivers. The miter goes to `miter.json`.
2. prove: combinational miters (no `$dff`): `sat -prove-asserts`, an unbounded proof over
   all inputs. Sequential miters (every flip-flop on one clock input and edge): a bounded
   proof from reset, `sat -seq formal_depth` with all registers x at the start
   (`-set-init-undef`, `initial` values kept), defined inputs, resets (ports named like
   `rst`, `reset`, `areset`, `rst_n`, ...; active low with an `n`/`_b`/`_l` suffix or an
   `n` prefix) asserted in the first cycle and free afterwards.
3. induct (sequential, bounded-proven, `formal_induction` > 0): `sat -tempinduct` up to
   `formal_induction` steps; when it closes, `bounded` becomes `proven`. Its failure or
   timeout leaves `bounded`.

Outcomes: `proven`, `bounded` (no difference in `depth` cycles from reset), `counterexample`
(in `reason`: the cycle and the first differing output, the inputs of the last 8 cycles up
to it) or `unknown` (why:
a latch, several clocks or clock edges, a derived clock, an unsupported cell, a yosys error,
a timeout or a solver limit). Only `proven` and `bounded` are passes.

Threat model (the candidate is untrusted; the screen has run first): it cannot
- pass by emitting x or z: `-enable_undef` models x, only the *gold* side's x bits are ignored,
  a gate x against a defined gold bit is a difference (the x-candidate test);
- weaken the proof with its own `assume`/`assert`/`cover`: `chformal -remove` drops them on
  each side before the miter exists, and `-set-assumes` is never passed;
- clash names with the reference: each side is elaborated and flattened on its own;
- hide state or freedom from the check: an `initial` value is the register's start value, as
  in simulation; any cell that is not a known combinational cell, a plain `$dff` or the
  miter's one `$assert` (latches, `$ff`, black boxes, free `$anyseq` values) makes the
  outcome `unknown`;
- make the proof vacuous: a combinational loop can be a constraint without any solution
  (`w = (w === 1'bx) ? 0 : ~w`), which would make every property hold; `check -assert` on the
  miter rejects loops and conflicting drivers first (`unknown`);
- clock itself differently (another edge, another signal, a gated clock): every flip-flop
  must share one clock input and edge, else `unknown`;
- forge the verdict: yosys's own result line is matched as a whole line (identifiers cannot
  hold spaces), exactly one must be present, and a timeout or limit is `unknown`.
`unknown` never passes: rewards.rtl.reward decides what it scores. The proof judges the
design as yosys synthesises it: `#` delays are ignored and an incomplete sensitivity list
means what synthesis makes of it, so a simulation/synthesis mismatch is judged by the
synthesised meaning (the reward's `function: both` also requires the simulation).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

from rewards.rtl import tools
from rewards.rtl.extract import TOP
from rewards.rtl.harness import REF
from rewards.rtl.params import RtlParams
from rlpost import sandbox

GOLD, GATE, MITER = "rlpost_gold", "rlpost_gate", "rlpost_miter"
Status = Literal["proven", "bounded", "counterexample", "unknown"]
PASSES: frozenset[Status] = frozenset({"proven", "bounded"})
# the `equiv` component per status: unknown is neither a pass nor a counterexample
EQUIV: dict[Status, float] = {"proven": 1.0, "bounded": 1.0, "counterexample": 0.0, "unknown": 0.5}

_RESET = re.compile(r"(?P<pre>[a-z0-9]+_|[a-z]?)(?:rst|reset)(?P<suf>_?n|_b|_l|_ni|_i|_in)?")
_ACTIVE_LOW_SUFFIXES = ("n", "_n", "_b", "_l", "_ni")
_COMBINATIONAL = frozenset(
    "$not $pos $neg $and $or $xor $xnor $reduce_and $reduce_or $reduce_xor $reduce_xnor $reduce_bool "
    "$logic_not $logic_and $logic_or $shl $shr $sshl $sshr $shift $shiftx $lt $le $eq $ne $eqx $nex $ge $gt "
    "$add $sub $mul $div $mod $divfloor $modfloor $mux $pmux $bmux $demux $lut $sop".split()
)
_GATE_CELL = re.compile(r"\$_(?:BUF|NOT|AND|NAND|OR|NOR|XOR|XNOR|ANDNOT|ORNOT|MUX|NMUX|AOI3|OAI3|AOI4|OAI4)_")
_LATCH = re.compile(r"latch|\$_?sr\b|\$_SR_", re.IGNORECASE)
_SUCCESS = re.compile(r"^SAT (?:proof|temporal induction proof) finished - no model found: SUCCESS!$", re.M)
_FAIL = re.compile(r"^SAT (?:proof|temporal induction proof) finished - model found: FAIL!$", re.M)
_INDUCTION_OK = re.compile(r"^Induction step proven: SUCCESS!$", re.M)
_INDUCTION_FAILED = re.compile(r"^Reached maximum number of time steps -> proof failed\.$", re.M)
_TIMEOUT = re.compile(r"^Interrupted SAT solver: TIMEOUT!$", re.M)
_CHECK_FAILED = re.compile(r"^ERROR: Found \d+ problems in 'check -assert'\.$", re.M)
_ROW = re.compile(r"^\s*(\d*)\s*\\(\S+)\s+\S+\s+\S+\s+([01xz]+)\s*$", re.M)


@dataclass(frozen=True)
class FormalOutcome:
    """The verdict: `status`, the cycles checked (`depth`, 0 for a combinational proof) and `reason` (cex or why unknown)."""

    status: Status
    depth: int = 0
    reason: str = ""

    @property
    def passed(self) -> bool:
        """Proven, or bounded-proven to `depth` cycles."""
        return self.status in PASSES


@dataclass(frozen=True)
class Shape:
    """What `prove` needs from the miter: its clock input (None: combinational) and reset inputs (name: active value)."""

    clock: str | None
    resets: dict[str, int]


def prepare_script() -> str:
    """yosys commands: gold.sv + gate.sv -> the miter `rlpost_miter` in miter.json."""
    side = (
        "read_verilog -sv {file}\nhierarchy -check -top {top}\nproc\nflatten\nhierarchy -top {top}\n"
        "chformal -remove\nrename {top} {name}\n"
    )
    return (
        side.format(file="gold.sv", top=REF, name=GOLD)
        + f"design -stash gold\n{side.format(file='gate.sv', top=TOP, name=GATE)}"
        + f"design -copy-from gold -as {GOLD} {GOLD}\n"
        + f"miter -equiv -flatten -make_assert -make_outputs -ignore_gold_x {GOLD} {GATE} {MITER}\n"
        + f"hierarchy -top {MITER}\nmemory\nasync2sync\ndffunmap\nopt -keepdc -nodffe -nosdff\ncheck -assert\n"
        + "write_json miter.json\n"
    )


def shape(miter: dict) -> Shape | str:
    """The miter's clock and resets from yosys's JSON netlist, or why it cannot be proven here."""
    module = miter["modules"][MITER]
    ports = module["ports"]
    bit_port = {tuple(p["bits"]): name for name, p in ports.items() if p["direction"] == "input"}
    clocks = set()
    kinds = [cell["type"] for cell in module["cells"].values()]
    if kinds.count("$assert") != 1:
        return f"{kinds.count('$assert')} assertions in the miter, not its own one"
    for cell in module["cells"].values():
        kind = cell["type"]
        if kind == "$assert":
            continue
        if kind == "$dff":
            clocks.add((tuple(cell["connections"]["CLK"]), int(str(cell["parameters"]["CLK_POLARITY"]), 2)))
        elif _LATCH.search(kind):
            return f"latch ({kind})"
        elif kind == "$ff":
            return "a latch or a global-clock flip-flop ($ff)"
        elif kind not in _COMBINATIONAL and not _GATE_CELL.fullmatch(kind):
            return f"unsupported cell {kind}"
    if len(clocks) > 1:
        return "flip-flops on several clocks or clock edges"
    clock = None
    if clocks:
        bits, _ = next(iter(clocks))
        clock = bit_port.get(bits)
        if clock is None:
            return "flip-flops on a derived clock"
    resets = {}
    for name, port in ports.items():
        match = _RESET.fullmatch(name.removeprefix("in_").lower())
        if port["direction"] == "input" and name.startswith("in_") and len(port["bits"]) == 1 and match:
            low = match.group("pre") == "n" or match.group("suf") in _ACTIVE_LOW_SUFFIXES
            resets[name] = 0 if low else 1
    return Shape(clock, resets if clock else {})


def prove_script(found: Shape, depth: int, timeout_s: int) -> str:
    """yosys commands proving the miter in miter.json (bounded to `depth` cycles when sequential); the log in bmc.txt."""
    common = f"-prove-asserts -set-def-inputs -enable_undef -timeout {timeout_s}"
    if found.clock is None:
        return f"read_json miter.json\ntee -q -o bmc.txt sat {common} -show-ports {MITER}\n"
    resets = "".join(f" -set-at 1 {name} {value}" for name, value in found.resets.items())
    return f"read_json miter.json\ntee -q -o bmc.txt sat -seq {depth} {common} -set-init-undef{resets} -show-ports {MITER}\n"


def induction_script(found: Shape, steps: int, timeout_s: int) -> str:
    """yosys commands for a temporal induction of the sequential miter up to `steps` steps; the log in ind.txt."""
    resets = "".join(f" -set-at 1 {name} {value}" for name, value in found.resets.items())
    return (
        f"read_json miter.json\ntee -q -o ind.txt sat -tempinduct -maxsteps {steps} -prove-asserts -set-def-inputs "
        f"-enable_undef -timeout {timeout_s} -set-init-undef{resets} {MITER}\n"
    )


def counterexample(log: str) -> str:
    """The first cycle whose `trigger` is 1, the first output differing there, and the inputs of the 8 cycles up to it."""
    steps: dict[int, dict[str, str]] = {}
    for step, name, bits in _ROW.findall(log):
        steps.setdefault(int(step or 1), {})[name] = bits
    bad = next((s for s in sorted(steps) if steps[s].get("trigger") == "1"), None)
    if bad is None:
        return "counterexample (no trace)"
    cycles = [
        f"{s}: " + " ".join(f"{n[3:]}={v}" for n, v in sorted(steps[s].items()) if n.startswith("in_"))
        for s in sorted(steps)
        if s <= bad
    ]
    row = steps[bad]
    diff = next(
        (
            f"{n[5:]}: ref {v} vs {row.get('gate_' + n[5:], '?')}"
            for n, v in sorted(row.items())
            if n.startswith("gold_") and not _matches(v, row.get("gate_" + n[5:], ""))
        ),
        "an output",
    )
    return f"cycle {bad}: {diff}; inputs " + "; ".join(cycles[-8:])


def _matches(gold: str, gate: str) -> bool:
    """Gold bits equal gate bits, a gold x matching anything."""
    return len(gold) == len(gate) and all(g in "xz" or g == c for g, c in zip(gold, gate))


def check(ref: str, candidate: str, params: RtlParams, config: sandbox.SandboxConfig) -> FormalOutcome:
    """Equivalence of `candidate` (declaring TopModule) with `ref` (declaring RefModule), bounded at `formal_depth`."""
    seconds = params.formal_timeout_s
    files = {"gold.sv": ref, "gate.sv": candidate, "prepare.ys": prepare_script()}
    with sandbox.Workdir(files, config) as wd:
        prep = tools.run(wd, "yosys", ["-q", "-s", "prepare.ys"], params, seconds)
        if prep.reason != "ok":
            log = (prep.stdout + prep.stderr).decode(errors="replace")
            if _CHECK_FAILED.search(log):
                return FormalOutcome(
                    "unknown", reason="formal: yosys `check` fails (a combinational loop or conflicting drivers)"
                )
            return FormalOutcome("unknown", reason=f"formal: prepare: {tools.failure(prep)}")
        netlist = wd.read("miter.json", 64 << 20)
        try:
            found = shape(json.loads(netlist or b""))
        except (ValueError, KeyError) as e:
            return FormalOutcome("unknown", reason=f"formal: unreadable miter ({e})")
        if isinstance(found, str):
            return FormalOutcome("unknown", reason=f"formal: {found}")
        depth = params.formal_depth if found.clock else 0
        solver_s = max(1, round(seconds) - 1)
        proof = _yosys(wd, prove_script(found, depth, solver_s), params)
        outcome = verdict((wd.read("bmc.txt", 16 << 20) or b"").decode(errors="replace"), proof, depth)
        steps = min(depth, params.formal_induction)
        if outcome.status != "bounded" or not steps:
            return outcome
        run = _yosys(wd, induction_script(found, steps, solver_s), params)
        if run.reason == "ok" and induction_closed((wd.read("ind.txt", 16 << 20) or b"").decode(errors="replace")):
            return FormalOutcome("proven", depth, "by temporal induction")
    return outcome


def _yosys(wd: sandbox.Workdir, script: str, params: RtlParams) -> sandbox.SandboxResult:
    """One sandboxed yosys run of `script` (commands on the command line) within formal_timeout_s."""
    return tools.run(wd, "yosys", ["-q", "-p", "; ".join(script.splitlines())], params, params.formal_timeout_s)


def induction_closed(log: str) -> bool:
    """Whether the temporal induction in `log` proved the property for every step (not just its base cases)."""
    return len(_INDUCTION_OK.findall(log)) == 1 and not (
        _FAIL.search(log) or _INDUCTION_FAILED.search(log) or _TIMEOUT.search(log)
    )


def verdict(bmc: str, proof: sandbox.SandboxResult, depth: int) -> FormalOutcome:
    """The outcome of the bounded (or combinational) proof from its log `bmc` and its yosys run; a pass needs a clean exit."""
    success, fail = len(_SUCCESS.findall(bmc)), len(_FAIL.findall(bmc))
    if fail == 1 and not success:
        return FormalOutcome("counterexample", depth, counterexample(bmc))
    if proof.reason != "ok" or success != 1 or fail or _TIMEOUT.search(bmc):
        why = (
            tools.failure(proof) if proof.reason != "ok" else "solver timeout" if _TIMEOUT.search(bmc) else "no verdict from sat"
        )
        return FormalOutcome("unknown", depth, f"formal: {why}")
    if depth == 0:
        return FormalOutcome("proven")
    return FormalOutcome("bounded", depth, f"no difference in {depth} cycles from reset")
