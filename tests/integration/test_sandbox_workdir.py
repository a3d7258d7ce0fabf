"""sandbox.Workdir: several sandboxed commands in one run directory, per-run limits, and safe read-back."""

from __future__ import annotations

import pytest

from rlpost import sandbox
from rlpost.sandbox import SandboxConfig, SandboxLimits


@pytest.fixture
def config(tmp_path) -> SandboxConfig:
    limits = SandboxLimits(wall_s=5, cpu_s=3, memory_mb=512, max_procs=16, file_size_mb=4, output_bytes=64 << 10)
    return SandboxConfig(limits=limits, tmp_root=str(tmp_path / "sandbox-root"))


def _sh(wd: sandbox.Workdir, script: str, **kwargs) -> sandbox.SandboxResult:
    return wd.run(["/bin/sh", "-c", script], **kwargs)


def test_commands_share_the_directory_and_it_is_removed_after(config):
    with sandbox.Workdir({"in.txt": "hello\n"}, config) as wd:
        assert _sh(wd, "tr a-z A-Z < in.txt > out.txt").reason == "ok"
        second = _sh(wd, "cat out.txt; id -u")
        assert second.stdout.decode().splitlines()[0] == "HELLO"
        assert wd.read("out.txt", 100) == b"HELLO\n" and wd.read("out.txt", 2) == b"HE"
        assert wd.read("missing.txt", 100) is None
    assert list(config.root.iterdir()) == []


def test_each_command_has_its_own_limits_and_nothing_outlives_it(config):
    with sandbox.Workdir({}, config) as wd:
        assert _sh(wd, "sleep 30", limits=SandboxLimits(wall_s=0.5)).reason == "wall-clock timeout"
        assert _sh(wd, "(sleep 2; echo late > late.txt) & echo started").stdout == b"started\n"
        assert _sh(wd, "sleep 2.5; ls").stdout == b""  # the first command's background child died with its sandbox
        assert _sh(wd, "head -c 2000000 /dev/zero > big").reason == "ok"  # the config's 4 MiB
        assert _sh(wd, "head -c 2000000 /dev/zero > big", limits=SandboxLimits(file_size_mb=1)).reason == "file size limit"


def test_read_follows_no_link_and_reads_only_regular_files(config, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    with sandbox.Workdir({}, config) as wd:
        assert _sh(wd, f"ln -s {secret} link.txt; mkfifo pipe; mkdir dir").reason == "ok"
        assert wd.read("link.txt", 100) is None
        assert wd.read("pipe", 100) is None
        assert wd.read("dir", 100) is None
        with pytest.raises(ValueError, match="plain name"):
            wd.read("../secret.txt", 100)


def test_bad_file_names_leave_no_directory(config):
    with pytest.raises(ValueError, match="plain name"):
        with sandbox.Workdir({"ok.txt": "x", "../escape": "y"}, config):
            pass
    assert list(config.root.iterdir()) == []
