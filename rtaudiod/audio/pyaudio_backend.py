"""Real devices through PortAudio, in callback mode (see backend.py for why).

PyAudio lists and resolves the devices. The streams are PortAudio's either way: on the C path (open_*_c) opened by
the extension with a C callback (csrc/rta_pa.c) that runs the C processors and never takes the GIL; on the Python
path through PyAudio, whose callbacks are Python (the contrast: a GIL held for long is an underrun there).
"""

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any

import pyaudio
from pyaudio import _portaudio as pa_module  # abort_stream: PyAudio's Stream offers only the draining stop

from rtaudiod._backend import load_c
from rtaudiod.audio.backend import (
    Backend, CStream, DeviceInfo, InputCallback, OutputCallback, Stream, select_device, start_error,
)
from rtaudiod.audio.errors import AudioDeviceError


# Two threads swapping fd 2 at once would each save the other's /dev/null and one would put it back
# for good: one swap at a time (reentrant, for a nested use in one thread).
_stderr_lock = threading.RLock()


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Send fd 2 to /dev/null: PortAudio's ALSA and JACK probes print ~80 lines of harmless noise.

    Process-wide for the duration (another thread's stderr is lost meanwhile), so keep it short:
    around PyAudio() and around opening a stream.
    """
    with _stderr_lock:
        saved = os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(null)


def _device_info(pa: pyaudio.PyAudio, index: int) -> DeviceInfo:
    info = pa.get_device_info_by_index(index)
    host = pa.get_host_api_info_by_index(info["hostApi"])["name"]
    return DeviceInfo(
        index=index,
        name=str(info["name"]),
        max_input_channels=int(info["maxInputChannels"]),
        max_output_channels=int(info["maxOutputChannels"]),
        default_rate=int(info["defaultSampleRate"]),
        host_api=str(host),
    )


def list_devices() -> list[DeviceInfo]:
    """Every device PortAudio sees (a fresh PyAudio, terminated before returning)."""
    with quiet_stderr():
        pa = pyaudio.PyAudio()
    try:
        return [_device_info(pa, i) for i in range(pa.get_device_count())]
    finally:
        pa.terminate()


def _open_error(device: DeviceInfo, rate: int, channels: int, frames: int, output: bool, e: Exception) -> AudioDeviceError:
    kind = "output" if output else "input"
    return AudioDeviceError(
        f"cannot open {kind} device {device.index} {device.name!r} at {rate} Hz, {channels} channel(s), "
        f"{frames} frames per buffer: {e} (busy, or a format it does not offer; "
        f"it has {device.channels(output)} {kind} channels, default rate {device.default_rate} Hz)"
    )


def _c_stream(device: DeviceInfo, rate: int, channels: int, frames: int, processor: Any, output: bool) -> Stream:
    """A PortAudio stream opened by the extension: PortAudio's thread runs the C processor (no GIL, ever)."""
    try:
        with quiet_stderr():
            stream = load_c("audio").PaStream(processor, device.index, rate, channels, frames)
    except OSError as e:
        raise _open_error(device, rate, channels, frames, output, e) from None
    return CStream(stream, device, rate, channels, frames, output)


class _PaStream(Stream):
    def __init__(self, pa: pyaudio.PyAudio, device: DeviceInfo, rate: int, channels: int, frames: int, output: bool):
        self.device, self.rate, self.channels, self.frames = device, rate, channels, frames
        self._output = output
        kind = "output" if output else "input"
        try:
            with quiet_stderr():
                self._stream = pa.open(
                    rate=rate,
                    channels=channels,
                    format=pyaudio.paInt16,
                    input=not output,
                    output=output,
                    input_device_index=None if output else device.index,
                    output_device_index=device.index if output else None,
                    frames_per_buffer=frames,
                    start=False,
                    stream_callback=self._callback,
                )
        except (OSError, ValueError) as e:
            raise _open_error(device, rate, channels, frames, output, e) from None
        self._closed = False

    def _callback(self, in_data, frame_count, time_info, status):  # noqa: ANN001 - PortAudio's signature
        raise NotImplementedError

    def start(self) -> None:
        try:
            self._stream.start_stream()
        except OSError as e:  # the device went away or was taken between open and start
            raise start_error(self.device, self._output, e) from None

    def stop(self) -> None:
        if not self._closed and not self._stream.is_stopped():
            self._stream.stop_stream()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self._stop_quietly()
            finally:
                self._stream.close()

    def _stop_quietly(self) -> None:
        """stop() for close(), as an abort: Pa_StopStream waits until the device has played every pending buffer,
        which a stalled sound server can stretch to seconds (a daemon's SIGTERM must not wait on it); the audio
        still queued is being thrown away anyway. A device that fails to stop (unplugged) must still be closed."""
        try:
            if not self._stream.is_stopped():
                pa_module.abort_stream(self._stream._stream)
        except OSError:
            pass

    @property
    def latency(self) -> float:
        return self._stream.get_output_latency() if self._output else self._stream.get_input_latency()

    @property
    def active(self) -> bool:
        return not self._closed and self._stream.is_active()


class _PaInput(_PaStream):
    def __init__(self, pa: pyaudio.PyAudio, device: DeviceInfo, rate: int, channels: int, frames: int, callback: InputCallback):
        self._user = callback
        super().__init__(pa, device, rate, channels, frames, output=False)

    def _callback(self, in_data, frame_count, time_info, status):  # noqa: ANN001
        if status:
            self._xruns += 1
        try:
            self._user(in_data)
        except Exception as e:  # keep the device running; the engine reports it
            self._errors += 1
            self._last_error = e
        return (None, pyaudio.paContinue)


class _PaOutput(_PaStream):
    def __init__(self, pa: pyaudio.PyAudio, device: DeviceInfo, rate: int, channels: int, frames: int, callback: OutputCallback):
        self._user = callback
        self._buf = bytearray(frames * channels * 2)
        self._view = memoryview(self._buf)
        super().__init__(pa, device, rate, channels, frames, output=True)

    def _callback(self, in_data, frame_count, time_info, status):  # noqa: ANN001
        if status:
            self._xruns += 1
        view = self._view if frame_count == self.frames else memoryview(bytearray(frame_count * self.channels * 2))
        try:
            self._user(view)
        except Exception as e:
            self._errors += 1
            self._last_error = e
            view[:] = bytes(len(view))
        # PyAudio parses the result with "z#", which takes bytes only (no memoryview/bytearray): one
        # copy per callback, 1.9 KB for 10 ms of 48 kHz stereo.
        return (bytes(view), pyaudio.paContinue)


class PyAudioBackend(Backend):
    """PortAudio devices. Holds one PyAudio instance until close()."""

    name = "pyaudio"

    def __init__(self) -> None:
        with quiet_stderr():
            self._pa = pyaudio.PyAudio()

    def devices(self) -> list[DeviceInfo]:
        return [_device_info(self._pa, i) for i in range(self._pa.get_device_count())]

    def resolve(self, device: int | str | None, output: bool) -> DeviceInfo:
        default = None
        if device is None:
            with contextlib.suppress(OSError):  # PortAudio raises when there is no default device
                info = self._pa.get_default_output_device_info() if output else self._pa.get_default_input_device_info()
                default = int(info["index"])
        return select_device(self.devices(), device, default, output)

    def open_input(self, device: DeviceInfo, rate: int, channels: int, frames: int, callback: InputCallback) -> Stream:
        return _PaInput(self._pa, device, rate, channels, frames, callback)

    def open_output(self, device: DeviceInfo, rate: int, channels: int, frames: int, callback: OutputCallback) -> Stream:
        return _PaOutput(self._pa, device, rate, channels, frames, callback)

    def open_input_c(self, device: DeviceInfo, rate: int, channels: int, frames: int, capture: Any) -> Stream:
        return _c_stream(device, rate, channels, frames, capture, output=False)

    def open_output_c(self, device: DeviceInfo, rate: int, channels: int, frames: int, playout: Any) -> Stream:
        return _c_stream(device, rate, channels, frames, playout, output=True)

    def close(self) -> None:
        if self._pa is not None:
            self._pa.terminate()
            self._pa = None
