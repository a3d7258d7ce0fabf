#!/usr/bin/env bash
# Submit an experiment to a Ray cluster with `ray job submit`:
#   launch/submit.sh CONFIG [key.path=value ...]
# Environment:
#   RAY_ADDRESS        the cluster's dashboard address (default http://127.0.0.1:8265)
#   RLPOST_RUN_ROOT    where run directories go on the cluster (default: this checkout's runs/,
#                      right for a local head; with several nodes it must be on storage every node
#                      mounts at the same path, or the run refuses to start)
#   RLPOST_JOB_PYTHON  the Python on the head that has rlpost's dependencies (default: python); the
#                      actors run in the Python each node's raylet was started with (runtime_env.yaml)
#   RLPOST_JOB_ID      a submission id to use (default: Ray picks one)
#   RLPOST_NO_WAIT=1   return after submitting instead of following the logs
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
if [ $# -lt 1 ]; then
  sed -n '2,12p' "$0" >&2
  exit 2
fi
config="$1"
shift
ray_bin="ray"
[ -x "$root/.venv/bin/ray" ] && ray_bin="$root/.venv/bin/ray"
export RAY_ADDRESS="${RAY_ADDRESS:-http://127.0.0.1:8265}"
run_root="${RLPOST_RUN_ROOT:-$root/runs}"
python_bin="${RLPOST_JOB_PYTHON:-python}"
args=(job submit --working-dir "$root" --runtime-env "$here/runtime_env.yaml")
[ -n "${RLPOST_JOB_ID:-}" ] && args+=(--submission-id "$RLPOST_JOB_ID")
[ "${RLPOST_NO_WAIT:-0}" = 1 ] && args+=(--no-wait)
cd "$root"
exec "$ray_bin" "${args[@]}" -- env RLPOST_RUN_ROOT="$run_root" "$python_bin" -m rlpost.cli train "$config" "$@"
