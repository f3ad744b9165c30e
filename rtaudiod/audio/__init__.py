"""The audio engine: devices (PyAudio, WAV, null), capture, playout, barge-in and played-sample accounting.

See engine.py for the facade, backend.py for the device interface and why it is callback-driven.
"""

from rtaudiod.audio.backend import Backend, DeviceInfo, Stream
from rtaudiod.audio.config import LATENCY_MODES, AudioConfig, LatencyMode
from rtaudiod.audio.engine import AudioEngine, make_backend
from rtaudiod.audio.errors import AudioDeviceError
from rtaudiod.audio.filebackend import FileBackend


def list_devices() -> list[DeviceInfo]:
    """Every PortAudio device (name, index, max in/out channels, default rate); PortAudio's noise hidden."""
    from rtaudiod.audio.pyaudio_backend import list_devices as _list

    return _list()


__all__ = [
    "AudioConfig", "AudioDeviceError", "AudioEngine", "Backend", "DeviceInfo", "FileBackend", "LATENCY_MODES",
    "LatencyMode", "Stream", "list_devices", "make_backend",
]
