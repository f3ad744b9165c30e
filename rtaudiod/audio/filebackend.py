"""Headless backends: WAV files and null, driven by a pacing thread instead of a sound card.

The pacing thread plays the device's part: every `frames / rate` seconds (absolute deadlines, so no
drift; a late tick is caught up, as a device's clock runs on) it calls the stream's callback. On the C path (open_input_c / open_output_c) that thread is C
(csrc/rta_pacer.c, clock_nanosleep) and runs the same C processors PortAudio's thread runs, so the tests and
benchmarks on these backends exercise the device path's code; it reads the whole input file up front and writes
the output file itself. The Python pacing thread below is its twin, for the Python callbacks. With realtime=False
it runs as fast as the data allows: input reads the file without waiting (stopping at its end), output writes
without waiting while the callback returns audio and falls back to real time while there is none (so an idle
engine does not write minutes of silence per second).
"""

import os
import struct
import threading
import time
import wave
from typing import Any

from rtaudiod._backend import load_c
from rtaudiod.audio.backend import Backend, DeviceInfo, InputCallback, OutputCallback, Stream, select_device
from rtaudiod.audio.errors import AudioDeviceError

#: A late tick is caught up (the next ones back to back), as a sound card's clock runs on while its callback is late;
#: only a pacer this far behind (a suspend) starts again from now. csrc/rta_pacer.c's CATCH_UP_NS.
CATCH_UP_S = 1.0


class _PacedStream(Stream):
    def __init__(self, device: DeviceInfo, rate: int, channels: int, frames: int, realtime: bool):
        self.device, self.rate, self.channels, self.frames = device, rate, channels, frames
        self._realtime = realtime
        self._period = frames / rate
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wav: wave.Wave_read | wave.Wave_write | None = None
        self.finished = threading.Event()  # set once an input file's last frame was delivered (fast mode stops there)

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"rtaudiod-{self.device.name}", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None

    def close(self) -> None:
        self.stop()
        if self._wav is not None:
            self._wav.close()
            self._wav = None

    @property
    def latency(self) -> float:
        return 0.0

    @property
    def active(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        deadline = time.monotonic()
        while not self._stop.is_set():
            try:
                paced = self._tick()
            except Exception as e:
                self._errors += 1
                self._last_error = e
                paced = True
            if paced is None:  # input exhausted in fast mode
                return
            if self._realtime or paced:
                deadline += self._period
                delay = deadline - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                elif delay < -CATCH_UP_S:  # stopped for long (a suspend): start again; else catch up at once
                    deadline = time.monotonic()
            else:
                deadline = time.monotonic()

    def _tick(self) -> bool | None:
        """One period; returns True to wait a period before the next, False to go on, None to end."""
        raise NotImplementedError


def _open_input(path: str, rate: int, channels: int) -> wave.Wave_read:
    """The WAV input, checked against the stream's format (AudioDeviceError, closed, when it differs)."""
    wav = wave.open(path, "rb")
    got = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth())
    if got != (rate, channels, 2):
        wav.close()
        raise AudioDeviceError(
            f"WAV input {path!r} is {got[0]} Hz, {got[1]} channel(s), {8 * got[2]}-bit; "
            f"the stream wants {rate} Hz, {channels} channel(s), 16-bit (set input_rate/input_channels)"
        )
    return wav


def _wav_header(rate: int, channels: int, data_bytes: int) -> bytes:
    """The 44-byte header of a PCM16 WAV file, as the wave module writes it (the C pacer rewrites both sizes)."""
    return struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + data_bytes, b"WAVE", b"fmt ", 16, 1, channels, rate,
                       rate * channels * 2, channels * 2, 16, b"data", data_bytes)


class _InputStream(_PacedStream):
    def __init__(self, device: DeviceInfo, rate: int, channels: int, frames: int, realtime: bool,
                 callback: InputCallback, path: str | None):
        super().__init__(device, rate, channels, frames, realtime)
        self._callback = callback
        self._silence = bytes(frames * channels * 2)
        self._wav = None if path is None else _open_input(path, rate, channels)

    def _tick(self) -> bool | None:
        if self._wav is None:
            self._callback(self._silence)
            return True
        data = self._wav.readframes(self.frames)
        short = len(data) < len(self._silence)
        if short:
            if not self._realtime and not data:
                self.finished.set()
                return None
            data += self._silence[len(data):]  # pad the last frame (and feed silence after the end)
        self._callback(data)
        if short:  # only now: a reader woken by `finished` finds the last frame delivered
            self.finished.set()
        return self._realtime


class _OutputStream(_PacedStream):
    """Writes into the backend's WAV writer (None: discards), which outlives the stream."""

    def __init__(self, device: DeviceInfo, rate: int, channels: int, frames: int, realtime: bool,
                 callback: OutputCallback, writer: wave.Wave_write | None):
        super().__init__(device, rate, channels, frames, realtime)
        self._callback = callback
        self._buf = bytearray(frames * channels * 2)
        self._view = memoryview(self._buf)
        self._writer = writer

    def _tick(self) -> bool:
        audio = self._callback(self._view)
        if self._writer is not None:
            self._writer.writeframes(self._buf)  # also rewrites the header: the file is valid at every step
        return not audio


class _Finished:
    """`finished` of a C-paced input stream, read like the threading.Event of the Python one."""

    def __init__(self, pacer: Any) -> None:
        self._pacer = pacer

    def is_set(self) -> bool:
        return self._pacer.finished

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self._pacer.finished and time.monotonic() < deadline:
            time.sleep(0.005)
        return self._pacer.finished


