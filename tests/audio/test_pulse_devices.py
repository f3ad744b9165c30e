"""The private PulseAudio server is reachable through PortAudio, and device errors are clear."""

import pytest

from rtaudiod.audio import AudioConfig, AudioDeviceError, AudioEngine, list_devices


def test_pyaudio_sees_pulse_devices(pulse_server, capfd):
    devices = list_devices()
    names = [d.name for d in devices]
    assert "pulse" in names and "default" in names
    pulse = devices[names.index("pulse")]
    assert pulse.max_input_channels > 0 and pulse.max_output_channels > 0 and pulse.default_rate > 0
    assert capfd.readouterr().err == ""  # PortAudio's ALSA/JACK probing noise is hidden
