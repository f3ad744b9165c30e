"""Device problems give one clear AudioDeviceError naming the device and the options (PortAudio's devices: these
pin backend = "pyaudio"; the native pulse backend's are in test_pulse_backend.py)."""

import os

import numpy as np
import pytest

from audiohelpers import wait_for, write_wav
from rtaudiod.audio import AudioConfig, AudioDeviceError, AudioEngine


def start_error(config: AudioConfig) -> AudioDeviceError:
    engine = AudioEngine(config)
    try:
        with pytest.raises(AudioDeviceError) as info:
            engine.start()
        assert engine.input_stream is None and engine.output_stream is None  # nothing left open
    finally:
        engine.close()
    err = info.value
    assert err.__cause__ is None and (err.__context__ is None or err.__suppress_context__)
    return err


def test_unknown_device_name_lists_the_options(pulse_server):
    err = start_error(AudioConfig(backend="pyaudio", output_device="no-such-card", capture=False))
    msg = str(err)
    assert "'no-such-card'" in msg and "output" in msg
    assert "'pulse'" in msg and "'default'" in msg


def test_unknown_device_index(pulse_server):
    msg = str(start_error(AudioConfig(backend="pyaudio", input_device=99, playout=False)))
    assert "index 99" in msg and "'pulse'" in msg


def test_input_failure_closes_the_output_already_open(pulse_server):
    """The output opens first (a PulseAudio sink input appears); the input then fails: the output must be
    closed by start() itself, before the caller's close()."""

    def sink_inputs() -> int:
        return len(pulse_server.pactl("list", "short", "sink-inputs").splitlines())

    before = sink_inputs()
    engine = AudioEngine(AudioConfig(backend="pyaudio", output_device="pulse", input_device="nope"))
    try:
        with pytest.raises(AudioDeviceError, match="'nope'"):
            engine.start()
        wait_for(lambda: sink_inputs() <= before, 2, "the output's sink input to go away")
    finally:
        engine.close()


def test_device_without_channels_in_that_direction(tmp_path):
    msg = str(start_error(AudioConfig(backend="null", output_device=0)))
    assert "device 0 'null input' has no output channels" in msg


def test_no_sound_server(monkeypatch, tmp_path):
    """With no server to reach PortAudio offers no device: the error says so instead of a traceback."""
    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path}/nothing-here")
    conf = tmp_path / "client.conf"
    conf.write_text("autospawn = no\n")
    monkeypatch.setenv("PULSE_CLIENTCONFIG", str(conf))
    msg = str(start_error(AudioConfig(backend="pyaudio", output_device="pulse", capture=False)))
    assert "'pulse'" in msg and "available output devices" in msg


def test_wav_input_in_another_format(tmp_path):
    path = write_wav(tmp_path / "in.wav", np.zeros(160, np.int16), 16000)
    msg = str(start_error(AudioConfig(backend="wav", wav_input=str(path), input_rate=48000, playout=False)))
    assert str(path) in msg and "16000 Hz" in msg and "48000 Hz" in msg


def test_missing_wav_input(tmp_path):
    with pytest.raises(AudioDeviceError, match="cannot read WAV input"):
        AudioEngine(AudioConfig(backend="wav", wav_input=str(tmp_path / "missing.wav")))


def test_wav_input_gone_by_the_time_the_stream_opens(tmp_path):
    path = write_wav(tmp_path / "in.wav", np.zeros(480, np.int16), 24000)
    engine = AudioEngine(AudioConfig(backend="wav", wav_input=path, playout=False))
    os.unlink(path)  # e.g. a restart after the file was rotated away
    try:
        with pytest.raises(AudioDeviceError, match="cannot read WAV input"):
            engine.start()
    finally:
        engine.close()
