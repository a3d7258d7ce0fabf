"""Split an assert test into the parts the sandbox computes (leaves) and the verdict the reward computes.

A test must parse to one `assert EXPR` statement (its message is ignored). Names in `TRUSTED`
(pure builtins and the `math` module) mean the verifier's own objects; a name the task's setup
code binds at top level is the setup's; every other name is the program's. The expression is
walked top-down: a sub-expression with only trusted names stays with the verifier; a
transparent node (comparison, boolean / unary / binary operator, conditional, subscript,
container literal, call of a trusted function) is kept and its children walked; any other
sub-expression that mentions setup or program names becomes a leaf, a source string the
sandbox evaluates to a plain value. Trusted calls are always the verifier's, also on program
values (`sorted(f(x))`, `len(g())`): evaluated in the sandbox they would be whatever the program
made of the name (a `def sorted` of its own, a patched `builtins`). An iterator the program
returns (a `map` object, a generator) crosses as `records.Iterated`, which `list()` / `sorted()`
/ `set()` read and which, like the original, equals no list. In the verifier's copy leaf i is replaced by `__leaf__(i)`,
so short-circuiting and conditionals still skip a leaf that failed.

Refused as uncheckable (fail closed, the reason says why): a test that is not one assert, or
that does not use the program; a comprehension, lambda, generator, `:=` or comparison inside a
leaf that mentions program names (the comparison would be decided in the sandbox); a program
leaf whose callee is setup-defined (a setup helper would decide inside the sandbox, where the
program can replace it); an unbounded-cost operation of the verifier on a program value (`*`,
`**`, `<<`, `%`, `@`, and the calls in `TAINT_RULES`); an attribute starting with `_` in the
verifier's part (test data is evaluated with no builtins beyond `TRUSTED`).
"""

from __future__ import annotations

import ast
import builtins
import math
from dataclasses import dataclass
from typing import Any

TRUSTED_BUILTINS = (
    "abs", "all", "any", "bin", "bool", "chr", "complex", "dict", "divmod", "enumerate", "float", "frozenset",
    "hex", "int", "isinstance", "len", "list", "max", "min", "oct", "ord", "pow", "range", "repr", "reversed",
    "round", "set", "sorted", "str", "sum", "tuple", "type", "zip", "True", "False", "None",
    "ArithmeticError", "Exception", "IndexError", "KeyError", "TypeError", "ValueError", "ZeroDivisionError",
)  # fmt: skip
TRUSTED_MODULES = {"math": math}
TRUSTED: dict[str, Any] = {name: getattr(builtins, name) for name in TRUSTED_BUILTINS} | TRUSTED_MODULES
LEAF = "__leaf__"


@dataclass(frozen=True)
class TaintRule:
    """How a trusted function may be applied to program values: only its first `positions` positional
    arguments may hold them, and with at most `max_args` arguments in all (None: any number)."""

    positions: int
    max_args: int | None = None


UNBOUNDED = TaintRule(0)
TAINT_RULES = {
    "range": UNBOUNDED, "pow": UNBOUNDED, "math.factorial": UNBOUNDED, "math.comb": UNBOUNDED,
    "math.perm": UNBOUNDED, "math.pow": UNBOUNDED, "math.ldexp": UNBOUNDED, "round": TaintRule(1),
    "sum": TaintRule(1, 1), "math.prod": TaintRule(1, 1),
}  # fmt: skip
COSTLY_OPERATORS = (ast.Mult, ast.Pow, ast.LShift, ast.Mod, ast.MatMult)
SCOPED = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.NamedExpr)
TRANSPARENT = (
    ast.Compare, ast.BoolOp, ast.UnaryOp, ast.BinOp, ast.IfExp, ast.Subscript, ast.Slice, ast.Tuple, ast.List,
    ast.Set, ast.Dict, ast.Starred,
)  # fmt: skip


class Uncheckable(Exception):
    """The test cannot be checked without trusting the program; `args[0]` says why."""


@dataclass(frozen=True)
class Leaf:
    """A sub-expression the sandbox evaluates: `phase` "setup" (after the setup code, before the
    program runs) when it names only setup names, else "program"."""

    source: str
    phase: str


@dataclass(frozen=True)
class Check:
    """One test ready to decide: the verifier's expression (`__leaf__(i)` for leaf i) and its leaves."""

    test: str
    expression: ast.Expression
    leaves: tuple[Leaf, ...]


def setup_names(setup: str) -> frozenset[str]:
    """Names the setup code binds at module level (assignments, defs, classes, imports, loop targets)."""
    try:
        tree = ast.parse(setup)
    except SyntaxError:
        return frozenset()
    names: set[str] = set()
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif not isinstance(node, SCOPED):
            todo.extend(ast.iter_child_nodes(node))
    return frozenset(names)


def free_names(node: ast.AST) -> set[str]:
    """Names `node` reads from its enclosing scope (names bound by lambdas / comprehensions inside excluded)."""
    if isinstance(node, ast.Name):
        return {node.id} if isinstance(node.ctx, ast.Load) else set()
    if isinstance(node, ast.Lambda):
        a = node.args
        bound = {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs} | {x.arg for x in (a.vararg, a.kwarg) if x}
        return set().union(*map(free_names, a.defaults + a.kw_defaults)) | (free_names(node.body) - bound)
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        first, *rest = node.generators
        inner = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        inner += [g.iter for g in rest] + [c for g in node.generators for c in g.ifs]
        bound = {n.id for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)}
        return free_names(first.iter) | (set().union(*map(free_names, inner)) - bound)
    return set().union(set(), *map(free_names, ast.iter_child_nodes(node)))


