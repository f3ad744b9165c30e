"""`audio.backend = "auto"` (the default): the sound server natively where the daemon's devices are its own, PortAudio
elsewhere.

The native pulse backend (pulse_backend.py) costs 1.1-1.3x the null backend's CPU where PortAudio's way to the same
server, through ALSA's pulse plugin, costs 2.9-6x (docs/performance.md). It is picked when all of these hold:
  - the C callbacks run (the C extension, `callbacks = "c"`): the pulse backend has no Python callbacks;
  - every device in use names the sound server's default (unset, "pulse", "default" or "pipewire"): an index or any
    other name is an entry of PortAudio's device list (a card opened through ALSA, as the system service does);
  - a PulseAudio or PipeWire-pulse server answers, within CONNECT_TIMEOUT_S. The connection is kept for the backend.
Otherwise PortAudio ("pyaudio"). When the pulse backend then fails to open its streams, the engine falls back to
PortAudio too (AudioEngine.start).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rtaudiod._backend import load_c
from rtaudiod.audio.echo import names_sound_server

#: How long `auto` waits for the sound server to answer (a local one answers in milliseconds; a hung one never).
CONNECT_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class BackendChoice:
    """The backend that runs and why, in one line for the log and `status`; `auto`: chosen by audio.backend = "auto"."""

    name: str
    reason: str
    auto: bool = False


def choose_backend(config: Any) -> tuple[BackendChoice, Any]:
    """The backend for `config` (an AudioConfig), and for `pulse` chosen by `auto` the sound server's connection
    (an rtaudiod._ext._audio.PulseContext) it made to ask, else None."""
    if config.backend != "auto":
        return BackendChoice(config.backend, f'audio.backend = "{config.backend}"'), None
    c = load_c("audio")
    if c is None:
        return _portaudio("this build runs the pure-Python twins (RTAUDIOD_NO_EXT=1, or the C extension did not "
                          "build), and the native pulse backend is C only"), None
    if config.callbacks == "python":
        return _portaudio('audio.callbacks = "python", and the native pulse backend runs the C callbacks only'), None
    for key, used in (("output_device", config.playout), ("input_device", config.capture)):
        device = getattr(config, key)
        if used and not names_sound_server(device):
            return _portaudio(f"audio.{key} = {device!r} is a device of PortAudio's list, not the sound server's "
                              f"default"), None
    try:
        context = c.PulseContext("rtaudiod", CONNECT_TIMEOUT_S)
    except OSError as e:
        return _portaudio(f"no PulseAudio or PipeWire-pulse server answers ({e})"), None
    return BackendChoice("pulse", "the sound server natively: it answers, and the devices are its defaults",
                         auto=True), context


def _portaudio(why: str) -> BackendChoice:
    return BackendChoice("pyaudio", f"PortAudio: {why}", auto=True)
