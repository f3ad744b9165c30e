"""Playback: the playout ring (session-rate mono int16) → the device's output callback.

States: waiting (gathering the prebuffer; silence out) and playing. Playback starts when the ring
holds the target prebuffer beyond its newest arrival (the lead until the next one is due), or when audio has waited
that long (so a short reply still plays).
Running dry while playing is an underrun: what was there plays untouched, then its last sample decays
to zero over the fade length (when loud enough to click), then silence; we wait for the target again.

Jitter-adaptive: the target starts at `prebuffer_ms`; each underrun (not the end of an item) raises it by its gap
(how long the ring stayed dry, measured until audio arrives again) plus `raise_ms`, up to `max_prebuffer_ms`, so
the same stall is covered next time (a gap longer than `max_prebuffer_ms` is an outage, not jitter: `raise_ms`
only); after `relax_ms` of playback without one it comes down by `lower_ms`, never below `prebuffer_ms`. Waiting and stability are counted in whole nanoseconds of device periods, as the C twin
(csrc/rta_audio.c) counts them, so both start on the same period.

This is the readable twin of the C playout (rtaudiod._ext._audio.Playout), which the engine runs on the device's
own thread; the tests run both on the same input. The engine uses this one for the Python-callback backend
(`callbacks = "python"`) and in the build without the extension.
Audio that starts from silence (first start, after an underrun or a flush) fades in if its first
sample is loud. Quiet edges are left alone, so speech passes bit-exact.

flush() may be called from any thread; the callback serves it on its next run: a few ms of what would
have come next ramp down to silence, the ring is skipped up to what had been written when flush() was
called (audio written after it is kept), and the resampler is reset. What was already handed to the
device plays out: silence is heard one device buffer (plus the sound server's latency) after the call.
"""

import math
import time
from collections import deque

import numpy as np

from rtaudiod.audio.dsp import Fader, LevelMeter, Resampler
from rtaudiod.audio.ledger import PlayoutLedger
from rtaudiod.ring import RingBuffer


class _Held:
    """What the resampler and the FIFO hold, oldest first, as runs of session samples that are either
    real audio from the ring or filler (silence while waiting for a prebuffer, an underrun's decay).

    soxr aligns its output with its input (it trims its own delay), so the pipeline is first in, first
    out: the filler pushed while waiting reaches the device before the first real sample does, and is
    not audio handed to the speaker. A handful of runs at most (filler and audio alternate).
    """

    def __init__(self) -> None:
        self._runs: deque[list] = deque()  # [is_real, samples]

    @property
    def real(self) -> float:
        return sum(n for is_real, n in self._runs if is_real)

    def push(self, is_real: bool, n: float) -> None:
        if n <= 0:
            return
        if self._runs and self._runs[-1][0] == is_real:
            self._runs[-1][1] += n
        else:
            self._runs.append([is_real, n])

    def hand(self, n: float) -> float:
        """The oldest `n` samples went to the device; returns how many of them were real."""
        real = 0.0
        while n > 0 and self._runs:
            run = self._runs[0]
            m = min(n, run[1])
            run[1] -= m
            n -= m
            if run[0]:
                real += m
            if run[1] <= 0:
                self._runs.popleft()
        return real

    def keep(self, n: float) -> float:
        """Only the oldest `n` samples stay (the rest was thrown away); returns the real ones thrown away."""
        before = self.real
        kept: deque[list] = deque()
        while n > 0 and self._runs:
            is_real, m = self._runs.popleft()
            kept.append([is_real, min(n, m)])
            n -= m
        self._runs = kept
        return before - self.real


