"""The sound server's streams natively (libpulse: PulseAudio, or PipeWire's pulse server), C callbacks only.

PortAudio reaches a sound server through ALSA's `pulse` plugin: two threads a stream, woken about ten times a
period, and a server buffer as small as a device's because a flush cannot reach it (docs/performance.md: 2.8-3.8x the
CPU of the null backend). Here one mainloop thread (csrc/rta_pulse.c) serves both streams, once per server request;
the playback buffer is the latency mode's `server_buffer_ms` (requests of `server_period_ms`), the capture's
fragment its `uplink_ms` (the uplink sends that much at once: it waits for it anyway), and a barge-in drops the
server's queue (`Stream.flush`), so the speaker goes quiet after the fade.

Devices: None, "pulse", "default" or "pipewire" is the server's default sink or source; any other name is a sink or
source name (`pactl list short sinks`), passed to the server as it is.
"""

from __future__ import annotations

from typing import Any

from rtaudiod._backend import load_c
from rtaudiod.audio.backend import Backend, CStream, DeviceInfo, InputCallback, OutputCallback, Stream
from rtaudiod.audio.backend_choice import CONNECT_TIMEOUT_S
from rtaudiod.audio.echo import names_sound_server
from rtaudiod.audio.errors import AudioDeviceError
#: What a device is opened at when the config names no rate or channels: the server converts to its sink's format.
DEFAULT_RATE, DEFAULT_CHANNELS = 48000, 2


def _device(name: str) -> DeviceInfo:
    """A sink or source by name: the server converts whatever the config asks to its format."""
    return DeviceInfo(index=0, name=name, max_input_channels=DEFAULT_CHANNELS, max_output_channels=DEFAULT_CHANNELS,
                      default_rate=DEFAULT_RATE, host_api="PulseAudio")


class _PulseStream(CStream):
    def flush(self, playout: Any) -> None:
        """Barge-in: the playout's flush asked and served now under the mainloop's lock, and the server's queue
        dropped (csrc/rta_pulse.h)."""
        self._stream.flush()


class PulseBackend(Backend):
    """One connection to the sound server (reconnected when it was lost), C callbacks only."""

    name = "pulse"

    def __init__(self, server_buffer_ms: int, server_period_ms: int, fragment_ms: int, role: str | None = None,
                 context: Any = None) -> None:
        self.server_buffer_ms, self.server_period_ms, self.role = server_buffer_ms, server_period_ms, role
        self.fragment_ms = fragment_ms
        self._c = load_c("audio")
        # Connected at the first open, so a missing server is the start's error; or given (`auto` asked the server).
        self._context: Any = context

    def _connect(self) -> Any:
        if self._context is None or not self._context.connected:
            self._context = None  # disconnected once the streams opened on it are gone (they hold it)
            try:
                self._context = self._c.PulseContext("rtaudiod", CONNECT_TIMEOUT_S)
            except OSError as e:
                raise AudioDeviceError(f"the pulse backend: {e} (is PulseAudio or PipeWire's pulse server running "
                                       f"for this user? PULSE_SERVER names another one)") from None
        return self._context

    def devices(self) -> list[DeviceInfo]:
        return [_device("pulse")]

    def resolve(self, device: int | str | None, output: bool) -> DeviceInfo:
        if isinstance(device, int):
            raise AudioDeviceError(f"the pulse backend names devices, not indices: got {device} (None, 'pulse', "
                                   f"'default' or 'pipewire' for the server's default, or a name from `pactl list "
                                   f"short {'sinks' if output else 'sources'}`)")
        return _device("pulse" if names_sound_server(device) else device)

    def _open(self, device: DeviceInfo, rate: int, channels: int, frames: int, proc: Any, output: bool) -> Stream:
        context = self._connect()
        name = None if names_sound_server(device.name) else device.name
        period = rate * (self.server_period_ms if output else self.fragment_ms) // 1000
        buffer = rate * self.server_buffer_ms // 1000
        try:
            stream = self._c.PulseStream(context, proc, name, rate, channels, frames, buffer, period,
                                         self.role if output else None)
        except OSError as e:
            kind = "output" if output else "input"
            raise AudioDeviceError(f"cannot open {kind} device {device.name!r} at {rate} Hz, {channels} channel(s) "
                                   f"on the sound server: {e}") from None
        return _PulseStream(stream, device, rate, channels, frames, output)

    def open_input_c(self, device: DeviceInfo, rate: int, channels: int, frames: int, capture: Any) -> Stream:
        return self._open(device, rate, channels, frames, capture, output=False)

    def open_output_c(self, device: DeviceInfo, rate: int, channels: int, frames: int, playout: Any) -> Stream:
        return self._open(device, rate, channels, frames, playout, output=True)

    def open_input(self, device: DeviceInfo, rate: int, channels: int, frames: int, callback: InputCallback) -> Stream:
        raise AudioDeviceError('the pulse backend runs the C callbacks only: audio.callbacks = "python" needs '
                               'backend = "pyaudio"')

    def open_output(self, device: DeviceInfo, rate: int, channels: int, frames: int, callback: OutputCallback) -> Stream:
        return self.open_input(device, rate, channels, frames, callback)

    def close(self) -> None:
        self._context = None
