"""Parameters of the `rtl` reward (every key of a binding's `params`), validated with errors that name the key."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    model_validator,
)

Metric = Literal["area", "cells", "delay", "power"]
Function = Literal["simulate", "formal", "both"]


class ToolLimits(BaseModel):
    """Sandbox limits of every tool run (wall-clock and CPU time come from the timeouts)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    memory_mb: PositiveInt = Field(2048, description="address space per process (MiB); yosys needs the most")
    max_procs: PositiveInt = Field(16, description="processes per run (iverilog starts its preprocessor and compiler)")
    file_size_mb: PositiveInt = Field(64, description="largest file a tool may write (MiB)")
    open_files: PositiveInt = Field(256, description="open file descriptors per process")
    output_bytes: PositiveInt = Field(1 << 20, description="stdout and stderr kept per run (bytes); more ends the run")


class RtlParams(BaseModel):
    """Stage values, the PPA bonus, the tools' settings and limits.

    Score = `fail` when the design is missing, rejected, does not elaborate, does not fit the
    testbench or its simulation ends abnormally; `compiles` when it simulates with mismatches;
    `functional` when it matches the reference on every sample, plus, when PPA is on and the
    design synthesises, `synthesizes` + `ppa_weight` * clamp(form(ratios), ppa_min, ppa_max),
    ratios being reference / candidate for each of `ppa_metrics` (above 1: the candidate is better).

    `function` picks the verdict of stage 2: `simulate` (the testbench alone), `formal` (the
    proof of rewards.rtl.formal replaces the testbench's verdict: a full proof is functional,
    a counterexample is `compiles`, a proof bounded to `formal_depth` cycles defers to the
    simulation, which runs longer) or `both` (functional only when the simulation matches and
    the proof, full or bounded, passes). In both formal modes the testbench
    still runs first (it is stage 1's fit check, and an abnormal simulation is `fail`), and an
    `unknown` proof (unsupported design, timeout, solver limit) falls back to the simulation
    verdict, with the reason in `info`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    fail: float = 0.0
    compiles: float = 0.2
    functional: float = 1.0
    synthesizes: float = Field(0.0, description="added for a functional design that synthesises (before the PPA bonus)")
    ppa: bool = True
    ppa_form: str = Field("geomean", description="how ratios combine: a key of rewards.rtl.ppa.PPA_FORMS")
    ppa_metrics: tuple[Metric, ...] = Field(("area", "delay", "power"), min_length=1)
    ppa_min: float = 0.01
    ppa_max: float = 0.6
    ppa_weight: float = 1.0
    clock_period_ns: PositiveFloat = Field(10.0, description="clock for timing and power (ns)")
    clock_port: str = Field("clk", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="input taken as the clock when present")
    liberty: str | None = Field(None, description="liberty file; default $RLPOST_LIBERTY, then <prefix>/share/rlpost/")
    verilator_lint: bool = Field(False, description="also lint the candidate with verilator (errors fail stage 1)")
    timeout_s: PositiveFloat = Field(10.0, description="wall-clock and CPU seconds per lint, compile, simulation, timing run")
    synth_timeout_s: PositiveFloat = Field(60.0, description="wall-clock and CPU seconds per synthesis")
    function: Function = Field("simulate", description="stage 2's verdict: simulate, formal or both")
    formal_depth: PositiveInt = Field(20, description="cycles from reset checked by the bounded proof of a sequential design")
    formal_induction: NonNegativeInt = Field(4, description="longest temporal induction tried for a full proof (0: none)")
    formal_timeout_s: PositiveFloat = Field(30.0, description="wall-clock and CPU seconds per yosys run of the proof")
    limits: ToolLimits = ToolLimits()
    max_code_chars: PositiveInt = 50_000
    cache_dir: str | None = Field(None, description="directory for reference results shared between processes")
    tmp_root: str | None = Field(None, description="where sandbox run directories are made")

    @model_validator(mode="after")
    def _check(self) -> RtlParams:
        from rewards.rtl.ppa import PPA_FORMS

        if self.ppa_form not in PPA_FORMS:
            raise ValueError(f"ppa_form {self.ppa_form!r} is not one of {sorted(PPA_FORMS)}")
        if self.ppa_min > self.ppa_max:
            raise ValueError(f"ppa_min ({self.ppa_min}) is above ppa_max ({self.ppa_max})")
        return self


def parse_params(params: dict[str, Any]) -> RtlParams:
    """`params` as RtlParams; a bad key or value is a ValueError naming it (e.g. `rtl: param limits.memory_mb: ...`)."""
    try:
        return RtlParams(**params)
    except ValidationError as e:
        first = e.errors()[0]
        if not first["loc"]:
            raise ValueError(f"rtl: params: {first['msg'].removeprefix('Value error, ')}") from None
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"rtl: param {where}: {first['msg']} (got {first.get('input')!r})") from None
