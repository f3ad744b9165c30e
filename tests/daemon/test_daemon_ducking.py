"""Ducking on a real sound server: the daemon's playout stream declares `media.role = "phone"`, a private PulseAudio
with `module-role-ducking` lowers a `music` stream on the same sink while the device speaks and lets it back after
(the output stream stops while idle). Measured on the sink's monitor: the music is a 15 kHz tone, above all the
reply's audio (24 kHz speech, resampled to the sink's 48 kHz: nothing above 12 kHz), so its level is read apart
from the voice's."""

from __future__ import annotations

import subprocess
import time

import numpy as np

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
                              f'[control]\nsocket = "{tmp_path / "control.sock"}"\n')
            proc, notify = daemon(config)
            notify.wait("READY=1", 20)
            with Client(str(tmp_path / "control.sock")) as client:
                audio = client.status()["audio"]
                assert audio["backend"] == "pyaudio" and audio["media_role"] == "phone"
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
        before = np.median(music_db[: max(1, first - 2)])
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
