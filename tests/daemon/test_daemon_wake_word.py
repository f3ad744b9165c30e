"""The daemon's wake word as a device runs it: on the wav backend (a WAV file is the microphone) with real espeak-ng
speech, and on a machine where the wake-word runtime cannot run (32-bit ARM has no TFLite build: docs/platforms.md),
where the daemon says so in one line and listens in push_to_talk mode instead. That machine is made here by
shadowing pymicro-wakeword in the daemon's process (PYTHONPATH), the daemon itself untouched."""

from __future__ import annotations

import platform
import shutil
import signal
import time
import wave
from pathlib import Path

import pytest

from rtaudiod.control import Client
from rtaudiod.listen.detector import WakeWordUnavailable, load_model
from test_daemon_e2e import daemon, sim, write_config  # noqa: F401 - fixtures; it puts tests/session on sys.path

from sessionhelpers import speech, xcorr  # noqa: E402

UNAVAILABLE = "the wake word cannot run on this machine"


def runtime_error() -> str | None:
    try:
        load_model("okay_nabu").close()
    except WakeWordUnavailable as e:
        return str(e)
    return None


def shadow_not_importable(root: Path) -> None:
    (root / "pymicro_wakeword").mkdir()
    (root / "pymicro_wakeword" / "__init__.py").write_text(
        'raise ImportError("libtensorflowlite_c.so: no build for this machine")\n')


def shadow_library_does_not_load(root: Path) -> None:
    """The package as installed, with a TFLite library the dynamic loader refuses (as an x86-64 one on ARM)."""
    import pymicro_wakeword

    package = root / "pymicro_wakeword"
    shutil.copytree(Path(pymicro_wakeword.__file__).parent, package)
    libraries = list((package / "lib").glob("*tensorflowlite_c*"))
    assert libraries, "pymicro-wakeword's TFLite library is not where this test expects it"
    for library in libraries:
        library.write_bytes(b"\x7fELF" + bytes(60))


@pytest.mark.parametrize("shadow", [shadow_not_importable, shadow_library_does_not_load],
                         ids=["not-importable", "library-does-not-load"])
def test_without_a_wake_word_runtime_it_says_so_once_and_listens_push_to_talk(tmp_path, daemon, sim, shadow):
    if shadow is shadow_library_does_not_load and runtime_error() is not None:
        pytest.skip(f"no pymicro-wakeword to break here: {runtime_error()}")
    shadow(tmp_path)
    config = tmp_path / "rtaudiod.toml"
    write_config(config, sim, extra='[listen]\nmode = "wake_word"\n')
    proc, notify = daemon(config, {"PYTHONPATH": str(tmp_path)})
    notify.wait("READY=1", 30)
    with Client(str(tmp_path / "control.sock")) as client:
        listen = client.status()["listen"]
        assert (listen["mode"], listen["state"]) == ("push_to_talk", "gated")
        assert "detector" not in listen
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    _, err = proc.communicate()
    lines = [line for line in err.splitlines() if UNAVAILABLE in line]
    assert len(lines) == 1, err
    assert f"({platform.machine()})" in lines[0] and "push_to_talk mode instead" in lines[0]


def test_a_misconfigured_wake_word_still_stops_the_daemon(tmp_path, daemon, sim):
    if runtime_error() is not None:
        pytest.skip(f"the wake word cannot run here: {runtime_error()}")
    config = tmp_path / "rtaudiod.toml"
    write_config(config, sim, extra=f'[listen]\nmode = "wake_word"\nwake_word = "{tmp_path / "no-such.json"}"\n')
    proc, _ = daemon(config)
    assert proc.wait(30) == 78
    _, err = proc.communicate()
    assert "listen.wake_word" in err and UNAVAILABLE not in err


def test_on_the_wav_backend_the_spoken_wake_word_opens_a_turn(tmp_path, daemon, sim):
    """A WAV file is the microphone: silence while the daemon starts, then "Okay nabu, what time is it?". The
    detector hears the wake word, the question goes up, and the simulator's VAD commits it."""
    if runtime_error() is not None:
        pytest.skip(f"the wake word cannot run here: {runtime_error()}")
    asked = speech("Okay nabu, what time is it?", 24000)
    question = asked[-len(asked) // 3:]  # "...time is it?"
    words = bytes(24000 * 2 * 3) + asked + bytes(24000 * 2 * 3)
    microphone = tmp_path / "microphone.wav"
    with wave.open(str(microphone), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(24000)
        w.writeframes(words)
    config = tmp_path / "rtaudiod.toml"
    write_config(config, sim, extra='[listen]\nmode = "wake_word"\n')
    config.write_text(config.read_text().replace(
        'backend = "null"', f'backend = "wav"\nwav_input = "{microphone}"\ninput_rate = 24000\ninput_channels = 1'))
    proc, notify = daemon(config)
    notify.wait("READY=1", 30)
    deadline = time.monotonic() + len(words) / 48000 + 20
    committed = None
    while committed is None and time.monotonic() < deadline:
        committed = next((a for s in sim.sessions for a in s.committed_audio.values()), None)
        time.sleep(0.1)
    with Client(str(tmp_path / "control.sock")) as client:
        listen = client.status()["listen"]
    assert listen["wakes"] == 1, listen
    assert committed is not None, "the question was not committed"
    assert xcorr(question, committed)[1] > 0.9
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