class Playout:
    def __init__(self, ring: RingBuffer, ledger: PlayoutLedger, session_rate: int, device_rate: int, channels: int,
                 frames: int, prebuffer_ms: int, fade_ms: float, quality: str, max_prebuffer_ms: int = 0,
                 raise_ms: int = 20, lower_ms: int = 10, relax_ms: int = 10000, device_latency: float = 0.0):
        self.ring, self.ledger = ring, ledger
        self.session_rate, self.device_rate, self.channels, self.frames = session_rate, device_rate, channels, frames
        self.period = frames / device_rate
        self._period_ns = frames * 1_000_000_000 // device_rate
        self._prebuffer_ms, self._max_prebuffer_ms = prebuffer_ms, max(prebuffer_ms, max_prebuffer_ms)
        self._raise_ms, self._lower_ms, self._relax_ms = raise_ms, lower_ms, relax_ms
        self.target_ms = prebuffer_ms  # the adaptive start target (read from any thread)
        self.raises = 0
        self._stable_ns = 0
        self._resampler = Resampler(session_rate, device_rate, quality)
        self._fader = Fader(round(fade_ms * session_rate / 1000))
        self._fade_dev = max(1, round(fade_ms * device_rate / 1000))
        self._chunk = math.ceil(frames * session_rate / device_rate)  # session samples per callback
        self._sess = np.zeros(self._chunk + self._fader.length, np.int16)
        self._sess_bytes = memoryview(self._sess).cast("B")
        # Device-rate mono waiting for the device: soxr emits in blocks of up to ~20 ms (LQ).
        self._fifo = np.zeros(frames + 16384, np.int16)
        self._fifo_len = 0
        self._out_buf: memoryview | None = None
        self._out: np.ndarray | None = None
        self.playing = False
        self._from_silence = True  # the next audio starts from silence: fade it in if it starts loud
        self._waited_ns = 0
        self._dry_ns: int | None = None  # since an underrun ran the ring dry, until audio comes back: its gap
        self._seen = 0  # the ring's level when the waiting playout last looked
        self._newest = 0  # the last rise of it seen: the newest arrival
        self._flush_request = (0, 0)  # (generation, written position); one tuple, swapped atomically
        self._flush_served = 0
        self._got_audio = False
        self._last = 0  # the last sample taken from the ring (an underrun decays from it)
        self._held = _Held()  # session samples inside the resampler and the FIFO
        # Zeros pushed through the resampler since the last sound (audio, decay, flush fade); from _quiet_min on, the
        # resampler and the FIFO hold only zeros, and an idle callback hands silence without running them.
        self._quiet = 0
        self._quiet_min = session_rate // 5
        self._ratio = session_rate / device_rate
        # Output level of the last callback's block, as the device got it (read from any thread).
        self._meter = LevelMeter(frames)
        # Counters (read from any thread).
        self.underruns = 0
        self.drained = 0
        self.flushes = 0
        self.callbacks = 0
        self.audible_until = 0.0  # monotonic time the last handed audio stops sounding
        self.device_latency = device_latency  # set by the engine once the stream is open

    # -- any thread -------------------------------------------------------------------------------
    def flush(self) -> None:
        """Discard everything written so far; the callback serves it on its next run."""
        gen = self._flush_request[0] + 1
        self._flush_request = (gen, self.ledger.written)

    def close(self) -> None:
        """The stream has stopped for good (call after it stopped): what the resampler and the FIFO still
        hold is never handed to the device, and the soxr stream is released."""
        self.ledger.dropped(round(self._held.keep(0)) * 2)
        self.ledger.pending = 0
        self.ledger.settle()
        self._fifo_len = 0
        self.playing = False
        self._resampler.close()

    @property
    def rms(self) -> float:
        return self._meter.rms

    @property
    def peak(self) -> float:
        return self._meter.peak

    @property
    def flush_pending(self) -> bool:
        return self._flush_request[0] != self._flush_served

    # -- device callback --------------------------------------------------------------------------
    def fill(self, buf: memoryview) -> bool:
        """Output callback: fill `buf` (frames x channels int16) from the ring. True when it holds audio."""
        self.callbacks += 1
        if buf is not self._out_buf:  # PyAudio hands the same buffer every time; build its array once
            self._out_buf = buf
            self._out = np.frombuffer(buf, np.int16).reshape(-1, self.channels)
        out = self._out
        frames = len(out)
        self._got_audio = False
        gen, target = self._flush_request
        if self._quiet >= self._quiet_min and not self.playing and gen == self._flush_served \
                and not self.ring.read_available:
            # Idle (most of a session): the same silence the full path would hand, at a fraction of its cost
            # (measured in the daemon: ~80 µs of a 10 ms callback's ~110).
            out[:] = 0
            if self._dry_ns is not None:
                self._dry_ns += self._period_ns  # an underrun's gap goes on
            return False
        if gen != self._flush_served:
            self._serve_flush(target)
            self._flush_served = gen
        if not self.playing:
            self._maybe_start()
        loops = 0
        while self._fifo_len < frames and loops < 8:
            # At least a period's worth: soxr may answer a small chunk with nothing, then emit a block.
            need = max(self._chunk, math.ceil((frames - self._fifo_len) * self.session_rate / self.device_rate))
            self._push(self._resampler.process(self._pull(need)))
            loops += 1
        n = min(frames, self._fifo_len)
        out[:n] = self._fifo[:n, None]
        out[n:] = 0
        self._meter.process(out[:, 0], 1.0)  # the idle path above skips this: the silence before it was measured here
        rest = self._fifo_len - n
        self._fifo[:rest] = self._fifo[n : self._fifo_len]
        self._fifo_len = rest
        # Real audio went out if it was taken now or handed now from earlier callbacks' takings.
        real_handed = self._held.hand(n * self._ratio)
        self._got_audio = self._got_audio or real_handed > 0
        if self.playing:  # after relax_ms of playback with no underrun, the target comes down a step
            self._stable_ns += self._period_ns
            relaxed = self._relax_ms > 0 and self._stable_ns >= self._relax_ms * 1_000_000
            if relaxed and self.target_ms > self._prebuffer_ms:
                self.target_ms = max(self._prebuffer_ms, self.target_ms - self._lower_ms)
                self._stable_ns = 0
        # Consumed from the ring but not yet handed to the device (FIFO + inside the resampler); then the
        # ledger publishes what was handed, in one store, for readers on other threads.
        self.ledger.pending = round(self._held.real) * 2
        now = time.monotonic()
        self.ledger.settle(now)
        if self._got_audio:
            self.audible_until = now + self.period + self.device_latency
        return self._got_audio

    @property
    def prebuffer_bytes(self) -> int:
        return self.target_ms * self.session_rate // 1000 * 2

    def _raise_by_gap(self) -> None:
        """An underrun's gap is over: the start target rises by it and `raise_ms` more (bounded)."""
        gap_ms = -(-self._dry_ns // 1_000_000)
        step = (0 if gap_ms > self._max_prebuffer_ms else gap_ms) + self._raise_ms
        target = min(self._max_prebuffer_ms, self.target_ms + step)
        if target != self.target_ms:
            self.target_ms = target
            self.raises += 1
        self._dry_ns = None

    def _maybe_start(self) -> None:
        """Start once the ring holds the target beyond its newest arrival (the next is due a delta after it: what
        plays until then is the lead; an arrival larger than the target counts as the target, the sender is ahead),
        or once audio has waited the target."""
        avail = self.ring.read_available
        if self._dry_ns is not None:
            if not avail:
                self._dry_ns += self._period_ns
                return
            self._raise_by_gap()
        target = self.prebuffer_bytes
        if avail > self._seen:
            self._newest = min(avail - self._seen, target)
        self._seen = avail
        if avail >= target + self._newest or (avail > 0 and self._waited_ns >= self.target_ms * 1_000_000):
            self.playing = True
            self._waited_ns = 0
            self._seen = self._newest = 0
        elif avail > 0:
            self._waited_ns += self._period_ns

    def _pull(self, n: int) -> np.ndarray:
        """At least `n` session samples: from the ring while playing, silence otherwise."""
        x = self._sess[:n]
        if not self.playing:
            x[:] = 0
            self._held.push(False, n)
            self._quiet += n
            return x
        self._quiet = 0
        k = min(n * 2, self.ring.read_available) & ~1
        if k:
            self.ring.readinto(self._sess_bytes[:k])
            self.ledger.consumed(k)
            self._got_audio = True
        got = k // 2
        if self._from_silence and got:
            self._fader.fade_in(x[:got])
            self._from_silence = False
        if got:
            self._last = int(x[got - 1])
        if got < n:  # ran dry: let the last sample decay to zero, silence the rest, gather a prebuffer again
            x = self._sess[: max(n, got + self._fader.length)]
            x[got:] = 0
            self._fader.decay(x[got:], self._last)
            self._last = 0
            if self.ledger.at_end():
                self.drained += 1  # the item's audio is over: a normal end
            else:
                self.underruns += 1  # starved mid-item: the network (or the writer) fell behind: measure the gap
                self._dry_ns = 0
            self._stable_ns = 0
            self.playing = False
            self._from_silence = True
        self._held.push(True, got)
        self._held.push(False, len(x) - got)
        return x

    def _push(self, y: np.ndarray) -> None:
        room = len(self._fifo) - self._fifo_len
        m = min(len(y), room)
        self._fifo[self._fifo_len : self._fifo_len + m] = y[:m]
        self._fifo_len += m

    def _serve_flush(self, target: int) -> None:
        self._quiet = 0
        pending = max(0, target - self.ledger.read_pos) & ~1
        if self.playing:
            # The next few ms of audio, ramped to zero, so the cut does not click.
            k = min(self._fader.length * 2, pending, self.ring.read_available) & ~1
            x = self._sess[: k // 2]
            if k:
                self.ring.readinto(self._sess_bytes[:k])
                self.ledger.consumed(k)
                pending -= k
                self._got_audio = True
                self._held.push(True, k // 2)
            self._push(self._resampler.process(x, last=True))
            keep = min(self._fifo_len, self._fade_dev)
            if keep:
                head = self._fifo[:keep]
                head[:] = (head * np.linspace(1.0, 0.0, keep + 1, dtype=np.float32)[1:]).astype(np.int16)
            self._fifo_len = keep
        # What the FIFO no longer holds, and all the resampler holds, is thrown away: audio taken from the
        # ring but never handed to the device (the newest consumed).
        self.ledger.dropped(round(self._held.keep(self._fifo_len * self._ratio)) * 2)
        self._resampler.clear()
        skipped = self.ring.skip(min(pending, self.ring.read_available))
        self.ledger.skipped(skipped)
        self.playing = False
        self._from_silence = True
        self._waited_ns = 0
        self._dry_ns = None  # a barge-in, not the network: no gap to learn from
        self._seen = self._newest = 0
        self.flushes += 1
