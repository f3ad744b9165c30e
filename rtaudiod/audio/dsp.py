"""Sample-format work at the device edge: down-mix, resample, gain, levels, fades.

Everything is int16 mono at the session rate after the edge. Buffers are allocated once and reused;
python-soxr's resample_chunk returns a fresh (small) array per call, which we cannot avoid from Python.
"""

import math

import numpy as np
import soxr

from rtaudiod.audio.levels import EDGE_QUIET, FULL_SCALE, dbfs  # noqa: F401 - their old home


class Resampler:
    """Streaming mono int16 resampler (soxr ResampleStream); identity when the rates match.

    soxr runs in float32: its int16 output is dithered (+-1 LSB noise even on silence), and we want
    silence to stay silence and equal rates to stay bit-exact. Samples are scaled to [-1, 1): soxr
    clips float output there.
    """

    def __init__(self, in_rate: int, out_rate: int, quality: str, max_in: int = 4096):
        self.in_rate, self.out_rate = in_rate, out_rate
        self._stream = None
        if in_rate != out_rate:
            self._stream = soxr.ResampleStream(in_rate, out_rate, 1, dtype="float32", quality=quality)
        self._f = np.empty(max_in, np.float32)
        self._out = np.empty(max_in * out_rate // in_rate + 4096, np.int16)

    def process(self, x: np.ndarray, last: bool = False) -> np.ndarray:
        """Resample `x`; the result is valid until the next call."""
        if self._stream is None:
            if self.in_rate != self.out_rate:
                raise RuntimeError("Resampler.process() after close()")
            return x
        if len(x) > len(self._f):
            self._f = np.empty(len(x), np.float32)
        f = self._f[: len(x)]
        np.multiply(x, 1 / 32768, out=f, casting="unsafe")
        y = self._stream.resample_chunk(f, last=last)
        if len(y) > len(self._out):
            self._out = np.empty(len(y), np.int16)
        y *= 32768
        np.rint(y, out=y)
        np.clip(y, -32768.0, 32767.0, out=y)
        out = self._out[: len(y)]
        np.copyto(out, y, casting="unsafe")
        return out

    def clear(self) -> None:
        if self._stream is not None:
            self._stream.clear()

    def close(self) -> None:
        """Drop the soxr stream now, not whenever the owner is collected: nanobind reports soxr objects
        still alive at interpreter exit as leaked. process() raises afterwards."""
        self._stream = None


class Downmixer:
    """Interleaved int16 frames of `channels` → int16 mono (the channel mean)."""

    def __init__(self, channels: int, max_frames: int):
        self.channels = channels
        self._acc = np.empty(max_frames, np.int32)
        self._mono = np.empty(max_frames, np.int16)

    def process(self, data: bytes) -> np.ndarray:
        x = np.frombuffer(data, np.int16)
        if self.channels == 1:
            return x
        n = len(x) // self.channels
        if n > len(self._acc):
            self._acc, self._mono = np.empty(n, np.int32), np.empty(n, np.int16)
        acc, mono = self._acc[:n], self._mono[:n]
        np.sum(x[: n * self.channels].reshape(n, self.channels), axis=1, dtype=np.int32, out=acc)
        np.floor_divide(acc, self.channels, out=acc)
        np.copyto(mono, acc, casting="unsafe")
        return mono


class LevelMeter:
    """Gain and RMS/peak of int16 blocks, in a reused float32 buffer."""

    def __init__(self, max_samples: int):
        self._f = np.empty(max_samples, np.float32)
        self._out = np.empty(max_samples, np.int16)
        self.rms = 0.0  # linear, 0..32768, of the last block
        self.peak = 0.0

    def process(self, x: np.ndarray, gain: float) -> np.ndarray:
        """Measure `x` after `gain` (linear); returns the gained block (x itself when gain is 1)."""
        n = len(x)
        if n == 0:
            return x
        if n > len(self._f):
            self._f, self._out = np.empty(n, np.float32), np.empty(n, np.int16)
        f = self._f[:n]
        np.copyto(f, x, casting="unsafe")
        if gain != 1.0:
            f *= gain
            np.clip(f, -32768.0, 32767.0, out=f)
            np.rint(f, out=f)
            out = self._out[:n]
            np.copyto(out, f, casting="unsafe")
        else:
            out = x
        self.rms = math.sqrt(float(np.dot(f, f)) / n)
        self.peak = float(np.max(np.abs(f, out=f)))
        return out


class Fader:
    """Linear ramps over `length` samples, applied in place when the edge is loud enough to click."""

    def __init__(self, length: int):
        self.length = max(1, length)
        self._down = np.linspace(1.0, 0.0, self.length + 2, dtype=np.float32)[1:-1]
        self._up = self._down[::-1].copy()
        self._f = np.empty(self.length, np.float32)

    def _apply(self, seg: np.ndarray, ramp: np.ndarray) -> None:
        f = self._f[: len(seg)]
        np.multiply(seg, ramp[: len(seg)], out=f)
        np.copyto(seg, f, casting="unsafe")

    def fade_in(self, x: np.ndarray) -> None:
        """Ramp the start of `x` up from zero, when its first sample is loud enough to click."""
        seg = x[: self.length]
        if len(seg) and abs(int(seg[0])) > EDGE_QUIET:
            self._apply(seg, self._up)

    def decay(self, x: np.ndarray, last: int) -> None:
        """Write a ramp from `last` down to zero into the start of `x` (after audio that stopped short)."""
        if abs(last) > EDGE_QUIET:
            m = min(len(x), self.length)
            np.multiply(self._down[:m], last, out=self._f[:m])
            np.copyto(x[:m], self._f[:m], casting="unsafe")
