"""Ducking on a real sound server: the daemon's playout stream declares `media.role = "phone"`, a private PulseAudio
with `module-role-ducking` lowers a `music` stream on the same sink while the device speaks and lets it back after
(the output stream stops while idle). Measured on the sink's monitor: the music is a 15 kHz tone, above all the
reply's audio (24 kHz speech, resampled to the sink's 48 kHz: nothing above 12 kHz), so its level is read apart
from the voice's."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import rtaudiod
from pulse_server import RATE, pulse_server  # noqa: F401 - the session fixture
from rtaudiod.control import Client
from rtaudiod.sim import Simulator
from test_daemon_e2e import FAST, KEY, daemon  # noqa: F401 - the daemon fixture

MUSIC_HZ = 15000
WINDOW = RATE // 10  # 100 ms


def band_levels(samples: np.ndarray, hz: float) -> np.ndarray:
    """dB of the `hz` bin (and its neighbours) in each 100 ms window of the first channel."""
    x = samples[:, 0].astype(np.float64)
    windows = x[: len(x) // WINDOW * WINDOW].reshape(-1, WINDOW) * np.hanning(WINDOW)
    spectrum = np.abs(np.fft.rfft(windows, axis=1))
    k = round(hz * WINDOW / RATE)
    return 20 * np.log10(spectrum[:, k - 2:k + 3].max(axis=1) + 1e-9)


def voice_levels(samples: np.ndarray) -> np.ndarray:
    """dB of everything below 8 kHz (the reply) in each 100 ms window."""
    x = samples[:, 0].astype(np.float64)
    windows = x[: len(x) // WINDOW * WINDOW].reshape(-1, WINDOW)
    spectrum = np.abs(np.fft.rfft(windows * np.hanning(WINDOW), axis=1))
    return 20 * np.log10(spectrum[:, 1: 8000 * WINDOW // RATE].max(axis=1) + 1e-9)


def test_music_is_ducked_while_the_device_speaks_and_comes_back_after(tmp_path, daemon, pulse_server):
    module = pulse_server.pactl("load-module", "module-role-ducking", "trigger_roles=phone",
                                "ducking_roles=music", "volume=-20dB").strip()
    music = None
    try:
        t = np.arange(RATE * 40) / RATE
        tone = (np.sin(2 * np.pi * MUSIC_HZ * t) * 4000).astype(np.int16)
        track = tmp_path / "music.raw"
        track.write_bytes(tone.tobytes())
        music = subprocess.Popen(["pacat", "--playback", "-d", pulse_server.speaker, "--property=media.role=music",
                                  "--latency-msec=100", f"--rate={RATE}", "--channels=1", "--format=s16le", "--raw",
                                  str(track)], env=pulse_server.env, stderr=subprocess.DEVNULL)
        with Simulator(dialect="ga", api_key=KEY, **FAST) as sim:
            config = tmp_path / "rtaudiod.toml"
            config.write_text(f'[session]\nbase_url = "{sim.url}"\n[session.turn_detection]\ntype = "none"\n'
                              f'[control]\nsocket = "{tmp_path / "control.sock"}"\n[audio]\nmedia_role = "phone"\n')
            proc, notify = daemon(config)
            notify.wait("READY=1", 20)
            with Client(str(tmp_path / "control.sock")) as client:
                audio = client.status()["audio"]
                # audio.backend = "auto": the sound server natively where the C callbacks run (its stream stopped
                # while idle is corked), PortAudio's pulse device in the twins build
                assert audio["backend"] == ("pulse" if rtaudiod.backend() == "c" else "pyaudio")
                assert audio["media_role"] == "phone"
                deadline = time.monotonic() + 10  # idle since the start: its output stops within ~1.5 s
                while not client.status()["audio"]["output_paused"]:
                    assert time.monotonic() < deadline, "the idle output stream never paused"
                    time.sleep(0.1)
                recording = pulse_server.record(pulse_server.speaker + ".monitor")
                time.sleep(1.0)  # the music alone
                client.subscribe("state")
                client.send_text("Hello there, this reply is long enough to measure the music under it.")
                client.wait_for("state", lambda e: e.data["state"] == "speaking", timeout=15)
                client.wait_for("state", lambda e: e.data["state"] == "ready", timeout=30)
                deadline = time.monotonic() + 10
                while not client.status()["audio"]["output_paused"]:
                    assert time.monotonic() < deadline, "the output stream never paused after the reply"
                    time.sleep(0.1)
                time.sleep(1.0)  # the music alone again
                samples = recording.stop().samples
                assert client.status()["audio"]["output_pauses"] >= 2
        music_db, voice_db = band_levels(samples, MUSIC_HZ), voice_levels(samples)
        speaking = np.flatnonzero(voice_db > voice_db.max() - 20)
        assert len(speaking) >= 10, "the reply was not heard at the speaker"
        first, last = speaking[0], speaking[-1]
        assert first >= 6, f"the reply was heard {first / 10:.1f} s into the recording, not after the music alone"
        before = np.median(music_db[2: first - 2])  # (parec's first windows may be its start-up silence)
        during = np.median(music_db[first + 2: last - 1])
        after = np.median(music_db[-8:])
        print(f"music at {MUSIC_HZ} Hz: before {before:.1f} dB, while speaking {during:.1f} dB, after {after:.1f} dB")
        assert before - during > 15, (before, during)  # module-role-ducking's -20 dB
        assert abs(after - before) < 3, (before, after)
    finally:
        if music is not None:
            music.kill()
            music.wait()
        pulse_server.pactl("unload-module", module)


def test_the_role_is_checked_and_none_leaves_the_stream_running():
    from rtaudiod.audio import AudioConfig, AudioEngine

    with pytest.raises(ValueError, match="media_role must be a role name"):
        AudioConfig(media_role="Phone Call")
    assert AudioConfig(media_role="").media_role is None  # TOML's way to say none
    assert not AudioEngine(AudioConfig(backend="null", media_role="phone")).pauses_when_idle  # no sound server


# ==================================================================================================== the example
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "duck-on-speech"


def run_ducker(sock: Path, env: dict[str, str], *args: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, str(EXAMPLE), "--socket", str(sock), "--hold", "0.3", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.strip() == "watching rtaudiod's state", (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc


def volumes_while_speaking(sock: Path, read_volume) -> tuple[set[int], set[int], int]:
    """Ask for a reply; the volumes seen while the device spoke, and after it was done (+1 s), and the last one."""
    during, after = set(), set()
    with Client(str(sock)) as client:
        client.subscribe("state")
        client.send_text("Hello there, say something long enough to duck the music under it.")
        client.wait_for("state", lambda e: e.data["state"] == "speaking", timeout=15)
        state = "speaking"
        while state == "speaking":
            during.add(read_volume())
            event = client.next_event(timeout=0.05)
            if event is not None and event.name == "state":
                state = event.data["state"]
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            after.add(read_volume())
            time.sleep(0.05)
    return during, after, read_volume()


def null_daemon(tmp_path: Path, daemon, sim: Simulator) -> Path:
    config = tmp_path / "rtaudiod.toml"
    config.write_text(f'[session]\nbase_url = "{sim.url}"\n[audio]\nbackend = "null"\n'
                      f'[control]\nsocket = "{tmp_path / "control.sock"}"\n')
    _, notify = daemon(config)
    notify.wait("READY=1", 20)
    return tmp_path / "control.sock"


def test_the_example_ducks_an_alsa_mixer_control_while_the_device_speaks(tmp_path, daemon, pulse_server):
    """A real ALSA mixer control: ALSA's pulse plugin's `Master` (the private PulseAudio's default sink volume);
    the daemon itself runs the null backend, so only the example touches the sound server."""
    def sink_volume() -> int:
        sinks = pulse_server.pactl("list", "sinks").split("Name: ")
        block = next(b for b in sinks if b.startswith(pulse_server.speaker + "\n"))
        return int(re.search(r"Volume: [^/]*/\s*(\d+)%", block).group(1))

    pulse_server.pactl("set-sink-volume", pulse_server.speaker, "80%")
    with Simulator(dialect="ga", api_key=KEY, **FAST) as sim:
        sock = null_daemon(tmp_path, daemon, sim)
        ducker = run_ducker(sock, pulse_server.env, "--mixer", "Master", "--mixer-device", "pulse", "--level", "25")
        try:
            during, after, last = volumes_while_speaking(sock, sink_volume)
        finally:
            ducker.terminate()
            out, err = ducker.communicate(timeout=10)
    print(out, err)
    assert 20 in during and last == 80, (during, after)
    assert "ducked: 80% -> 20%" in out and "restored: 80%" in out
    assert ducker.returncode == 0


@pytest.mark.skipif(shutil.which("mpd") is None, reason="mpd is not installed (scripts/install-system-deps)")
def test_the_example_ducks_an_mpd_while_the_device_speaks(tmp_path, daemon):
    """A real Music Player Daemon (null output, software mixer) on a free port of 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    music = tmp_path / "music"
    music.mkdir()
    conf = tmp_path / "mpd.conf"
    conf.write_text(f'music_directory "{music}"\ndb_file "{tmp_path / "mpd.db"}"\nstate_file "{tmp_path / "state"}"\n'
                    f'pid_file "{tmp_path / "mpd.pid"}"\nbind_to_address "127.0.0.1"\nport "{port}"\n'
                    'audio_output {\n type "null"\n name "null"\n mixer_type "software"\n}\n')
    mpd = subprocess.Popen(["mpd", "--no-daemon", "--stderr", str(conf)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
    try:
        def command(line: str) -> list[str]:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as conn, conn.makefile("rw") as f:
                f.readline()
                f.write(line + "\n")
                f.flush()
                lines = []
                while (reply := f.readline().strip()) not in ("OK", ""):
                    assert not reply.startswith("ACK"), reply
                    lines.append(reply)
                return lines

        deadline = time.monotonic() + 10
        while True:
            try:
                command("setvol 80")
                break
            except OSError:
                assert time.monotonic() < deadline and mpd.poll() is None, mpd.stderr.read()
                time.sleep(0.1)

        def mpd_volume() -> int:
            return next(int(v.split()[1]) for v in command("status") if v.startswith("volume: "))

        assert mpd_volume() == 80
        with Simulator(dialect="ga", api_key=KEY, **FAST) as sim:
            sock = null_daemon(tmp_path, daemon, sim)
            ducker = run_ducker(sock, dict(os.environ), "--mpd", f"127.0.0.1:{port}", "--level", "25")
            try:
                during, after, last = volumes_while_speaking(sock, mpd_volume)
            finally:
                ducker.terminate()
                out, err = ducker.communicate(timeout=10)
        assert 20 in during and last == 80, (during, after, out, err)
        assert "ducked: 80% -> 20%" in out and "restored: 80%" in out
    finally:
        mpd.terminate()
        mpd.communicate(timeout=10)
