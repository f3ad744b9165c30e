"""Capture: the device's input callback → session-rate mono int16 in the capture ring.

Per device frame: down-mix, resample (soxr), software gain, RMS/peak levels, then mute or half-duplex
gating (the frame is replaced by silence, so the uplink keeps its timing and the server's VAD hears
silence), then one non-blocking ring write. A full ring drops the rest of the frame and counts it
(the ring's `overruns` and our `dropped_bytes`): the device is never made to wait.
"""

import time

import numpy as np

from rtaudiod.audio.dsp import Downmixer, LevelMeter, Resampler
from rtaudiod.ring import RingBuffer


class Capture:
    def __init__(self, ring: RingBuffer, device_rate: int, channels: int, frames: int, session_rate: int,
                 quality: str, gain_db: float = 0.0):
        self.ring = ring
        self.device_rate, self.channels, self.frames, self.session_rate = device_rate, channels, frames, session_rate
        self._downmix = Downmixer(channels, frames)
        self._resampler = Resampler(device_rate, session_rate, quality)
        self._meter = LevelMeter(frames * 2)
        self._silence = np.zeros(frames * 2, np.int16)
        self.gain = 10 ** (gain_db / 20)
        self.muted = False
        self.gate_until = None  # a callable giving the monotonic time until which the mic is gated, or None
        self.gated = False
        # A second reader of the microphone (the wake-word detector): mono at the device rate, written before the
        # resampler and the half-duplex gate (the wake word must be heard over a reply), never while muted.
        self.tap: RingBuffer | None = None
        # Counters and levels (read from any thread).
        self.frames_in = 0
        self.bytes_written = 0
        self.dropped_bytes = 0
        self.gated_frames = 0

    @property
    def rms(self) -> float:
        return self._meter.rms

    @property
    def peak(self) -> float:
        return self._meter.peak

    def set_gain_db(self, gain_db: float) -> None:
        self.gain = 10 ** (gain_db / 20)

    def close(self) -> None:
        """The stream has stopped for good: release the soxr stream."""
        self._resampler.close()

    def feed(self, data: bytes) -> None:
        """Input callback."""
        self.frames_in += 1
        mono = self._downmix.process(data)
        tap = self.tap
        if tap is not None and not self.muted:
            tap.write(mono)  # full: the detector is behind, and the rest of this frame is dropped (counted)
        x = self._resampler.process(mono)
        x = self._meter.process(x, self.gain)
        gate = self.gate_until
        self.gated = gate is not None and time.monotonic() < gate()
        if self.gated:
            self.gated_frames += 1
        if self.muted or self.gated:
            x = self._silence[: len(x)] if len(x) <= len(self._silence) else np.zeros_like(x)
        n = len(x) * 2
        if n:
            written = self.ring.write(x)
            self.bytes_written += written
            self.dropped_bytes += n - written