def _dotted(node: ast.AST) -> str | None:
    """`len` or `math.isclose` for a Name / module attribute, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in TRUSTED_MODULES:
        return f"{node.value.id}.{node.attr}"
    return None


def _callee_root(node: ast.AST) -> str | None:
    """The name at the bottom of a leaf's call / attribute / subscript chain: `Solution` for `Solution().run(1)`."""
    while isinstance(node, (ast.Call, ast.Attribute, ast.Subscript)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


class _Splitter:
    """Walks one assert expression; collects leaves and returns the verifier's rewritten tree."""

    def __init__(self, trusted: frozenset[str], setup: frozenset[str]):
        self.trusted, self.setup = trusted, setup
        self.leaves: list[Leaf] = []

    def program_names(self, node: ast.AST) -> set[str]:
        return free_names(node) - self.trusted - self.setup

    def split(self, node: ast.AST) -> ast.AST:
        foreign = free_names(node) - self.trusted
        if not foreign:
            return node
        tainted = bool(foreign - self.setup)
        if isinstance(node, TRANSPARENT) and not (isinstance(node, ast.Starred) and not isinstance(node.ctx, ast.Load)):
            if tainted and isinstance(node, ast.BinOp) and isinstance(node.op, COSTLY_OPERATORS):
                raise Uncheckable(f"`{ast.unparse(node)}` applies {type(node.op).__name__} to a program value")
            return self.rebuild(node)
        if isinstance(node, ast.Call) and self.trusted_call(node, tainted):
            return self.rebuild(node, skip=("func",))
        for inner in ast.walk(node):
            if isinstance(inner, SCOPED + (ast.Compare,)) and self.program_names(inner):
                raise Uncheckable(f"`{ast.unparse(inner)}` would decide the comparison inside the program")
        root = _callee_root(node)
        if tainted and root in self.setup - self.trusted and isinstance(node, ast.Call | ast.Attribute | ast.Subscript):
            raise Uncheckable(f"`{ast.unparse(node)}` calls setup-defined `{root}`, which the program could replace")
        self.leaves.append(Leaf(ast.unparse(node), "program" if tainted else "setup"))
        call = ast.Call(ast.Name(LEAF, ast.Load()), [ast.Constant(len(self.leaves) - 1)], [])
        return ast.copy_location(call, node)

    def trusted_call(self, node: ast.Call, tainted: bool) -> bool:
        name = _dotted(node.func)
        if name is None or (name.split(".")[0] not in self.trusted) or free_names(node.func) - self.trusted:
            return False
        if tainted:
            rule = TAINT_RULES.get(name, TaintRule(len(node.args)))
            late = [a for a in node.args[rule.positions :] + [k.value for k in node.keywords] if self.program_names(a)]
            if late or (rule.max_args is not None and len(node.args) + len(node.keywords) > rule.max_args):
                raise Uncheckable(f"`{ast.unparse(node)}` would cost the verifier unbounded time on a program value")
        return True

    def rebuild(self, node: ast.AST, skip: tuple[str, ...] = ()) -> ast.AST:
        for field, value in ast.iter_fields(node):
            if field in skip or field == "ctx":
                continue
            if isinstance(value, list):
                setattr(node, field, [self.split(v) if isinstance(v, ast.expr) else v and self.rebuild(v) for v in value])
            elif isinstance(value, ast.expr):
                setattr(node, field, self.split(value))
            elif isinstance(value, ast.keyword):
                value.value = self.split(value.value)
        return node


def plan(test: str, setup: frozenset[str] = frozenset()) -> Check:
    """The check for one test string; raises Uncheckable with the reason when it cannot be split safely."""
    try:
        tree = ast.parse(test)
    except (SyntaxError, ValueError) as e:
        raise Uncheckable(f"test does not parse: {e}") from None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
        raise Uncheckable("test is not a single assert statement")
    trusted = frozenset(TRUSTED) - setup | {name for name in TRUSTED_MODULES if name in setup}
    splitter = _Splitter(trusted, setup)
    body = splitter.split(tree.body[0].test)
    for node in ast.walk(body):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise Uncheckable(f"attribute `{node.attr}` is not evaluated by the verifier")
    if not any(leaf.phase == "program" for leaf in splitter.leaves):
        raise Uncheckable("test does not use the program")
    expression = ast.fix_missing_locations(ast.Expression(body))
    return Check(test, expression, tuple(splitter.leaves))


@dataclass(frozen=True)
class LeafResult:
    """What the sandbox reported for one leaf: a decoded plain value, or why there is none."""

    value: Any = None
    error: str = ""
    timeout: bool = False


@dataclass(frozen=True)
class Outcome:
    """One test's result; `error` says briefly why it failed."""

    passed: bool
    error: str = ""
    timeout: bool = False
    uncheckable: bool = False


class _LeafFailed(Exception):
    def __init__(self, result: LeafResult):
        super().__init__(result.error)
        self.result = result


def decide(check: Check, results: list[LeafResult]) -> Outcome:
    """Evaluate the verifier's expression with `results[i]` for leaf i; passed when it is truthy."""

    def leaf(i: int) -> Any:
        if results[i].error:
            raise _LeafFailed(results[i])
        return results[i].value

    namespace = {"__builtins__": {}, **TRUSTED, LEAF: leaf}
    try:
        value = eval(compile(check.expression, "<test>", "eval"), namespace)  # noqa: S307 - trusted names only
        if bool(value):
            return Outcome(True)
    except _LeafFailed as e:
        return Outcome(False, e.result.error, e.result.timeout)
    except Exception as e:  # noqa: BLE001 - any failure of the comparison is the test's result
        return Outcome(False, f"{type(e).__name__}: {str(e)[:120]}")
    return Outcome(False, f"AssertionError: `{ast.unparse(ast.parse(check.test).body[0].test)[:100]}` is false")
