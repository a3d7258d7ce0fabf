"""Every name a benchmark script imports from the project exists, and every project method a script's
subclass extends (`super().name(...)`) is still there: the scripts run only by hand, so a module moved
or a method removed in the package would otherwise break them unnoticed (as they once broke
`benchmarks/learning_parity.py` and `benchmarks/vs_trl.py`)."""

from __future__ import annotations

import ast
import importlib

import pytest

from tests.conftest import ROOT

PROJECT = ("rlpost", "rewards", "envs")
SCRIPTS = sorted((ROOT / "benchmarks").glob("*.py"))


def _project_imports(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PROJECT:
            yield node.module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            yield from ((alias.name, []) for alias in node.names if alias.name.split(".")[0] in PROJECT)


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_the_project_names_a_benchmark_imports_exist(script):
    missing = []
    for module, names in _project_imports(script):
        mod = importlib.import_module(module)
        for name in names:
            if not hasattr(mod, name):
                try:
                    importlib.import_module(f"{module}.{name}")
                except ModuleNotFoundError:
                    missing.append(f"{module}.{name}")
    assert not missing, f"{script.name} imports names that do not exist: {missing}"


def _project_classes(path) -> dict[str, type]:
    """Classes the script imports from the project, by the name it uses."""
    found = {}
    for module, names in _project_imports(path):
        mod = importlib.import_module(module)
        found.update({name: getattr(mod, name) for name in names if isinstance(getattr(mod, name, None), type)})
    return found


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_the_project_methods_a_benchmark_subclass_extends_exist(script):
    classes = _project_classes(script)
    missing = []
    for node in ast.walk(ast.parse(script.read_text())):
        bases = [classes[b.id] for b in getattr(node, "bases", []) if isinstance(b, ast.Name) and b.id in classes]
        if not isinstance(node, ast.ClassDef) or not bases:
            continue
        for call in ast.walk(node):
            if (
                isinstance(call, ast.Attribute)
                and isinstance(call.value, ast.Call)
                and isinstance(call.value.func, ast.Name)
                and call.value.func.id == "super"
                and not any(hasattr(base, call.attr) for base in bases)
            ):
                missing.append(f"{node.name}: super().{call.attr}")
    assert not missing, f"{script.name} extends methods its project base classes do not have: {missing}"
