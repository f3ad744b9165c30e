"""The small interface every audio backend implements (PyAudio, WAV file, null).

Callback style, chosen over blocking reads/writes for one reason: barge-in. A blocking playback thread
fills its next buffer *before* `write()` waits for room, so a flush finds one stale buffer already on
its way to the device; a callback fills the buffer at the moment the device asks for it, so a flush
is heard within the device's own buffering (measured ~25 ms with 10 ms periods on PulseAudio). The
device is the clock for both directions, and underruns are impossible to miss: the device asks, the
callback must answer now, with silence if the ring is dry.

Two ways to run the callbacks. The C path (`open_input_c` / `open_output_c`, the default): the stream calls the
C processors of csrc/rta_audio.c on PortAudio's own thread or on the C pacer's (csrc/rta_pacer.c), which never take
the GIL, so no Python runs per period and a GIL held for long is not heard. The Python path (`open_input` /
`open_output`, below; `callbacks = "python"`, and the build without the extension): Python callbacks on PortAudio's
thread through PyAudio, or on a Python pacing thread. They take the GIL, so the rest of the daemon must not hold
it for long.
Measured on PulseAudio with two CPU-bound Python threads running: at the default 5 ms switch interval
PortAudio reported 16 output underflows in 3 s (balanced; 61 in low); with sys.setswitchinterval(0.001)
none. The daemon should set 1 ms (it is process-wide, so the engine does not). Callbacks
never log, wait or do I/O: ring reads/writes, numpy on preallocated buffers, counters. What we cannot
avoid from Python: PyAudio builds a bytes object for each input buffer and accepts only bytes back
from an output callback (one 1.9 KB copy per 10 ms), python-soxr returns a fresh array per chunk, and
numpy makes a few small temporaries. Measured cost per 20 ms frame: benchmarks/bench_audio.py.

    input callback:  callback(data)  - `data` holds `frames` interleaved int16 frames of the device.
    output callback: callback(buf) -> bool - fill the writable `buf` (frames x channels int16) completely;
                     return True when it holds real audio, False for pure silence (file backends use this
                     to pace idle time in real time when running as fast as possible).
"""

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rtaudiod.audio.errors import AudioDeviceError

InputCallback = Callable[[bytes], None]
OutputCallback = Callable[[memoryview], bool]


@dataclass(frozen=True)
class DeviceInfo:
    """One device as the backend sees it."""

    index: int
    name: str
    max_input_channels: int
    max_output_channels: int
    default_rate: int
    host_api: str = ""

    def channels(self, output: bool) -> int:
        return self.max_output_channels if output else self.max_input_channels


class Stream(ABC):
    """An open input or output stream; created stopped."""

    device: DeviceInfo
    rate: int
    channels: int
    frames: int  # frames per callback

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None:
        """Stop calling back (waits for a callback in progress to return)."""

    @abstractmethod
    def close(self) -> None:
        """Release the device; stops first. Safe to call twice."""

    def flush(self, playout: Any) -> None:
        """Barge-in: ask `playout` (this output's) to flush. The next callback serves it; a backend that can serves
        it now and drops what the device still queues (the pulse backend)."""
        playout.flush()

    @property
    @abstractmethod
    def latency(self) -> float:
        """Seconds between a sample crossing the callback and it being heard (output) or from it being
        captured to the callback (input), as the backend reports it."""

    @property
    def active(self) -> bool:
        """True while the device calls back (False once stopped, or when the device went away)."""
        return False

    # Counters a backend's stream updates from its callback thread.
    _xruns = 0
    _errors = 0
    _last_error: BaseException | None = None

    @property
    def xruns(self) -> int:
        """Device-level under/overflows reported by the backend (not the rings' counters)."""
        return self._xruns

    @property
    def callback_errors(self) -> int:
        """Exceptions raised by the callback (the stream kept running; see last_error)."""
        return self._errors

    @property
    def last_error(self) -> BaseException | None:
        return self._last_error


