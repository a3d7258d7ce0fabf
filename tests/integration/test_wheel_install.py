"""A wheel install (`pip install .`, not editable) carries the bundled data: the Verilog tasks and
the jsonl datasets load from a fresh virtual environment outside the checkout."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def test_wheel_install_loads_the_bundled_tasks(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(ROOT)],
        check=True, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    (wheel,) = wheels.glob("rlpost-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "envs/data/verilog/Prob001_mux4_ref.sv" in names and "envs/data/gsm8k_bundled.jsonl" in names
    # a fresh venv whose only way to the dependencies is a .pth file (no editable finder for rlpost)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], check=True, capture_output=True,
        text=True,
    ).stdout.strip()  # fmt: skip
    with open(f"{site}/deps.pth", "w") as f:
        f.write(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
        check=True, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    probe = (
        "import envs, rlpost; from rlpost.envs import get_env, load_builtins; load_builtins();"
        "rows = get_env('verilog').load('train', {}); gsm = get_env('gsm8k').load('test', {});"
        "print(envs.__file__); print(len(rows), len(gsm))"
    )
    out = subprocess.run([str(python), "-c", probe], cwd=tmp_path, check=True, capture_output=True, text=True, timeout=300)
    where, counts = out.stdout.strip().splitlines()[-2:]
    assert where.startswith(site) and not where.startswith(str(ROOT))
    train, test = map(int, counts.split())
    assert train == 12 and test > 0
