#!/usr/bin/env bash
# The GPU smoke run (benchmarks/gpu_smoke.py) on a machine with one CUDA GPU and no Ray, vLLM or
# DeepSpeed, and no network:
#   launch/gpu_smoke.sh prepare   here, with the network: DeepSpeed and its pure-Python dependencies
#                                 from .venv, plus pydantic / PyYAML / rich wheels for the GPU machine's Python
#                                 (RLPOST_GPU_PYTHON_VERSION, default 3.12), into .gpu_smoke/ (git-ignored;
#                                 hand it over with the checkout, e.g. the device tool's `carry`)
#   launch/gpu_smoke.sh [ARGS]    there: unpacks .gpu_smoke/wheels into .gpu_smoke/site, then runs the
#                                 smoke (ARGS go to benchmarks/gpu_smoke.py); the JSON goes to
#                                 ${OUT:-.gpu_smoke}/gpu_smoke.json
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$root/.gpu_smoke"
if [ "${1:-}" = prepare ]; then
  py="${RLPOST_PREP_PYTHON:-$root/.venv/bin/python}"  # a Python with rlpost's dependencies
  site=$("$py" -c 'import importlib.util as u, os; print(os.path.dirname(os.path.dirname(u.find_spec("deepspeed").origin)))')
  rm -rf "$cache" && mkdir -p "$cache/pure" "$cache/wheels"
  for pkg in deepspeed hjson cpuinfo einops; do cp -r "$site/$pkg" "$cache/pure/"; done
  find "$cache/pure" -name __pycache__ -prune -exec rm -rf {} +
  "$py" -m pip download -q --only-binary=:all: --python-version "${RLPOST_GPU_PYTHON_VERSION:-3.12}" \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 -d "$cache/wheels" pydantic pyyaml msgpack rich
  du -sh "$cache"
  exit 0
fi
python="${PYTHON:-python3}"
[ -d "$cache/pure" ] || { echo "error: run 'launch/gpu_smoke.sh prepare' first (on a machine with rlpost's .venv)" >&2; exit 1; }
mkdir -p "$cache/site"
"$python" - "$cache/wheels" "$cache/site" <<'PY'
import pathlib, sys, zipfile
for wheel in pathlib.Path(sys.argv[1]).glob("*.whl"):
    zipfile.ZipFile(wheel).extractall(sys.argv[2])
PY
out="${OUT:-$cache}"
mkdir -p "$out"
cd "$root"
PYTHONPATH="$root:$cache/pure:$cache/site${PYTHONPATH:+:$PYTHONPATH}" exec "$python" benchmarks/gpu_smoke.py --out "$out/gpu_smoke.json" "$@"
