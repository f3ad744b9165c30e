"""scripts/install-device into a temporary DESTDIR: the files it puts where, with which modes; a second run changes
nothing; an existing config is never overwritten; PREFIX moves the units' ExecStart= with it.

These runs pass --no-venv (files only). The venv and pip part (about 40 s here with a warm pip cache, minutes on a
Pi) runs in test_venv_and_package, only with RTAUDIOD_SLOW=1.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "install-device"

FILES = {  # path under DESTDIR -> (mode, source in the checkout)
    "etc/systemd/system/rtaudiod.service": (0o644, "systemd/rtaudiod.service"),
    "etc/systemd/user/rtaudiod-user.service": (0o644, "systemd/rtaudiod-user.service"),
    "usr/lib/sysusers.d/rtaudiod.conf": (0o644, "systemd/sysusers.d/rtaudiod.conf"),
    "usr/lib/tmpfiles.d/rtaudiod.conf": (0o644, "systemd/tmpfiles.d/rtaudiod.conf"),
    "etc/rtaudiod/rtaudiod.toml": (0o644, "examples/rtaudiod.toml"),
    "opt/rtaudiod/rtaudiod.toml.example": (0o644, "examples/rtaudiod.toml"),
    "opt/rtaudiod/README.md": (0o644, "README.md"),
}
LINKS = {"usr/local/bin/rtaudiod": "/opt/rtaudiod/venv/bin/rtaudiod",
         "usr/local/bin/rtaudiod-cli": "/opt/rtaudiod/venv/bin/rtaudiod-cli"}


def install(destdir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=600,
                            env={**os.environ, "DESTDIR": str(destdir), **env})
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under root: its mode, content hash (or link target) and modification time."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        if path.is_symlink():
            what = os.readlink(path)
        elif path.is_file():
            what = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            what = "dir"
        out[str(path.relative_to(root))] = (st.st_mode, what, st.st_mtime_ns)
    return out


def test_installs_the_files_with_their_modes(tmp_path):
    result = install(tmp_path, "--no-venv")
    docs = sorted((ROOT / "docs").glob("*.md"))  # the installed README links them
    assert docs and all((tmp_path / "opt/rtaudiod/docs" / d.name).read_bytes() == d.read_bytes() for d in docs)
    for rel, (mode, source) in FILES.items():
        path = tmp_path / rel
        assert path.is_file(), rel
        assert path.stat().st_mode & 0o777 == mode, rel
        assert path.read_bytes() == (ROOT / source).read_bytes(), rel  # the default PREFIX: no rewriting
    for rel, target in LINKS.items():
        assert os.readlink(tmp_path / rel) == target
    assert not (tmp_path / "opt/rtaudiod/venv").exists()
    # DESTDIR: never act on this system (users, tmpfiles, the service manager).
    assert "not running systemd-sysusers, systemd-tmpfiles or systemctl" in result.stdout
    assert not (tmp_path / "etc/passwd").exists()


def test_a_second_run_changes_nothing(tmp_path):
    install(tmp_path, "--no-venv")
    before = snapshot(tmp_path)
    result = install(tmp_path, "--no-venv")
    assert snapshot(tmp_path) == before
    assert "done: 0 changed" in result.stdout


def test_an_existing_config_is_never_overwritten(tmp_path):
    install(tmp_path, "--no-venv")
    config = tmp_path / "etc/rtaudiod/rtaudiod.toml"
    config.write_text('[session]\nvoice = "cedar"\n')
    config.chmod(0o640)
    result = install(tmp_path, "--no-venv")
    assert config.read_text() == '[session]\nvoice = "cedar"\n' and config.stat().st_mode & 0o777 == 0o640
    assert "kept      /etc/rtaudiod/rtaudiod.toml" in result.stdout
    # ...while the current example is still there to compare with.
    assert (tmp_path / "opt/rtaudiod/rtaudiod.toml.example").read_bytes() == (ROOT / "examples/rtaudiod.toml").read_bytes()


def test_a_changed_unit_is_replaced(tmp_path):
    install(tmp_path, "--no-venv")
    unit = tmp_path / "etc/systemd/system/rtaudiod.service"
    unit.write_text("# an older version\n")
    result = install(tmp_path, "--no-venv")
    assert unit.read_bytes() == (ROOT / "systemd/rtaudiod.service").read_bytes()
    assert "done: 1 changed" in result.stdout


def test_prefix_moves_the_units_exec_start(tmp_path):
    install(tmp_path, "--no-venv", PREFIX="/srv/voice")
    for unit in ("etc/systemd/system/rtaudiod.service", "etc/systemd/user/rtaudiod-user.service"):
        text = (tmp_path / unit).read_text()
        assert "ExecStart=/srv/voice/venv/bin/rtaudiod --config /etc/rtaudiod/rtaudiod.toml\n" in text
        assert "/opt/rtaudiod" not in text
    assert (tmp_path / "srv/voice/README.md").is_file()
    assert os.readlink(tmp_path / "usr/local/bin/rtaudiod-cli") == "/srv/voice/venv/bin/rtaudiod-cli"


def test_a_file_that_is_not_ours_is_not_replaced_by_a_link(tmp_path):
    cli = tmp_path / "usr/local/bin/rtaudiod-cli"
    cli.parent.mkdir(parents=True)
    cli.write_text("#!/bin/sh\necho someone else's\n")
    result = install(tmp_path, "--no-venv")
    assert not cli.is_symlink() and "someone else's" in cli.read_text()
    assert "kept      /usr/local/bin/rtaudiod-cli" in result.stdout


def test_bad_options_and_a_relative_prefix_are_refused(tmp_path):
    for args, env in ((["--frobnicate"], {}), (["--no-venv"], {"PREFIX": "opt/rtaudiod"})):
        result = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=60,
                                env={**os.environ, "DESTDIR": str(tmp_path), **env})
        assert result.returncode == 2 and "install-device:" in result.stderr
    assert not any(tmp_path.iterdir())


@pytest.mark.skipif(not os.environ.get("RTAUDIOD_SLOW"), reason="a venv and a pip install (~40 s): RTAUDIOD_SLOW=1")
def test_venv_and_package(tmp_path):
    """The whole install, venv and pip included, from this test run's interpreter; then a second run, which must skip
    pip (the source did not change) and change nothing."""
    result = install(tmp_path, "--no-deps", PYTHON=sys.executable)
    venv = tmp_path / "opt/rtaudiod/venv"
    check = subprocess.run([str(venv / "bin/rtaudiod"), "--config", str(ROOT / "examples/rtaudiod.toml"),
                            "--check-config"], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and '"simulate": "auto"' in check.stdout, check.stderr
    assert (venv / "bin/rtaudiod-cli").exists()
    before = snapshot(tmp_path)
    result = install(tmp_path, "--no-deps", PYTHON=sys.executable)
    assert "rtaudiod from this source already" in result.stdout and "done: 0 changed" in result.stdout
    assert snapshot(tmp_path) == before
