"""The systemd units, sysusers and tmpfiles files in systemd/, checked by systemd's own tools without systemd running
(TESTING.md, "systemd, without systemd running"): `systemd-analyze verify` (units as the service manager would load
them), `systemd-analyze security --offline=true` (the system unit's exposure, gated at 2.0), and the hardening keeping
what the daemon needs: the ALSA devices, real-time scheduling, the network, the control socket's directory.

`verify` refuses a unit whose ExecStart= does not exist, and /opt/rtaudiod/venv/bin/rtaudiod exists only on a device.
So the units are verified as copies whose ExecStart= names the `rtaudiod` entry point of the environment running
these tests (the project venv's; /bin/true if there is none), arguments kept; everything else is the file as shipped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SYSTEMD = ROOT / "systemd"
SYSTEM_UNIT = SYSTEMD / "rtaudiod.service"
USER_UNIT = SYSTEMD / "rtaudiod-user.service"
SHIPPED_EXEC = "/opt/rtaudiod/venv/bin/rtaudiod"
SECURITY_GATE = 2.0


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: scripts/install-system-deps installs it (Debian package systemd)"
    return path


def _entry_point() -> str:
    here = Path(sys.executable).parent / "rtaudiod"
    if here.exists():
        return str(here)
    return shutil.which("rtaudiod") or "/bin/true"


def _copy(unit: Path, directory: Path, exec_path: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    text = unit.read_text()
    assert f"ExecStart={SHIPPED_EXEC} " in text
    if exec_path is not None:
        text = text.replace(f"ExecStart={SHIPPED_EXEC} ", f"ExecStart={exec_path} ")
    out = directory / unit.name
    out.write_text(text)
    return out


def _analyze(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # --man=no: whether the man pages named in Documentation= are installed is the machine's business (Debian's
    # container images leave them out), not the unit's.
    return subprocess.run([_tool("systemd-analyze"), *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "SYSTEMD_LOG_COLOR": "0", **(env or {})})


def _user_env(tmp_path: Path) -> dict[str, str]:
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    return {"XDG_RUNTIME_DIR": str(runtime)}  # a user manager (even an offline one) needs its runtime directory


def _complaints(result: subprocess.CompletedProcess[str], unit: Path) -> list[str]:
    """What verify said about our unit: it warns on stderr (unknown keys, values it cannot parse) and still exits 0."""
    return [line for line in (result.stdout + result.stderr).splitlines() if unit.name in line or str(unit) in line]


# ===================================================================================================== verify
def test_the_system_unit_verifies(tmp_path):
    unit = _copy(SYSTEM_UNIT, tmp_path, _entry_point())
    result = _analyze("verify", "--man=no", str(unit))
    assert result.returncode == 0 and not _complaints(result, unit), result.stdout + result.stderr


def test_the_user_unit_verifies(tmp_path):
    unit = _copy(USER_UNIT, tmp_path / "units", _entry_point())
    result = _analyze("--user", "verify", "--man=no", str(unit), env=_user_env(tmp_path))
    assert result.returncode == 0 and not _complaints(result, unit), result.stdout + result.stderr


@pytest.mark.parametrize("unit", [SYSTEM_UNIT, USER_UNIT], ids=["system", "user"])
def test_as_shipped_the_only_complaint_is_the_missing_venv(tmp_path, unit):
    """The rewritten ExecStart= above hides nothing else: the file as shipped fails on that one line only."""
    copy = _copy(unit, tmp_path / "units")
    args = ["--user"] if unit is USER_UNIT else []
    result = _analyze(*args, "verify", "--man=no", str(copy), env=_user_env(tmp_path))
    assert result.returncode != 0
    assert _complaints(result, copy) == [f"{copy.name}: Command {SHIPPED_EXEC} is not executable: "
                                         "No such file or directory"], result.stderr


def test_the_readme_encrypted_key_drop_in_verifies(tmp_path):
    """The README's drop-in for an encrypted key: the empty LoadCredential= resets the plain one, then the encrypted
    credential under the same name."""
    unit = _copy(SYSTEM_UNIT, tmp_path, _entry_point())
    drop_in = tmp_path / "rtaudiod.service.d" / "credential.conf"
    drop_in.parent.mkdir()
    drop_in.write_text("[Service]\nLoadCredential=\n"
                       "LoadCredentialEncrypted=openai_api_key:/etc/rtaudiod/openai_api_key.cred\n")
    result = _analyze("verify", "--man=no", str(unit))
    assert result.returncode == 0 and not _complaints(result, unit), result.stderr
    assert "LoadCredentialEncrypted=openai_api_key:/etc/rtaudiod/openai_api_key.cred" in \
        (ROOT / "README.md").read_text()


# ===================================================================================================== security
def _security(unit: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return _analyze("security", "--offline=true", *extra, str(unit))


def test_the_system_unit_is_rated_2_0_or_lower():
    result = _security(SYSTEM_UNIT, f"--threshold={int(SECURITY_GATE * 10)}")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    level = re.search(r"Overall exposure level for rtaudiod\.service: (\d+\.\d+)", result.stdout)
    assert level, result.stdout[-500:]
    assert float(level.group(1)) <= SECURITY_GATE


def test_the_hardening_keeps_devices_realtime_and_network_open():
    """What the sandbox must leave to the daemon, read back from systemd-analyze's own assessment (a `set: false`
    row is something the service may still do), and from the unit for what it does not assess."""
    result = _security(SYSTEM_UNIT, "--json=short")
    assert result.returncode == 0, result.stderr
    may = {row["name"] for row in json.loads(result.stdout) if not row["set"]}
    assert "RestrictRealtime=" in may  # SCHED_FIFO/RR for the audio threads
    assert "PrivateDevices=" in may  # /dev/snd is there
    assert "SystemCallFilter=~@resources" in may  # sched_setscheduler, setrlimit
    assert "RestrictAddressFamilies=~AF_(INET|INET6)" in may and "PrivateNetwork=" in may  # the service
    assert "RestrictAddressFamilies=~AF_UNIX" in may  # the control socket, sd_notify, the journal
    assert "ProtectProc=" in may  # the control server reads a client's /proc/PID/status for its groups
    settings = _settings(SYSTEM_UNIT)
    assert settings["DeviceAllow"] == ["char-alsa rw"] and settings["DevicePolicy"] == ["closed"]
    assert settings["SupplementaryGroups"] == ["audio"] and settings["User"] == ["rtaudiod"]
    assert settings["LimitRTPRIO"] == ["20"] and settings["RestrictRealtime"] == ["no"]
    assert settings["RuntimeDirectory"] == ["rtaudiod"] and settings["RuntimeDirectoryMode"] == ["0750"]
    assert settings["Type"] == ["notify"] and settings["NotifyAccess"] == ["main"]
    assert settings["RestartPreventExitStatus"] == ["78 243"]  # EX_CONFIG (daemon.py) and CREDENTIALS
    assert settings["LoadCredential"] == ["openai_api_key:/etc/rtaudiod/openai_api_key"]
    assert settings["Environment"] == ["RTAUDIOD_CONTROL_GROUP=rtaudiod"]


def _settings(unit: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        if re.match(r"^[A-Za-z]+=", line):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


@pytest.mark.parametrize("unit", [SYSTEM_UNIT, USER_UNIT], ids=["system", "user"])
def test_every_setting_has_its_comment(unit):
    """STYLE.md 12: each unit-file setting has a comment, on the line just above it."""
    lines = unit.read_text().splitlines()
    bare = [f"{n + 1}: {line}" for n, line in enumerate(lines)
            if re.match(r"^[A-Za-z]+=", line) and not (n and lines[n - 1].startswith("#"))]
    assert not bare, "settings without a comment above them:\n" + "\n".join(bare)


# ===================================================================================================== sysusers, tmpfiles
def test_sysusers_makes_the_rtaudiod_user_in_group_audio(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "usr/lib/sysusers.d").mkdir(parents=True)
    shutil.copy(SYSTEMD / "sysusers.d/rtaudiod.conf", root / "usr/lib/sysusers.d/rtaudiod.conf")
    for _ in range(2):  # a second run (every boot) changes nothing
        result = subprocess.run([_tool("systemd-sysusers"), f"--root={root}"], capture_output=True, text=True,
                                timeout=30)
        assert result.returncode == 0, result.stderr
    passwd = [line.split(":") for line in (root / "etc/passwd").read_text().splitlines()]
    groups = {line.split(":")[0]: line.split(":") for line in (root / "etc/group").read_text().splitlines()}
    (user,) = [entry for entry in passwd if entry[0] == "rtaudiod"]
    assert int(user[2]) < 1000 and user[5] == "/" and user[6].endswith("nologin")  # a system user, no login
    assert user[3] == groups["rtaudiod"][2]  # its own primary group
    assert "rtaudiod" in groups["audio"][3].split(",")


def test_tmpfiles_makes_the_config_directory_and_locks_the_key(tmp_path):
    root = tmp_path / "root"
    (root / "usr/lib/tmpfiles.d").mkdir(parents=True)
    shutil.copy(SYSTEMD / "tmpfiles.d/rtaudiod.conf", root / "usr/lib/tmpfiles.d/rtaudiod.conf")
    tmpfiles = [_tool("systemd-tmpfiles"), "--create", f"--root={root}"]
    assert subprocess.run(tmpfiles, capture_output=True, timeout=30).returncode == 0
    assert (root / "etc/rtaudiod").is_dir() and (root / "etc/rtaudiod").stat().st_mode & 0o777 == 0o755
    for name in ("openai_api_key", "openai_api_key.cred"):  # written carelessly, world-readable
        (root / "etc/rtaudiod" / name).write_text("sk-test\n")
        (root / "etc/rtaudiod" / name).chmod(0o644)
    assert subprocess.run(tmpfiles, capture_output=True, timeout=30).returncode == 0
    for name in ("openai_api_key", "openai_api_key.cred"):
        assert (root / "etc/rtaudiod" / name).stat().st_mode & 0o777 == 0o600
