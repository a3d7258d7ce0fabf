"""Every name a benchmark script imports from the project exists: the scripts run only by hand, so a
module moved or renamed in the package would otherwise break them unnoticed (as it once broke
`benchmarks/learning_parity.py`)."""

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
