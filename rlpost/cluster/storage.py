"""A multi-node run needs its run directory on storage every actor's node sees at the same path: the
learners write checkpoints there, the driver marks them complete and resumes from them, the engines
load the starting model from it. `check_shared` proves it before anything heavy starts: the driver
writes a token file, a task on every actor's node reads it and writes one back, the driver reads those.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import ray

PROBE_DIR = ".node_probe"


class SharedStorageError(RuntimeError):
    """Some node cannot see the run directory the driver writes to."""


@ray.remote(num_cpus=0)
def _probe(directory: str, token: str) -> tuple[str, bool, str]:
    """On one node: (its IP, whether the driver's token is readable, the error of writing its own, or '')."""
    ip = ray.util.get_node_ip_address()
    probe = Path(directory) / PROBE_DIR
    seen = (probe / token).is_file()
    try:
        (probe / f"{token}.{ip}").write_text(ip)
    except OSError as e:
        return ip, seen, f"{type(e).__name__}: {e}"
    return ip, seen, ""


def check_shared(run_dir: Path, strategies: list[dict], timeout_s: float) -> list[str]:
    """Run the probe once per entry of `strategies` (Ray `.options(...)` placing it on a node other than the
    driver's); returns those nodes' IPs, or raises SharedStorageError naming the ones that do not share `run_dir`
    with the driver."""
    if not strategies:
        return []
    probe = run_dir / PROBE_DIR
    probe.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex
    (probe / token).write_text("driver")
    try:
        results = ray.get([_probe.options(**opts).remote(str(run_dir), token) for opts in strategies], timeout=timeout_s)
        bad = unshared(results, lambda ip: (probe / f"{token}.{ip}").is_file())
    finally:
        for path in probe.glob(f"{token}*"):
            path.unlink()
        if not any(probe.iterdir()):
            probe.rmdir()
    if bad:
        raise SharedStorageError(
            f"the run directory {run_dir} is not shared with node(s) {', '.join(bad)}: a multi-node run needs it (run.dir "
            "or RLPOST_RUN_ROOT) on storage every node mounts at the same path (NFS, Lustre, a cloud file system), "
            "where the learners write checkpoints and the engines read the model"
        )
    return sorted({ip for ip, _, _ in results})


def unshared(results: list[tuple[str, bool, str]], driver_reads: Callable[[str], bool]) -> list[str]:
    """The nodes of `results` (IP, read the driver's file, error writing its own) whose files do not meet the
    driver's, each with why; `driver_reads(ip)`: whether the driver sees the file that node wrote."""
    bad = set()
    for ip, seen, error in results:
        if error:
            bad.add(f"{ip} (cannot write there: {error})")
        elif not seen:
            bad.add(f"{ip} (does not see the driver's file)")
        elif not driver_reads(ip):
            bad.add(f"{ip} (its file does not reach the driver)")
    return sorted(bad)