class CStream(Stream):
    """A stream of the extension whose callback is a C processor (PortAudio's `PaStream`, the sound server's
    `PulseStream`): everything is delegated to it."""

    def __init__(self, stream: Any, device: DeviceInfo, rate: int, channels: int, frames: int, output: bool):
        self._stream, self._output = stream, output
        self.device, self.rate, self.channels, self.frames = device, rate, channels, frames

    def start(self) -> None:
        try:
            self._stream.start()
        except OSError as e:
            raise start_error(self.device, self._output, e) from None

    def stop(self) -> None:
        self._stream.stop()

    def close(self) -> None:
        self._stream.close()

    @property
    def latency(self) -> float:
        return self._stream.latency

    @property
    def active(self) -> bool:
        return self._stream.active

    @property
    def xruns(self) -> int:
        return self._stream.xruns


def start_error(device: DeviceInfo, output: bool, e: Exception) -> AudioDeviceError:
    kind = "output" if output else "input"
    return AudioDeviceError(f"cannot start {kind} device {device.index} {device.name!r}: {e}")


class Backend(ABC):
    """Opens streams on devices. One instance per engine; close() releases everything it holds."""

    name: str

    @abstractmethod
    def devices(self) -> list[DeviceInfo]: ...

    @abstractmethod
    def resolve(self, device: int | str | None, output: bool) -> DeviceInfo:
        """The device for an index, a name substring or None (the default); AudioDeviceError otherwise."""

    @abstractmethod
    def open_input(self, device: DeviceInfo, rate: int, channels: int, frames: int, callback: InputCallback) -> Stream: ...

    @abstractmethod
    def open_output(self, device: DeviceInfo, rate: int, channels: int, frames: int, callback: OutputCallback) -> Stream: ...

    def open_input_c(self, device: DeviceInfo, rate: int, channels: int, frames: int, capture: Any) -> Stream:
        """A stream whose own thread runs `capture` (rtaudiod._ext._audio.Capture) every period, without Python."""
        raise NotImplementedError(f"the {self.name} backend has no C callbacks")

    def open_output_c(self, device: DeviceInfo, rate: int, channels: int, frames: int, playout: Any) -> Stream:
        """A stream whose own thread runs `playout` (rtaudiod._ext._audio.Playout) every period, without Python."""
        raise NotImplementedError(f"the {self.name} backend has no C callbacks")

    def close(self) -> None:
        """Release the backend (PyAudio's terminate)."""


def _available(kind: str, devices: list[DeviceInfo]) -> str:
    """The end of a device error: the listing, or one clause when there is nothing to list (the error's first line
    is then whole: the daemon logs only that line when it falls back to the null backend)."""
    if not devices:
        return f"available {kind} devices: none (is a sound server running, or a card present?)"
    return f"available {kind} devices:\n{describe_devices(devices)}"


def describe_devices(devices: list[DeviceInfo]) -> str:
    """A short listing for error messages: `0 "pulse" (in 32, out 32, 44100 Hz)`, one per line."""
    if not devices:
        return "  (no devices: is a sound server running, or a card present?)"
    return "\n".join(
        f"  {d.index} {d.name!r} (in {d.max_input_channels}, out {d.max_output_channels}, {d.default_rate} Hz)"
        for d in devices
    )


def select_device(devices: list[DeviceInfo], device: int | str | None, default: int | None, output: bool) -> DeviceInfo:
    """Pick a device by index, by name (exact first, then case-insensitive substring) or the default.

    The device must have channels in the wanted direction. Raises AudioDeviceError naming the request
    and listing what exists.
    """
    kind = "output" if output else "input"
    usable = [d for d in devices if d.channels(output) > 0]
    if device is None:
        found = [d for d in usable if d.index == default]
        if not found:
            raise AudioDeviceError(f"no default {kind} device; {_available(kind, usable)}")
        return found[0]
    if isinstance(device, int):
        found = [d for d in devices if d.index == device]
        if not found:
            raise AudioDeviceError(f"no {kind} device with index {device}; {_available(kind, usable)}")
        if found[0].channels(output) == 0:
            raise AudioDeviceError(
                f"device {device} {found[0].name!r} has no {kind} channels; {_available(kind, usable)}"
            )
        return found[0]
    exact = [d for d in usable if d.name == device]
    if exact:
        return exact[0]
    partial = [d for d in usable if device.lower() in d.name.lower()]
    if not partial:
        raise AudioDeviceError(f"no {kind} device matches {device!r}; {_available(kind, usable)}")
    return partial[0]
