"""The `rtl` reward: a Verilog design scored in stages by real EDA tools (ChipSeek-R1's hierarchical reward).

Reference fields: `ref` (the reference design, module `RefModule`), `test` (a VerilogEval v2
spec-to-rtl testbench, `module tb`, printing one `Mismatches: N in M samples` line) and
optionally `task_id` (for messages). The response's Verilog (rewards.rtl.extract) must declare
`TopModule` with the reference's ports. Stages, each gating the next (values are params, see
rewards.rtl.params; defaults of the public ChipSeek re-implementation):

0. static screen (rewards.rtl.screen): a whitelist over the design's tokens (synthesisable RTL
   only, no names of the task's testbench or reference) -> `fail` (0) with the reason;
1. syntax: elaborates on its own and fits the testbench (rewards.rtl.harness) -> else `fail`;
2. function: simulated against the reference; an abnormal end (timeout, a limit, no verdict,
   a wrong sample count) -> `fail`; mismatches -> `compiles` (0.2); none -> `functional` (1.0).
   With `function: formal` the equivalence proof of rewards.rtl.formal (yosys SAT: unbounded
   for combinational designs, bounded to `formal_depth` cycles from reset for sequential ones)
   replaces the mismatch count: a full proof -> `functional`, a counterexample -> `compiles`,
   a bounded proof -> the simulation's verdict (it says nothing past `formal_depth` cycles, so
   a design that goes wrong later is still caught by the longer testbench); with
   `function: both` functional needs both. An `unknown` proof keeps the simulation verdict;
3. PPA (rewards.rtl.ppa), only for functional designs: + `synthesizes` + the clamped bonus
   from reference / candidate ratios of area, delay and power (default clamp(geomean - 1,
   0.01, 0.6)). A combinational loop or a synthesis that hits a limit -> `fail`; a design that
   synthesises to nothing, or that yosys / OpenSTA cannot measure -> `functional` with no bonus.

Components: syntax_ok, func_pass (always); mismatches, samples (when simulated to a verdict);
equiv (with a formal `function`: 1 proven or bounded-proven, 0 counterexample, 0.5 unknown;
`info` says which, the depth, the counterexample's inputs per cycle or why unknown) and
equiv_depth (cycles checked, 0 for an unbounded combinational proof);
area, cells, delay, power, then <metric>_ratio for each of ppa_metrics, ppa_score and ppa_bonus (when
measured and compared). `info` says why a design scored below the top of its stage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

from rewards.rtl import formal, harness, ppa, tools
from rewards.rtl.extract import TOP, extract_verilog
from rewards.rtl.params import RtlParams, parse_params
from rewards.rtl.screen import screen
from rlpost import sandbox
from rlpost.rewards import RewardResult, Sample, register_reward

# function param -> (simulation matched, proof) -> functional; an unknown proof never reaches these. A bounded
# proof says nothing past formal_depth cycles, so in `formal` mode it still needs the (longer) simulation.
VERDICTS: dict[str, Callable[[bool, formal.FormalOutcome], bool]] = {
    "formal": lambda simulated, proof: proof.status == "proven" or (proof.passed and simulated),
    "both": lambda simulated, proof: simulated and proof.passed,
}


@register_reward("rtl")
def rtl_reward(sample: Sample, **params) -> RewardResult:
    """Verilog scored in stages with iverilog, yosys and OpenSTA in the sandbox: syntax, function, then PPA vs the reference."""
    p = parse_params(params)
    task = harness.Task.from_reference(sample.reference)
    config = tools.sandbox_config(p)
    code = extract_verilog(sample.response)
    rejected = screen(code, p.max_code_chars, task.reserved)
    if rejected:
        return RewardResult(p.fail, {"syntax_ok": 0.0, "func_pass": 0.0}, rejected)
    sim = harness.check(task, code, p, config)
    components = {"syntax_ok": float(sim.syntax_ok), "func_pass": float(bool(sim.verdict and not sim.verdict.mismatches))}
    if sim.verdict is None:
        return RewardResult(p.fail, components, sim.reason)
    components |= {"mismatches": float(sim.verdict.mismatches), "samples": float(sim.verdict.samples)}
    simulated = not sim.verdict.mismatches
    why = "" if simulated else f"function: {sim.verdict.mismatches} mismatches in {sim.verdict.samples} samples"
    functional, note = simulated, ""
    if p.function in VERDICTS:
        proof = formal.check(task.ref, code, p, config)
        components |= {"equiv": formal.EQUIV[proof.status], "equiv_depth": float(proof.depth)}
        note = _proof_note(proof)
        if proof.status != "unknown":
            functional = VERDICTS[p.function](simulated, proof)
        components["func_pass"] = float(functional)
    if not functional:
        return RewardResult(p.compiles, components, "; ".join(filter(None, [why, note])))
    result = _ppa_stage(task, code, p, config, components) if p.ppa else RewardResult(p.functional, components)
    return RewardResult(result.score, result.components, "; ".join(filter(None, [note, result.info])))


def _proof_note(proof: formal.FormalOutcome) -> str:
    """The proof's verdict for `info`: what was proven and how deep, the counterexample, or why unknown."""
    if proof.status == "proven":
        return "formal: proven" + (f" ({proof.reason})" if proof.reason else "")
    if proof.status == "bounded":
        return f"formal: bounded-proven ({proof.reason})"
    if proof.status == "counterexample":
        return f"formal: counterexample at {proof.reason}"
    return f"formal: unknown ({proof.reason.removeprefix('formal: ')}), simulation verdict kept"


def _ppa_stage(
    task: harness.Task, code: str, p: RtlParams, config: sandbox.SandboxConfig, components: dict[str, float]
) -> RewardResult:
    """Stage 3 for a functional design: its PPA against the reference's (cached per task)."""
    reference = ppa.reference_ppa(task.ref, harness.REF, p, config)
    candidate = ppa.measure(code, TOP, p, config)
    if candidate.ppa is None:
        return RewardResult(p.fail if candidate.fatal else p.functional, components, candidate.reason)
    components |= {name: float(value) for name, value in asdict(candidate.ppa).items()}
    if reference.ppa is None:
        return RewardResult(p.functional + p.synthesizes, components, f"reference {reference.reason}")
    gone = ppa.vanished(reference.ppa, candidate.ppa, ("cells", *p.ppa_metrics))
    if gone:
        return RewardResult(
            p.functional, components, f"synthesised to nothing ({', '.join(gone)} 0, the reference's not): no PPA bonus"
        )
    ratios = ppa.ratios(reference.ppa, candidate.ppa, p.ppa_metrics)
    bonus = ppa.bonus(ratios, p)
    components |= {f"{name}_ratio": value for name, value in ratios.items()}
    components |= {"ppa_score": ppa.ppa_score(ratios, p), "ppa_bonus": bonus}
    return RewardResult(p.functional + p.synthesizes + bonus, components)
