"""Run an untrusted command under bubblewrap with resource limits (shared by the code and RTL rewards).

Each `run` gets a fresh host directory, bound writable at `/tmp` (also the working directory and
`$HOME`); everything else is read-only or absent. A `Workdir` keeps one such directory for
several commands in turn (a compile, then a simulation of its output), each in a sandbox of
its own with its own limits, and reads back files they left. The command line built here is:

    bwrap --unshare-{ipc,pid,net,uts} --unshare-cgroup-try --die-with-parent --new-session
          --clearenv --setenv PATH/HOME/LANG ... --bind <fresh dir> /tmp --ro-bind /usr /usr
          (+ /bin /lib* as symlinks or read-only binds, /etc/alternatives, /etc/ld.so.cache,
          `ro_binds`) --proc /proc --dev /dev --remount-ro / --chdir /tmp
          -- [setpriv --reuid U --regid U --clear-groups --inh-caps=-all --bounding-set=-all]
             prlimit --cpu --as --nproc --fsize --nofile --core=0 -- COMMAND

Why this set (verified on Linux 6.18 in this project's container with bubblewrap 0.8, as root and as an
unprivileged user):
- No network: a new network namespace holds only loopback. The new PID namespace hides every
  host process and dies with its first process, so background children never outlive a run;
  `--die-with-parent` kills it if the caller dies; `--new-session` detaches the terminal.
- Limits are set with `prlimit` *inside* the sandbox, after the namespaces exist. RLIMIT_NPROC
  counts processes per user (per user namespace first), so set outside it would count every
  process of the calling user, and it is never enforced for uid 0.
- As root, bwrap runs privileged (no user namespace: its uid map would map the sandbox to
  kuid 0, which RLIMIT_NPROC exempts) and `setpriv` drops to a uid of its own per run, with no
  capabilities, before the command starts. Root mode also lets binds reach paths under
  directories like /root (a pyenv Python) that an unprivileged user cannot traverse.
- As another user, bwrap makes a user namespace (`--unshare-user --disable-userns`); limits
  are counted per namespace, so concurrent runs do not share a process budget.
- Directories bwrap creates on the way to a bind are mode 0700; `--perms 0755 --dir` makes
  them traversable for the dropped uid.
- The environment is cleared (nothing of the caller's is readable); stdout and stderr are
  read up to a cap, and the whole process group is killed on the wall-clock deadline.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

WORKDIR = "/tmp"
SYSTEM_BINDS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc/alternatives", "/etc/ld.so.cache")
_UID_BASE = 100_000_000
_uid_lock = threading.Lock()
_uid_counter = 0


class SandboxUnavailable(RuntimeError):
    """bubblewrap (or util-linux's prlimit / setpriv) is missing or cannot create namespaces."""


@dataclass(frozen=True)
class SandboxLimits:
    """Per-run limits; memory is address space, so it must leave room for the interpreter."""

    wall_s: float = 10.0
    cpu_s: int = 10
    memory_mb: int = 1024
    max_procs: int = 32
    file_size_mb: int = 16
    open_files: int = 256
    output_bytes: int = 1 << 20

    def __post_init__(self):
        for name in ("wall_s", "cpu_s", "memory_mb", "max_procs", "file_size_mb", "open_files", "output_bytes"):
            if not getattr(self, name) > 0:
                raise ValueError(f"sandbox limit {name} must be > 0, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class SandboxConfig:
    limits: SandboxLimits = SandboxLimits()
    ro_binds: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    tmp_root: str | None = None

    @property
    def root(self) -> Path:
        """Where per-run directories are made (default: <system temp>/rlpost-sandbox)."""
        return Path(self.tmp_root or Path(tempfile.gettempdir()) / "rlpost-sandbox")


@dataclass
class SandboxResult:
    returncode: int
    stdout: bytes
    stderr: bytes
    seconds: float
    timed_out: bool = False
    output_truncated: bool = False

    @property
    def reason(self) -> str:
        """Why the run ended, in a few words ('ok' for exit code 0)."""
        if self.timed_out:
            return "wall-clock timeout"
        if self.output_truncated:
            return "output limit exceeded"
        if self.returncode == 0:
            return "ok"
        signum = -self.returncode if self.returncode < 0 else self.returncode - 128
        if signum in _SIGNAL_REASONS:
            return _SIGNAL_REASONS[signum]
        return f"exit code {self.returncode}"


_SIGNAL_REASONS = {
    signal.SIGXCPU: "CPU time limit",
    signal.SIGXFSZ: "file size limit",
    signal.SIGKILL: "killed (SIGKILL)",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGTERM: "terminated",
}


@cache
def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if not path:
        raise SandboxUnavailable(
            f"sandbox: `{name}` not found; install the {package} package (Debian/Ubuntu: apt-get install {package}; "
            "or run `make sandbox-deps` as root)"
        )
    return path


def python_binds() -> tuple[str, ...]:
    """Read-only binds that make this interpreter (without its virtualenv) runnable inside."""
    prefix = os.path.realpath(sys.base_prefix)
    return () if prefix == "/usr" or prefix.startswith("/usr/") else (prefix,)


def python_executable() -> str:
    """The base interpreter of this Python, which `python_binds` makes visible (not a virtualenv's copy or link)."""
    base = Path(sys.base_prefix, "bin", f"python{sys.version_info[0]}.{sys.version_info[1]}")
    return str(base.resolve()) if base.exists() else os.path.realpath(sys.executable)


def _next_uid() -> int:
    """A uid used by no other live run: unique per process (pid) and per run within it."""
    global _uid_counter
    with _uid_lock:
        _uid_counter += 1
        return _UID_BASE + (os.getpid() % (1 << 22)) * 256 + _uid_counter % 256


def _bind_args(paths: tuple[str, ...]) -> list[str]:
    """Read-only binds of `paths` at the same place (missing ones and ones inside an earlier bind skipped)."""
    args: list[str] = []
    made: set[str] = set()
    bound: list[Path] = []
    for path in paths:
        host = Path(path)
        if not host.exists() or any(host == b or b in host.parents for b in bound):
            continue
        bound.append(host)
        if host.is_symlink() and not os.path.isabs(os.readlink(host)) and len(host.parts) == 2:
            args += ["--symlink", os.readlink(host), str(host)]  # merged-/usr: /bin -> usr/bin
            continue
        for parent in reversed(host.parents[:-1]):
            if str(parent) not in made:
                made.add(str(parent))
                args += ["--perms", "0755", "--dir", str(parent)]
        args += ["--ro-bind", str(host), str(host)]
    return args


def _limit_args(limits: SandboxLimits) -> list[str]:
    mem = limits.memory_mb << 20
    fsize = limits.file_size_mb << 20
    return [
        _tool("prlimit", "util-linux"),
        f"--cpu={limits.cpu_s}:{limits.cpu_s + 1}",
        f"--as={mem}:{mem}",
        f"--nproc={limits.max_procs}:{limits.max_procs}",
        f"--fsize={fsize}:{fsize}",
        f"--nofile={limits.open_files}:{limits.open_files}",
        "--core=0:0",
        "--",
    ]


def build_command(argv: list[str], workdir: str, config: SandboxConfig, uid: int | None) -> list[str]:
    """The full bwrap command line for `argv` with `workdir` as the writable /tmp; `uid` set means root mode."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": WORKDIR, "LANG": "C.UTF-8", **config.env}
    cmd = [_tool("bwrap", "bubblewrap")]
    if uid is None:
        cmd += ["--unshare-user", "--disable-userns"]
    cmd += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    cmd += ["--hostname", "sandbox", "--die-with-parent", "--new-session", "--clearenv"]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    cmd += ["--bind", workdir, WORKDIR]  # first, so that read-only binds under /tmp stay visible on top of it
    cmd += _bind_args(SYSTEM_BINDS + tuple(config.ro_binds))
    cmd += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/", "--chdir", WORKDIR, "--"]
    if uid is not None:
        setpriv = _tool("setpriv", "util-linux")
        cmd += [setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"]
    return cmd + _limit_args(config.limits) + list(argv)


_verified: set[tuple[str, ...]] = set()


def ensure_working(config: SandboxConfig = SandboxConfig()) -> None:
    """Run `true` once per process and configuration of binds; a broken sandbox is an error, not a failing program."""
    if config.ro_binds in _verified:
        return
    result = _run(["true"], {}, b"", config)
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip()[:300] or result.reason
        raise SandboxUnavailable(f"sandbox: bubblewrap cannot start here ({detail}); see rlpost/sandbox.py for what it needs")
    _verified.add(config.ro_binds)


def run(
    argv: list[str], files: dict[str, str | bytes] | None = None, stdin: bytes = b"", config: SandboxConfig = SandboxConfig()
) -> SandboxResult:
    """Run `argv` in a fresh sandbox whose /tmp holds `files` (name -> content); the directory is removed after."""
    with Workdir(files, config) as workdir:
        return workdir.run(argv, stdin)


def _run(argv: list[str], files: dict[str, str | bytes], stdin: bytes, config: SandboxConfig) -> SandboxResult:
    with Workdir(files, config, verify=False) as workdir:
        return workdir.run(argv, stdin)


class Workdir:
    """One fresh run directory for several sandboxed commands in turn; what one command writes, the next finds.

    `with Workdir(files, config) as wd:` writes `files` (plain name -> content), then each
    `wd.run(argv, limits=...)` is a sandbox of its own (same uid, same /tmp, fresh namespaces,
    so nothing a command started outlives it); the directory is removed on leaving the block.
    """

    def __init__(self, files: dict[str, str | bytes] | None = None, config: SandboxConfig = SandboxConfig(), verify: bool = True):
        self.config = config
        self._files = files or {}
        self._verify = verify
        self.path = ""
        self._uid: int | None = None

    def __enter__(self) -> Workdir:
        if self._verify:
            ensure_working(self.config)
        root = self.config.root
        root.mkdir(parents=True, exist_ok=True)
        self.path = tempfile.mkdtemp(prefix="run-", dir=root)
        self._uid = _next_uid() if os.geteuid() == 0 else None
        try:
            for name, content in self._files.items():
                path = Path(self.path, name)
                if path.parent != Path(self.path):
                    raise ValueError(f"sandbox: file name {name!r} must be a plain name")
                path.write_bytes(content.encode() if isinstance(content, str) else content)
            if self._uid is not None:
                os.chown(self.path, self._uid, self._uid)
        except BaseException:
            _remove_tree(self.path)
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        _remove_tree(self.path)

    def run(self, argv: list[str], stdin: bytes = b"", limits: SandboxLimits | None = None) -> SandboxResult:
        """Run `argv` with /tmp = this directory, under `limits` (default: the config's)."""
        config = self.config if limits is None else replace(self.config, limits=limits)
        return _execute(build_command(argv, self.path, config, self._uid), stdin, config.limits, self.config.root)

    def read(self, name: str, max_bytes: int) -> bytes | None:
        """Up to `max_bytes` of the regular file `name` a command left here; None when absent or not a regular file.

        A link is never followed (a command could point one at a host file).
        """
        if Path(self.path, name).parent != Path(self.path):
            raise ValueError(f"sandbox: file name {name!r} must be a plain name")
        try:
            fd = os.open(Path(self.path, name), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return None
        with os.fdopen(fd, "rb") as f:
            return f.read(max_bytes)


def _remove_tree(path: str) -> None:
    """Delete a run's directory, also where the program took permissions away inside it (chmod 0)."""

    def unlock(func, failed, exc_info):
        try:
            os.chmod(os.path.dirname(failed), 0o700)
            if os.path.isdir(failed) and not os.path.islink(failed):
                os.chmod(failed, 0o700)
                shutil.rmtree(failed, onerror=unlock)
            else:
                func(failed)
        except OSError:
            pass  # what cannot be removed stays under the sandbox root; scoring goes on

    shutil.rmtree(path, onerror=unlock)


def _execute(cmd: list[str], stdin: bytes, limits: SandboxLimits, root: Path) -> SandboxResult:
    start = time.monotonic()
    with tempfile.TemporaryFile(dir=root) as stdin_file:
        stdin_file.write(stdin)
        stdin_file.seek(0)
        proc = subprocess.Popen(
            cmd, stdin=stdin_file, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={"PATH": "/usr/bin:/bin"},
            start_new_session=True,
        )  # fmt: skip
    streams = {proc.stdout: bytearray(), proc.stderr: bytearray()}
    deadline = start + limits.wall_s
    timed_out = truncated = False
    with selectors.DefaultSelector() as sel:
        for stream in streams:
            sel.register(stream, selectors.EVENT_READ)
        while sel.get_map() and not (timed_out or truncated):
            remaining = deadline - time.monotonic()
            timed_out = remaining <= 0
            for key, _ in sel.select(max(remaining, 0)):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                buf = streams[key.fileobj]
                room = limits.output_bytes - len(buf)
                buf += chunk[:room]
                truncated = truncated or len(chunk) > room
    if not (timed_out or truncated):
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0))
        except subprocess.TimeoutExpired:
            timed_out = True
    if timed_out or truncated:
        _kill_group(proc.pid)
    returncode = proc.wait()
    for stream in streams:
        stream.close()
    return SandboxResult(
        returncode=returncode,
        stdout=bytes(streams[proc.stdout]),
        stderr=bytes(streams[proc.stderr]),
        seconds=time.monotonic() - start,
        timed_out=timed_out,
        output_truncated=truncated,
    )


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
