"""RTL reward: which one-edit mutants of a reference each `function` mode catches, and what each mode costs.

    .venv/bin/python benchmarks/rtl_mutants.py --mutants 8 envs/data/verilog
    .venv/bin/python benchmarks/rtl_mutants.py --mutants 3 --name verilog_eval /path/to/dataset_spec-to-rtl

For every task of a VerilogEval v2 spec-to-rtl directory (`envs.verilog.read_spec_dir`):
- the reference (as TopModule) is proven against itself: how many references the formal stage
  handles (proven / bounded / unknown, with the reasons);
- up to `--mutants` one-edit mutants of it, drawn with a seeded RNG from every edit site
  (`MUTATIONS`: swap an operator, flip a bit of a sized constant, invert an `if` condition,
  swap the two operands of a non-commutative operator, move a bit index by one, swap the arms
  of a `?:` or two neighbours of a concatenation, drop or add a negation; the kinds
  take turns, so wide constants do not crowd out the rest); only mutants
  that elaborate on their own (`iverilog -t null`) are kept;
- each mutant is simulated against the testbench (rewards.rtl.harness) and proven
  (rewards.rtl.formal) once; the verdict of each mode follows rewards.rtl.reward's rules
  (`VERDICTS`, an unknown proof keeps the simulation's verdict). A mutant is caught when it
  would score below `functional`; one the proof shows equal (`proven`) is an equivalent mutant,
  counted apart and not a miss; `bounded` ones that the simulation passes too are reported as
  possibly equivalent; mutants some mode misses (or all do) are listed with their edit.
Seconds per candidate: `simulate` is the simulation's run, `formal` and `both` add the proof's
(the reward runs both for them). Writes (or updates the `--name` entry of)
benchmarks/results/rtl_mutants.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

# a token of Verilog, longest operators first
_TOKEN = re.compile(
    r"\d+\s*'[sS]?[bBoOdDhH]\s*[0-9a-fA-FxXzZ_?]+|[A-Za-z_][A-Za-z0-9_$]*|\d+"
    r"|===|!==|<<<|>>>|<<|>>|<=|>=|==|!=|&&|\|\||~&|~\||~\^|\^~|\S"
)
_SIZED = re.compile(r"(\d+)\s*'([sS]?)([bBoOdDhH])\s*([0-9a-fA-F_]+)$")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*$")
_KEYWORDS = frozenset("if else begin end case endcase always assign posedge negedge or and not default".split())
_DECLARATIONS = frozenset("input output inout wire reg logic integer genvar parameter localparam".split())
_SWAPS = {"+": "-", "-": "+", "&": "|", "|": "&", "&&": "||", "||": "&&", "==": "!=", "!=": "==", "<<": ">>", ">>": "<<"}
_COMPARE = {"<": "<=", "<=": "<", ">": ">=", ">=": ">"}
_NON_COMMUTATIVE = frozenset({"-", "<", ">", "<=", ">=", "<<", ">>"})
_BASES = {"b": 2, "o": 8, "d": 10, "h": 16}

Edit = tuple[int, int, str]  # replace source[start:end] with the text


def tokens(source: str) -> list[re.Match[str]]:
    """The tokens of `source` (comments already blanked)."""
    return list(_TOKEN.finditer(source))


def blank_comments(source: str) -> str:
    """`source` with comments replaced by spaces (offsets kept)."""
    return re.sub(r"//[^\n]*|/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group(0)), source, flags=re.S)


def _depths(toks: list[re.Match[str]]) -> list[int]:
    """Parenthesis depth at each token (a `<=` at depth 0 is an assignment, not a comparison)."""
    depth, out = 0, []
    for t in toks:
        depth -= t.group(0) == ")"
        out.append(depth)
        depth += t.group(0) == "("
    return out


def _in_body(toks: list[re.Match[str]]) -> list[bool]:
    """Whether each token lies after the module header's `);` (declarations' ranges aside, the logic)."""
    seen, out = False, []
    for i, t in enumerate(toks):
        out.append(seen)
        if t.group(0) == ";" and i and toks[i - 1].group(0) == ")":
            seen = True
        if t.group(0) == "endmodule":
            seen = False
    return out


def operator_swaps(toks: list[re.Match[str]]) -> Iterator[Edit]:
    """`+`<->`-`, `&`<->`|`, `&&`<->`||`, `==`<->`!=`, `<<`<->`>>`; `<`<->`<=`, `>`<->`>=` inside parentheses."""
    depth, body = _depths(toks), _in_body(toks)
    for i, t in enumerate(toks):
        op = t.group(0)
        unary = i == 0 or toks[i - 1].group(0) in "(=,?:{[&|^!~+-" or toks[i - 1].group(0) in _KEYWORDS
        if not body[i] or unary:
            continue
        if op in _SWAPS and not _in_range(toks, i):
            yield t.start(), t.end(), _SWAPS[op]
        elif op in _COMPARE and (depth[i] > 0 or op in "<>"):
            yield t.start(), t.end(), _COMPARE[op]


def _in_range(toks: list[re.Match[str]], i: int) -> bool:
    """Whether token i is inside `[...]` (a width or index expression: editing it mostly breaks elaboration)."""
    depth = 0
    for t in toks[:i]:
        depth += (t.group(0) == "[") - (t.group(0) == "]")
    return depth > 0


def constant_bits(toks: list[re.Match[str]]) -> Iterator[Edit]:
    """Flip one bit of a sized literal (`4'd9` -> `4'd8`), each bit a site; x/z digits are left alone."""
    for t in toks:
        m = _SIZED.match(t.group(0))
        if not m:
            continue
        width, signed, base, digits = int(m.group(1)), m.group(2), m.group(3).lower(), m.group(4).replace("_", "")
        try:
            value = int(digits, _BASES[base])
        except ValueError:
            continue
        for bit in range(min(width, 32)):
            yield t.start(), t.end(), f"{width}'{signed}d{(value ^ (1 << bit)) & ((1 << width) - 1)}"


def inverted_conditions(toks: list[re.Match[str]], source: str) -> Iterator[Edit]:
    """`if (c)` -> `if (!(c))`."""
    for i, t in enumerate(toks):
        if t.group(0) == "if" and i + 1 < len(toks) and toks[i + 1].group(0) == "(":
            close = _matching(toks, i + 1)
            if close is not None:
                inner = source[toks[i + 1].end() : toks[close].start()]
                yield toks[i + 1].start(), toks[close].end(), f"(!({inner}))"


def _matching(toks: list[re.Match[str]], i: int) -> int | None:
    """Index of the `)` closing the `(` at i."""
    depth = 0
    for j in range(i, len(toks)):
        depth += (toks[j].group(0) == "(") - (toks[j].group(0) == ")")
        if depth == 0:
            return j
    return None


def operand_swaps(toks: list[re.Match[str]]) -> Iterator[Edit]:
    """`a - b` -> `b - a` for a non-commutative operator between two plain identifiers."""
    body = _in_body(toks)
    for i in range(1, len(toks) - 1):
        left, op, right = toks[i - 1], toks[i], toks[i + 1]
        plain = all(_IDENT.match(x.group(0)) and x.group(0) not in _KEYWORDS for x in (left, right))
        after = toks[i + 2].group(0) if i + 2 < len(toks) else ""
        before = toks[i - 2].group(0) if i >= 2 else ""
        if body[i] and op.group(0) in _NON_COMMUTATIVE and plain and after not in ("[", "(") and before not in (".", "]"):
            if op.group(0) == "<=" and _depths(toks)[i] == 0:
                continue
            yield left.start(), right.end(), f"{right.group(0)} {op.group(0)} {left.group(0)}"


def _simple(tok: re.Match[str]) -> bool:
    """A plain identifier or a literal: an operand that can trade places with another."""
    text = tok.group(0)
    return (bool(_IDENT.match(text)) and text not in _KEYWORDS) or text[0].isdigit()


def _declarations(toks: list[re.Match[str]]) -> list[bool]:
    """Whether each token lies in a declaration statement (`input a, b;`, `wire x, y;`): names there are not operands."""
    current, out = False, []
    for i, t in enumerate(toks):
        if i == 0 or toks[i - 1].group(0) in (";", "begin", "end", ")"):
            current = t.group(0) in _DECLARATIONS
        out.append(current)
    return out


def arm_swaps(toks: list[re.Match[str]]) -> Iterator[Edit]:
    """`c ? x : y` -> `c ? y : x`, and `{x, y}` -> `{y, x}` for neighbours in a concatenation (x, y plain).

    Only in the logic: never in a module header's port list nor in a declaration, where the order means nothing.
    """
    body, declared = _in_body(toks), _declarations(toks)
    for i in range(len(toks) - 3):
        first, mid, second, after = toks[i + 1], toks[i + 2], toks[i + 3], toks[i + 4] if i + 4 < len(toks) else None
        pair = (toks[i].group(0), mid.group(0))
        if not body[i] or declared[i]:
            continue
        if pair in (("?", ":"), ("{", ","), (",", ",")) and _simple(first) and _simple(second):
            closes = after is not None and after.group(0) in (";", ")", "}", ",")
            if closes and (pair[0] == "?" or after.group(0) in (",", "}")) and first.group(0) != second.group(0):
                yield (
                    first.start(),
                    second.end(),
                    f"{second.group(0)}{toks[0].string[first.end() : second.start()]}{first.group(0)}",
                )


def negations(toks: list[re.Match[str]]) -> Iterator[Edit]:
    """Drop a unary `~` / `!`, or negate the identifier an assignment starts with (`= d;` -> `= ~d;`)."""
    body, depth = _in_body(toks), _depths(toks)
    for i, t in enumerate(toks[:-1]):
        prev = toks[i - 1].group(0) if i else ""
        if (
            body[i]
            and t.group(0) in ("~", "!")
            and (prev in ("(", "=", "<=", ",", "?", ":", "{", "&&", "||") or prev in _KEYWORDS)
        ):
            yield t.start(), t.end(), ""
        is_assign = t.group(0) == "=" or (t.group(0) == "<=" and depth[i] == 0)
        if body[i] and is_assign and _IDENT.match(toks[i + 1].group(0)) and toks[i + 1].group(0) not in _KEYWORDS:
            yield toks[i + 1].start(), toks[i + 1].start(), "~"


def bit_indices(toks: list[re.Match[str]]) -> Iterator[Edit]:
    """`x[3]` -> `x[2]` (`x[0]` -> `x[1]`) for a constant single-bit select in the logic."""
    body = _in_body(toks)
    for i in range(1, len(toks) - 2):
        name, bra, num, ket = toks[i - 1], toks[i], toks[i + 1], toks[i + 2]
        if body[i] and _IDENT.match(name.group(0)) and bra.group(0) == "[" and num.group(0).isdigit() and ket.group(0) == "]":
            n = int(num.group(0))
            yield num.start(), num.end(), str(n - 1 if n else 1)


MUTATIONS: dict[str, Callable[[list[re.Match[str]], str], Iterator[Edit]]] = {
    "operator": lambda toks, src: operator_swaps(toks),
    "constant": lambda toks, src: constant_bits(toks),
    "condition": inverted_conditions,
    "operands": lambda toks, src: operand_swaps(toks),
    "index": lambda toks, src: bit_indices(toks),
    "arms": lambda toks, src: arm_swaps(toks),
    "negation": lambda toks, src: negations(toks),
}


def mutants(source: str, count: int, seed: int) -> list[tuple[str, str]]:
    """Up to `count` distinct one-edit mutants of `source` as (kind, text): kinds in turn, sites in a seeded random order."""
    clean = blank_comments(source)
    toks = tokens(clean)
    rng = random.Random(seed)
    by_kind = [[(kind, edit) for edit in make(toks, clean)] for kind, make in MUTATIONS.items()]
    for group in by_kind:
        rng.shuffle(group)
    rng.shuffle(by_kind)
    # kinds in turn, so the many bit-flip sites of a wide constant do not crowd out the other edits
    sites = [site for turn in itertools.zip_longest(*by_kind) for site in turn if site]
    seen, out = set(), []
    for kind, (start, end, text) in sites:
        mutated = clean[:start] + text + clean[end:]
        if mutated != clean and mutated not in seen:
            seen.add(mutated)
            out.append((kind, mutated))
        if len(out) >= count:
            break
    return out


def edit_line(source: str, mutant: str) -> str:
    """The first line the mutant changed, as `old -> new` (stripped, short)."""
    pairs = zip(blank_comments(source).splitlines(), mutant.splitlines())
    old, new = next(((a, b) for a, b in pairs if a != b), ("", ""))
    return f"{old.strip()[:80]} -> {new.strip()[:80]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", help="a spec-to-rtl directory (<id>_prompt.txt, <id>_ref.sv, <id>_test.sv)")
    parser.add_argument("--mutants", type=int, default=8, help="compiling mutants kept per task")
    parser.add_argument("--candidates", type=int, default=3, help="mutants drawn per kept one (some do not compile)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=0, help="first N tasks only (0: all)")
    parser.add_argument("--formal-depth", type=int, default=20)
    parser.add_argument("--formal-timeout", type=float, default=10.0)
    parser.add_argument("--name", default="bundled", help="key of this run in the JSON")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "rtl_mutants.json"))
    args = parser.parse_args()

    from envs.verilog import read_spec_dir
    from rewards.rtl import formal, harness, tools
    from rewards.rtl.extract import TOP
    from rewards.rtl.params import parse_params
    from rewards.rtl.reward import VERDICTS
    from rlpost import sandbox

    params = parse_params(
        {"ppa": False, "function": "both", "formal_depth": args.formal_depth, "formal_timeout_s": args.formal_timeout}
    )
    config = tools.sandbox_config(params)
    rows = read_spec_dir(args.directory, "directory")
    rows = rows[: args.limit] if args.limit else rows
    verdicts = {"simulate": lambda simulated, proof: simulated, **VERDICTS}

    def compiles(source: str) -> bool:
        with sandbox.Workdir({"cand.sv": source}, config) as wd:
            return tools.run(wd, "iverilog", ["-g2012", "-t", "null", "-s", TOP, "cand.sv"], params).reason == "ok"

    refs: Counter[str] = Counter()
    ref_reasons: Counter[str] = Counter()
    counts = {mode: Counter() for mode in verdicts}
    kinds: Counter[str] = Counter()
    times: dict[str, list[float]] = {"simulate": [], "proof": []}
    per_task, skipped, notable = [], [], []
    started = time.time()
    for n, row in enumerate(rows):
        try:
            task = harness.Task.from_reference(row)
            harness.reference_run(task, params, config)
        except ValueError as e:
            skipped.append(f"{row['task_id']}: {str(e)[:120]}")
            continue
        own = formal.check(task.ref, row["solution"], params, config)
        refs[own.status] += 1
        if own.status == "unknown":
            ref_reasons[re.sub(r"\d+", "N", own.reason.removeprefix("formal: "))[:90]] += 1
        seed = args.seed * 1_000_003 + sum(map(ord, row["task_id"]))
        drawn = mutants(row["solution"], args.mutants * args.candidates, seed)
        kept = [(kind, m) for kind, m in drawn if compiles(m)][: args.mutants]
        outcomes = []
        for kind, mutant in kept:
            kinds[kind] += 1
            t0 = time.perf_counter()
            sim = harness.check(task, mutant, params, config)
            t1 = time.perf_counter()
            proof = formal.check(task.ref, mutant, params, config)
            t2 = time.perf_counter()
            times["simulate"].append(t1 - t0)
            times["proof"].append(t2 - t1)
            simulated = bool(sim.verdict and not sim.verdict.mismatches)
            outcomes.append(proof.status)
            caught = {}
            for mode, rule in verdicts.items():
                c = counts[mode]
                c["mutants"] += 1
                if proof.status == "proven":
                    c["equivalent"] += 1
                    continue
                if mode != "simulate" and proof.status == "unknown":
                    c["undecided"] += 1
                functional = sim.verdict is not None and (
                    rule(simulated, proof) if mode == "simulate" or proof.status != "unknown" else simulated
                )
                caught[mode] = not functional
                c["caught" if not functional else "missed"] += 1
                if functional and proof.status == "bounded" and mode != "simulate":
                    c["missed_bounded"] += 1
            if len(set(caught.values())) > 1 or caught and not any(caught.values()):
                notable.append(
                    {
                        "task": row["task_id"],
                        "kind": kind,
                        "edit": edit_line(row["solution"], mutant),
                        "caught": caught,
                        "simulation": sim.reason or (f"{sim.verdict.mismatches} mismatches" if sim.verdict else ""),
                        "proof": f"{proof.status}: {proof.reason[:100]}",
                    }
                )
        per_task.append({"task": row["task_id"], "reference": own.status, "mutants": dict(Counter(outcomes))})
        print(f"[{n + 1}/{len(rows)}] {row['task_id']}: ref {own.status}, {dict(Counter(outcomes))}", flush=True)

    def seconds(values: list[float]) -> dict[str, float]:
        return {"median": round(statistics.median(values), 4), "mean": round(statistics.fmean(values), 4)} if values else {}

    sim_t, proof_t = times["simulate"], times["proof"]
    both_t = [a + b for a, b in zip(sim_t, proof_t)]
    result = {
        "directory": Path(args.directory).name,
        "tasks": len(rows),
        "skipped_tasks": skipped,
        "mutants_per_task": args.mutants,
        "seed": args.seed,
        "formal_depth": args.formal_depth,
        "formal_timeout_s": args.formal_timeout,
        "references": dict(refs),
        "reference_unknown_reasons": dict(ref_reasons.most_common()),
        "mutant_kinds": dict(kinds),
        "modes": {mode: dict(c) for mode, c in counts.items()},
        "seconds_per_candidate": {"simulate": seconds(sim_t), "formal": seconds(both_t), "both": seconds(both_t)},
        "proof_seconds": seconds(proof_t),
        "wall_s": round(time.time() - started, 1),
        "notable_mutants": notable,
        "per_task": per_task,
    }
    out = Path(args.out)
    data = json.loads(out.read_text()) if out.exists() else {}
    data[args.name] = result
    out.write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "per_task"}, indent=2))


if __name__ == "__main__":
    main()
