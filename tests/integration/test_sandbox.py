"""The bubblewrap sandbox, for real: limits, isolation, clean-up and a clear error without bwrap."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from rlpost import sandbox
from rlpost.sandbox import SandboxConfig, SandboxLimits, SandboxUnavailable
from tests.conftest import ROOT, processes_with


@pytest.fixture
def config(tmp_path) -> SandboxConfig:
    limits = SandboxLimits(wall_s=5, cpu_s=3, memory_mb=512, max_procs=16, file_size_mb=4, output_bytes=64 << 10)
    return SandboxConfig(limits=limits, ro_binds=sandbox.python_binds(), tmp_root=str(tmp_path / "sandbox-root"))


def _py(code: str, config: SandboxConfig, stdin: bytes = b"", args: tuple[str, ...] = (), **files) -> sandbox.SandboxResult:
    argv = [sandbox.python_executable(), "-I", "-B", "prog.py", *args]
    return sandbox.run(argv, {"prog.py": code, **files}, stdin, config)


def test_runs_a_program_with_files_and_stdin_in_a_clean_environment(config, monkeypatch):
    monkeypatch.setenv("RLPOST_TEST_SECRET", "hunter2")
    code = (
        "import os, sys\n"
        "print(sys.stdin.read().upper(), open('data.txt').read(), os.getcwd(), os.environ.get('HOME'))\n"
        "print(sorted(os.environ))\n"
        "print(os.getuid())\n"
    )
    result = _py(code, config, b"hello", **{"data.txt": "payload"})
    assert result.reason == "ok" and result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert lines[0] == "HELLO payload /tmp /tmp"
    assert "RLPOST_TEST_SECRET" not in lines[1] and "hunter2" not in result.stdout.decode()
    assert int(lines[2]) != 0  # never root inside
    assert not list(Path(config.tmp_root).iterdir())  # the run's directory is gone


@pytest.mark.parametrize(
    ("code", "reason", "detail"),
    [
        ("while True:\n    pass", "CPU time limit", ""),
        ("import time\ntime.sleep(60)", "wall-clock timeout", ""),
        ("x = bytearray(2 << 30)", "exit code 1", "MemoryError"),
        ("open('big', 'wb').write(b'x' * (8 << 20))", "exit code 1", "File too large"),
        ("import os\nos.kill(os.getpid(), 9)", "killed (SIGKILL)", ""),
    ],
)
def test_resource_limits(config, code, reason, detail):
    limits = SandboxLimits(wall_s=2, cpu_s=1, memory_mb=512, file_size_mb=4)
    start = time.monotonic()
    result = _py(code, SandboxConfig(limits=limits, ro_binds=config.ro_binds, tmp_root=config.tmp_root))
    assert result.reason == reason, (result.reason, result.stderr[-300:])
    assert detail.encode() in result.stderr
    assert time.monotonic() - start < 5


def test_process_limit_stops_a_fork_bomb(config):
    code = (
        "import os, time\n"
        "n = 0\n"
        "try:\n"
        "    while n < 200:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(5)\n"
        "            os._exit(0)\n"
        "        n += 1\n"
        "except OSError as e:\n"
        "    print('stopped after', n, type(e).__name__)\n"
    )
    result = _py(code, config)
    out = result.stdout.decode().split()
    assert out[:2] == ["stopped", "after"] and int(out[2]) < 16 and out[3] == "BlockingIOError"
    assert result.seconds < 3  # the sleeping children died with the sandbox


def test_output_is_capped_and_the_writer_killed(config):
    result = _py("import sys\nwhile True:\n    sys.stdout.write('x' * 4096)", config)
    assert result.output_truncated and result.reason == "output limit exceeded"
    assert len(result.stdout) == config.limits.output_bytes
    assert result.seconds < 3


def test_no_network(config):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    code = (
        "import socket, sys\n"
        "for addr in [('127.0.0.1', int(sys.argv[1])), ('1.1.1.1', 80)]:\n"
        "    try:\n"
        "        socket.create_connection(addr, timeout=2)\n"
        "        print('connected', addr)\n"
        "    except OSError as e:\n"
        "        print(type(e).__name__)\n"
    )
    result = _py(code, config, args=(str(port),))
    assert result.stdout.decode().split() == ["ConnectionRefusedError", "OSError"], result.stdout
    with pytest.raises(TimeoutError):
        listener.accept()
    listener.close()


def test_filesystem_is_read_only_and_private(config, tmp_path):
    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_text("keep me")
    home_file = str(Path.home() / ".bashrc")
    targets = ["/usr/pwned", "/pwned", "/etc/pwned", str(sentinel), str(ROOT / "pyproject.toml"), home_file]
    code = (
        "import os, sys\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        open(path, 'a').write('x')\n"
        "        print('wrote', path)\n"
        "    except OSError as e:\n"
        "        print(type(e).__name__)\n"
        "print(os.path.exists(sys.argv[5]), os.path.exists(sys.argv[6]))\n"
    )
    result = _py(code, config, args=tuple(targets))
    assert "wrote" not in result.stdout.decode(), result.stdout
    assert result.stdout.decode().splitlines()[-1] == "False False"
    assert sentinel.read_text() == "keep me"
    assert not Path("/usr/pwned").exists() and not Path("/pwned").exists()


def test_extra_read_only_binds(config, tmp_path):
    shared = tmp_path / "deep" / "shared"
    (shared / "inner").mkdir(parents=True)
    (shared / "inner" / "lib.txt").write_text("library")
    binds = (*config.ro_binds, str(shared), str(shared / "inner"))  # the nested one is covered by its parent
    code = (
        "import sys\n"
        "print(open(sys.argv[1] + '/inner/lib.txt').read())\n"
        "try:\n"
        "    open(sys.argv[1] + '/new.txt', 'w')\n"
        "except OSError as e:\n"
        "    print(type(e).__name__, e.errno)\n"
    )
    result = _py(code, SandboxConfig(limits=config.limits, ro_binds=binds, tmp_root=config.tmp_root), args=(str(shared),))
    assert result.stdout.decode().split() == ["library", "OSError", "30"], result.stderr  # EROFS
    assert not (shared / "new.txt").exists()


def test_background_processes_do_not_outlive_the_run(config):
    marker = f"rlpost-bg-{os.getpid()}-{time.monotonic_ns()}"
    code = (
        "import subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)', sys.argv[1]], start_new_session=True)\n"
        "print('spawned')\n"
    )
    result = _py(code, config, args=(marker,))
    assert result.stdout == b"spawned\n" and result.seconds < 3
    time.sleep(0.2)
    assert processes_with(marker) == []


def test_signals_cannot_reach_the_caller(config):
    code = (
        "import os, sys\n"
        "for pid in sys.argv[1:]:\n"
        "    try:\n"
        "        os.kill(int(pid), 9)\n"
        "        print('sent', pid)\n"
        "    except OSError as e:\n"
        "        print(type(e).__name__)\n"
        "os.kill(-1, 9)\n"
    )
    result = _py(code, config, args=(str(os.getpid()), str(os.getppid())))
    assert b"sent" not in result.stdout and result.returncode != 0
    assert _py("print('alive')", config).stdout == b"alive\n"


def test_concurrent_runs_are_independent(config):
    results: list[sandbox.SandboxResult] = []
    code = "import os, time\ntime.sleep(0.5)\nprint(os.getuid())"
    threads = [threading.Thread(target=lambda: results.append(_py(code, config))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.reason for r in results] == ["ok"] * 4
    if os.geteuid() == 0:  # root mode: each run gets a uid of its own
        assert len({r.stdout for r in results}) == 4


def test_missing_bwrap_is_a_clear_error(config, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    sandbox._tool.cache_clear()
    try:
        with pytest.raises(SandboxUnavailable, match=r"`bwrap` not found; install the bubblewrap package .*apt-get install"):
            sandbox.build_command(["true"], str(tmp_path), config, None)
    finally:
        sandbox._tool.cache_clear()


def test_a_bwrap_that_cannot_start_is_a_clear_error(config, monkeypatch, tmp_path):
    fake = tmp_path / "bin" / "bwrap"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    monkeypatch.setattr(sandbox, "_verified", set())
    sandbox._tool.cache_clear()
    try:
        with pytest.raises(SandboxUnavailable, match="cannot start here .bwrap: No permissions to create new namespace"):
            sandbox.run(["true"], config=config)
    finally:
        sandbox._tool.cache_clear()


@pytest.mark.parametrize("field", ["wall_s", "cpu_s", "memory_mb", "max_procs", "file_size_mb", "open_files", "output_bytes"])
def test_limits_must_be_positive(field):
    with pytest.raises(ValueError, match=f"sandbox limit {field} must be > 0"):
        SandboxLimits(**{field: 0})


def test_file_names_must_be_plain(config):
    with pytest.raises(ValueError, match="plain name"):
        sandbox.run(["true"], {"../escape.py": "x"}, config=config)
