"""audio.backend = "auto", the default (rtaudiod/audio/backend_choice.py): the native pulse backend where the C
callbacks run, the devices are the sound server's defaults and a server answers; PortAudio ("pyaudio") otherwise, and
when the pulse backend then fails to open. The choice and its reason are in `status`; a real sound server (the
private PulseAudio of tests/pulse_server.py) or a dead socket decides."""

import logging

import pytest

import rtaudiod
from audiohelpers import tone, wait_for
from rtaudiod.audio import AudioConfig, AudioEngine
from rtaudiod.audio.backend_choice import choose_backend

needs_c = pytest.mark.skipif(rtaudiod.backend() != "c", reason="auto gives PortAudio without the C extension "
                             "(test_the_twins_build_runs_portaudio)")


def auto_choice(engine: AudioEngine) -> dict:
    return engine.status()["backend_choice"]


def test_auto_is_the_default():
    assert AudioConfig().backend == "auto"


@needs_c
@pytest.mark.parametrize("device", [None, "pulse", "default", "PipeWire"])
def test_the_sound_servers_devices_run_natively(pulse_server, engines, device):
    engine = engines(AudioConfig(input_device=device, output_device=device))
    assert engine.backend.name == "pulse" and engine.status()["backend"] == "pulse"
    assert auto_choice(engine) == {"auto": True, "reason": "the sound server natively: it answers, and the devices "
                                                           "are its defaults"}
    assert engine.output_stream.active and engine.input_stream.active
    engine.begin_item("item_a")  # and it plays
    engine.write(tone(440, 0.2, 24000, 0.5))
    wait_for(lambda: engine.played_ms("item_a") == 200.0, 10, "the tone to play")


@needs_c
@pytest.mark.parametrize("key, device", [("output_device", 0), ("input_device", "USB"), ("output_device", "hw:1,0")])
def test_a_device_of_portaudios_list_runs_portaudio(key, device):
    choice, context = choose_backend(AudioConfig(**{key: device}))
    assert choice.name == "pyaudio" and choice.auto and context is None
    assert f"audio.{key} = {device!r} is a device of PortAudio's list" in choice.reason


@needs_c
def test_a_device_not_in_use_does_not_count(pulse_server):
    choice, context = choose_backend(AudioConfig(input_device=3, capture=False))
    assert choice.name == "pulse" and context is not None and context.connected


@needs_c
def test_no_sound_server_runs_portaudio(monkeypatch, tmp_path):
    """PULSE_SERVER names a socket nobody listens on: refused at once (a hung server would be given up after
    CONNECT_TIMEOUT_S)."""
    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path}/nothing-here")
    choice, context = choose_backend(AudioConfig())
    assert choice.name == "pyaudio" and context is None
    assert choice.reason.startswith("PortAudio: no PulseAudio or PipeWire-pulse server answers (")
    assert "Connection refused" in choice.reason


@needs_c
def test_the_system_service_runs_portaudio(monkeypatch, tmp_path):
    """systemd/rtaudiod.service opens the card through ALSA: a system service has no session, so no XDG_RUNTIME_DIR
    and no PULSE_SERVER, and no user's sound server to reach (rtaudiod-user.service says why)."""
    for name in ("PULSE_SERVER", "XDG_RUNTIME_DIR", "PULSE_RUNTIME_PATH", "DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    choice, context = choose_backend(AudioConfig())
    assert choice.name == "pyaudio" and context is None and "no PulseAudio or PipeWire-pulse server" in choice.reason


def test_the_python_callbacks_run_portaudio():
    choice, _ = choose_backend(AudioConfig(callbacks="python"))
    assert choice.name == "pyaudio"
    if rtaudiod.backend() == "c":
        assert 'audio.callbacks = "python"' in choice.reason


def test_the_twins_build_runs_portaudio():
    if rtaudiod.backend() == "c":
        pytest.skip("the twins build (RTAUDIOD_NO_EXT=1) runs it")
    choice, _ = choose_backend(AudioConfig())
    assert choice.name == "pyaudio" and "pure-Python twins" in choice.reason


def test_a_backend_named_is_not_chosen():
    choice, context = choose_backend(AudioConfig(backend="null"))
    assert (choice.name, choice.auto, choice.reason, context) == ("null", False, 'audio.backend = "null"', None)


@needs_c
def test_the_pulse_backend_failing_to_open_falls_back_to_portaudio(pulse_server, engines, caplog):
    """A real refusal: the native backend gives the server no channel map, and the server refuses 7 channels
    without one, while PortAudio's pulse device opens them."""
    caplog.set_level(logging.WARNING, logger="rtaudiod.audio")
    engine = engines(AudioConfig(output_channels=7, output_rate=48000, capture=False), start=False)
    assert engine.backend.name == "pulse"
    engine.start()
    assert engine.backend.name == "pyaudio" and engine.output_stream.active
    choice = auto_choice(engine)
    assert choice["auto"] and choice["reason"].startswith("PortAudio: the native pulse backend failed to open (")
    assert "7 channel(s)" in choice["reason"]
    assert [r.message for r in caplog.records if "running on PortAudio instead" in r.message]
