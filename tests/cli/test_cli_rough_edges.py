"""The first hour's rough edges (issue 22), each as a newcomer meets it: a listen into a missing directory, an empty
`say`, the device listing's exit status both ways, where the CLI looks for its socket, and how the daemon's hints
name the CLI. Real processes where the complaint was about what a terminal shows."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from rtaudiod import cli
from rtaudiod.audio.backend import select_device


def run_cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rtaudiod.cli", *argv], capture_output=True, text=True, timeout=60,
                          env=env)


def test_listen_into_a_missing_directory_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = run_cli("--socket", str(tmp_path / "none.sock"), "listen", "/no/such/dir/x.wav")
    assert (proc.returncode, proc.stdout) == (cli.EXIT_USAGE, "")
    assert proc.stderr == "rtaudiod-cli: cannot write /no/such/dir/x.wav: no directory /no/such/dir\n"


def test_a_wav_sink_that_cannot_open_leaves_no_traceback_behind(tmp_path: Path) -> None:
    """The sink's own check (for a directory that went away after the CLI looked): CliError, and nothing from a
    half-made Wave_write's __del__ at exit."""
    code = ("import sys\nfrom rtaudiod.cli import CliError, WavSink\n"
            "try:\n    WavSink(sys.argv[1], 24000)\nexcept CliError as e:\n    print(e)\n")
    target = str(tmp_path / "gone" / "x.wav")
    proc = subprocess.run([sys.executable, "-c", code, target], capture_output=True, text=True, timeout=60)
    assert proc.stdout == f"cannot write {target}: No such file or directory\n" and proc.stderr == ""


def test_say_nothing_is_exit_2_without_a_daemon(tmp_path: Path) -> None:
    proc = run_cli("--socket", str(tmp_path / "none.sock"), "say", "")
    assert proc.returncode == cli.EXIT_USAGE
    assert proc.stderr == "rtaudiod-cli: say: TEXT is empty: there is nothing to say\n"


def no_sound_server(tmp_path: Path) -> dict[str, str]:
    """An environment where PortAudio finds no device: no sound server to reach, none spawned, no card here."""
    conf = tmp_path / "client.conf"
    conf.write_text("autospawn = no\n")
    env = dict(os.environ, PULSE_SERVER=f"unix:{tmp_path}/nothing-here", PULSE_CLIENTCONFIG=str(conf))
    return env


@pytest.mark.skipif(os.path.exists("/dev/snd"), reason="a sound card is present: the listing is not empty")
def test_no_devices_is_the_same_answer_from_both_listings(tmp_path: Path) -> None:
    env = no_sound_server(tmp_path)
    listings = [subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
                for argv in ([sys.executable, "-m", "rtaudiod.cli", "devices"],
                             [sys.executable, "-m", "rtaudiod.audio"])]
    for proc in listings:
        assert (proc.returncode, proc.stdout) == (0, "")  # a listing of nothing: still done
        assert proc.stderr.startswith("rtaudiod-cli: no audio devices (is a sound server running, or a card present?)")
    assert listings[0].stderr == listings[1].stderr


@pytest.mark.usefixtures("pulse_server")
def test_both_listings_agree_with_devices() -> None:
    listings = [subprocess.run(argv, capture_output=True, text=True, timeout=60)
                for argv in ([sys.executable, "-m", "rtaudiod.cli", "devices"],
                             [sys.executable, "-m", "rtaudiod.audio"])]
    assert [p.returncode for p in listings] == [0, 0] and listings[0].stdout == listings[1].stdout
    assert "pulse" in listings[0].stdout and "choose with audio.input_device" in listings[0].stdout


def test_the_null_backend_line_is_whole_with_no_device() -> None:
    """The daemon logs the first line of the device error when it falls back to the null backend: with nothing to
    list, that line must not end in 'devices:' followed by nothing."""
    from rtaudiod.audio.errors import AudioDeviceError

    with pytest.raises(AudioDeviceError) as caught:
        select_device([], None, None, output=True)
    assert str(caught.value).splitlines() == [
        "no default output device; available output devices: none (is a sound server running, or a card present?)"]


def test_the_cli_finds_the_socket_make_run_uses_without_a_runtime_directory(tmp_path: Path) -> None:
    private = tmp_path / f"rtaudiod-{os.getuid()}" / "control.sock"
    assert cli.default_socket({"TMPDIR": str(tmp_path)}) == cli.SYSTEM_SOCKET  # not there: not used
    private.parent.mkdir()
    private.touch()
    assert cli.default_socket({"TMPDIR": str(tmp_path)}) == str(private)
    user = tmp_path / "run" / "rtaudiod" / "control.sock"
    user.parent.mkdir(parents=True)
    user.touch()  # the runtime directory's comes first, as the daemon's default does
    assert cli.default_socket({"TMPDIR": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path / "run")}) == str(user)


def test_hints_name_the_cli_as_it_is_typed_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    beside = Path(sys.executable).parent / "rtaudiod-cli"
    assert beside.exists()  # the editable install's console script, next to this Python
    env = {"PATH": "/usr/bin:/bin"}  # not on PATH: its path
    monkeypatch.chdir(beside.parent.parent.parent)  # the checkout, where `make run` runs
    assert cli.command_line(cli.SYSTEM_SOCKET, env) == os.path.relpath(beside)
    assert cli.command_line(str(tmp_path / "x.sock"), env) == f"{os.path.relpath(beside)} --socket {tmp_path}/x.sock"
    linked = tmp_path / "bin"  # on PATH as after `make install` (a link to the same script): bare
    linked.mkdir()
    (linked / "rtaudiod-cli").symlink_to(beside)
    assert cli.command_line(cli.SYSTEM_SOCKET, {"PATH": str(linked)}) == "rtaudiod-cli"
    other = tmp_path / "other"  # another installation's on PATH: not this one, so the path
    other.mkdir()
    (other / "rtaudiod-cli").write_text("#!/bin/sh\n")
    (other / "rtaudiod-cli").chmod(stat.S_IRWXU)
    assert cli.command_line(cli.SYSTEM_SOCKET, {"PATH": str(other)}) == os.path.relpath(beside)