class _CPacedStream(Stream):
    """A null/wav stream on the C pacer (rtaudiod._ext._audio.PacedStream): no Python per period."""

    def __init__(self, device: DeviceInfo, rate: int, channels: int, frames: int, pacer: Any, on_stop: Any = None):
        self.device, self.rate, self.channels, self.frames = device, rate, channels, frames
        self._pacer, self._on_stop = pacer, on_stop
        self.finished = _Finished(pacer)

    def start(self) -> None:
        self._pacer.start()

    def stop(self) -> None:
        self._pacer.stop()
        if self._on_stop is not None:
            self._on_stop(self._pacer.out_bytes)

    def close(self) -> None:
        self.stop()

    @property
    def latency(self) -> float:
        return 0.0

    @property
    def active(self) -> bool:
        return self._pacer.active

    @property
    def callback_errors(self) -> int:
        return self._pacer.errors  # failed writes of the output file

    @property
    def last_error(self) -> BaseException | None:
        errno = self._pacer.last_errno
        return OSError(errno, os.strerror(errno)) if self._pacer.errors else None


class FileBackend(Backend):
    """`wav`: input from `input_path` (None: silence), output to `output_path` (None: discarded).
    With no paths it is the null backend."""

    def __init__(self, input_path: str | None = None, output_path: str | None = None, realtime: bool = True,
                 rate: int = 48000, channels: int = 2):
        self.name = "wav" if input_path or output_path else "null"
        self._input_path, self._output_path, self._realtime = input_path, output_path, realtime
        # Opened by the first output stream and kept until close(): a restart (stop, start) goes on in
        # the same file instead of starting an empty one over what was played. The C path writes it through a
        # descriptor of its own: [fd, rate, channels, bytes of data so far].
        self._writer: wave.Wave_write | None = None
        self._c_out: list[int] | None = None
        in_rate, in_ch = rate, channels
        if input_path is not None:
            try:
                with wave.open(input_path, "rb") as w:
                    in_rate, in_ch = w.getframerate(), w.getnchannels()
            except (OSError, wave.Error, EOFError) as e:
                raise AudioDeviceError(f"cannot read WAV input {input_path!r}: {e}") from None
        self._devices = [
            DeviceInfo(0, input_path or "null input", in_ch, 0, in_rate, self.name),
            DeviceInfo(1, output_path or "null output", 0, channels, rate, self.name),
        ]

    def devices(self) -> list[DeviceInfo]:
        return list(self._devices)

    def resolve(self, device: int | str | None, output: bool) -> DeviceInfo:
        return select_device(self._devices, device, 1 if output else 0, output)

    def open_input(self, device: DeviceInfo, rate: int, channels: int, frames: int, callback: InputCallback) -> Stream:
        try:
            return _InputStream(device, rate, channels, frames, self._realtime, callback, self._input_path)
        except (OSError, wave.Error, EOFError) as e:  # the file changed or went away since the backend read it
            raise AudioDeviceError(f"cannot read WAV input {self._input_path!r}: {e}") from None

    def open_output(self, device: DeviceInfo, rate: int, channels: int, frames: int, callback: OutputCallback) -> Stream:
        if self._output_path is not None:
            if self._writer is None:
                try:
                    self._writer = wave.open(self._output_path, "wb")
                except OSError as e:
                    raise AudioDeviceError(f"cannot write WAV output {self._output_path!r}: {e}") from None
                self._writer.setnchannels(channels)
                self._writer.setsampwidth(2)
                self._writer.setframerate(rate)
            elif (self._writer.getframerate(), self._writer.getnchannels()) != (rate, channels):
                raise AudioDeviceError(
                    f"WAV output {self._output_path!r} is already {self._writer.getframerate()} Hz, "
                    f"{self._writer.getnchannels()} channel(s); cannot go on at {rate} Hz, {channels} channel(s)"
                )
        return _OutputStream(device, rate, channels, frames, self._realtime, callback, self._writer)

    def open_input_c(self, device: DeviceInfo, rate: int, channels: int, frames: int, capture: Any) -> Stream:
        data = None
        if self._input_path is not None:
            try:
                with _open_input(self._input_path, rate, channels) as wav:
                    data = wav.readframes(wav.getnframes())
            except (OSError, wave.Error, EOFError) as e:
                raise AudioDeviceError(f"cannot read WAV input {self._input_path!r}: {e}") from None
        pacer = load_c("audio").PacedStream(capture, rate, channels, frames, self._realtime, input_frames=data)
        return _CPacedStream(device, rate, channels, frames, pacer)

    def open_output_c(self, device: DeviceInfo, rate: int, channels: int, frames: int, playout: Any) -> Stream:
        fd, data_bytes = -1, 0
        if self._output_path is not None:
            if self._c_out is None:
                try:
                    fd = os.open(self._output_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                except OSError as e:
                    raise AudioDeviceError(f"cannot write WAV output {self._output_path!r}: {e}") from None
                os.write(fd, _wav_header(rate, channels, 0))
                self._c_out = [fd, rate, channels, 0]
            elif self._c_out[1:3] != [rate, channels]:
                raise AudioDeviceError(
                    f"WAV output {self._output_path!r} is already {self._c_out[1]} Hz, {self._c_out[2]} channel(s); "
                    f"cannot go on at {rate} Hz, {channels} channel(s)"
                )
            fd, data_bytes = self._c_out[0], self._c_out[3]

        def stopped(out_bytes: int) -> None:
            if self._c_out is not None:
                self._c_out[3] = out_bytes

        pacer = load_c("audio").PacedStream(playout, rate, channels, frames, self._realtime, out_fd=fd,
                                            out_data_bytes=data_bytes)
        return _CPacedStream(device, rate, channels, frames, pacer, stopped)

    def close(self) -> None:
        """Finish the WAV output file."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._c_out is not None:
            os.close(self._c_out[0])
            self._c_out = None
