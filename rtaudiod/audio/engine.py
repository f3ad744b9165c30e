"""AudioEngine: the facade the session uses. Owns the backend, both streams and both rings.

    engine = AudioEngine(AudioConfig(latency="balanced"))
    engine.start()
    engine.capture_ring            # uplink thread reads session-rate mono PCM16 here
    engine.begin_item("item_1")    # receive thread, before an item's audio
    engine.write_delta(frame)      # receive thread: base64 straight into the playout ring
    engine.flush()                 # barge-in (any thread)
    engine.played_ms("item_1")     # for conversation.item.truncate: min(played, received)
    engine.stop()

Threads: the backend's input callback thread (capture), its output callback thread (playback), one
writer of the playout ring (the receive thread) and one reader of the capture ring (the uplink thread).
"""

import contextlib
import math
import threading
import time
from typing import Any

from rtaudiod.audio.backend import Backend, DeviceInfo, Stream
from rtaudiod.audio.capture import Capture
from rtaudiod.audio.config import AudioConfig
from rtaudiod.audio.dsp import dbfs
from rtaudiod.audio.filebackend import FileBackend
from rtaudiod.audio.ledger import PlayoutLedger
from rtaudiod.audio.playout import Playout
from rtaudiod.codecs import alaw_decode, ulaw_decode
from rtaudiod.framing import decode_audio_delta, decode_audio_delta_into
from rtaudiod.ring import RingBuffer


def make_backend(config: AudioConfig) -> Backend:
    if config.backend == "pyaudio":
        from rtaudiod.audio.pyaudio_backend import PyAudioBackend

        return PyAudioBackend()
    if config.backend == "wav":
        return FileBackend(config.wav_input, config.wav_output, realtime=config.realtime)
    return FileBackend(realtime=config.realtime)


class AudioEngine:
    def __init__(self, config: AudioConfig | None = None, backend: Backend | None = None):
        self.config = config = config or AudioConfig()
        self._own_backend = backend is None
        self.backend = backend if backend is not None else make_backend(config)
        rate = config.session_rate
        self.capture_ring = RingBuffer(config.capture_ring_ms * rate // 1000 * 2)
        self.playout_ring = RingBuffer(config.playout_ring_s * rate * 2)
        self.ledger = PlayoutLedger()
        # G.711 deltas carry one code a sample: decoded to PCM16 before the ring (None: pcm16 goes straight in)
        self._g711_decode = {"g711_ulaw": ulaw_decode, "g711_alaw": alaw_decode}.get(config.session_format)
        self.capture: Capture | None = None
        self.playout: Playout | None = None
        self.input_stream: Stream | None = None
        self.output_stream: Stream | None = None
        self._half_duplex = config.half_duplex
        self._muted = config.mute
        # start/stop/flush: flush() decides whether a callback will serve it or it must drop the queue
        # itself, and a stop() in between would leave the request unserved (stale audio after a restart).
        self._life = threading.RLock()

    # -- life cycle -------------------------------------------------------------------------------
    def start(self) -> "AudioEngine":
        """Open and start the streams; a no-op while they run (a second pair would be a second reader
        of the playout ring). AudioDeviceError (nothing left open) when a device fails."""
        with self._life:
            if self.input_stream is None and self.output_stream is None:
                self._start()
        return self

    def _start(self) -> None:
        try:
            if self.config.playout:
                self._open_output()
            if self.config.capture:
                self._open_input()
            if self.output_stream is not None:
                self.output_stream.start()
            if self.input_stream is not None:
                self.input_stream.start()
        except BaseException:
            self.stop()
            raise

    def _open_output(self) -> None:
        cfg, mode = self.config, self.config.mode
        dev = self.backend.resolve(cfg.output_device, output=True)
        rate, channels = cfg.output_rate or dev.default_rate, cfg.output_channels or min(2, dev.max_output_channels)
        frames = rate * mode.playout_period_ms // 1000
        self.playout = Playout(self.playout_ring, self.ledger, cfg.session_rate, rate, channels, frames,
                               mode.prebuffer_ms, cfg.fade_ms, cfg.resample_quality)
        self.output_stream = self.backend.open_output(dev, rate, channels, frames, self.playout.fill)
        self.playout.device_latency = self.output_stream.latency

    def _open_input(self) -> None:
        cfg, mode = self.config, self.config.mode
        dev = self.backend.resolve(cfg.input_device, output=False)
        rate, channels = cfg.input_rate or dev.default_rate, cfg.input_channels or min(2, dev.max_input_channels)
        frames = rate * mode.capture_ms // 1000
        self.capture = Capture(self.capture_ring, rate, channels, frames, cfg.session_rate, cfg.resample_quality, cfg.gain_db)
        self.capture.muted = self._muted
        self._apply_half_duplex()
        self.input_stream = self.backend.open_input(dev, rate, channels, frames, self.capture.feed)

    def stop(self) -> None:
        """Stop and close both streams (the rings and counters stay readable).

        What the playout had taken from the ring but not handed to the device never plays: the ledger
        counts it as unplayed. The soxr streams are released (start() makes new ones): soxr objects
        still reachable at interpreter exit make nanobind print "leaked instances"."""
        with self._life:
            for name in ("input_stream", "output_stream"):
                stream = getattr(self, name)
                if stream is not None:
                    setattr(self, name, None)
                    stream.close()
            for part in (self.capture, self.playout):
                if part is not None:
                    part.close()

    def close(self) -> None:
        """stop(), release the backend and close the rings (waking their waiters)."""
        self.stop()
        if self._own_backend:
            self.backend.close()
        self.capture_ring.close()
        self.playout_ring.close()

    def __enter__(self) -> "AudioEngine":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- playout writer side (the receive thread) -------------------------------------------------
    def begin_item(self, item_id: str) -> None:
        """Mark the start of an item's audio; call before writing it."""
        self.ledger.begin_item(item_id)

    def end_item(self) -> None:
        """The current item's audio is complete (`response.audio.done`): running dry after it is the end of
        the reply, counted in `drained`, not an underrun."""
        self.ledger.end_item()

    def write(self, pcm: Any) -> int:
        """Write session-rate mono PCM16 to the playout ring; returns bytes written (short: overrun)."""
        n = self._whole_samples(self.playout_ring.write(pcm))
        self.ledger.wrote(n)
        return n

    def _whole_samples(self, n: int) -> int:
        """After writing `n` bytes: an odd count (a broken delta) gets a zero byte, so the ring stays on
        sample boundaries; one byte off, every later sample would play byte-swapped as loud noise. A
        short write is always even, so the byte fits."""
        if n & 1:
            n += self.playout_ring.write(b"\0")
        return n

    def write_delta(self, frame: bytes | str) -> int | None:
        """Decode an audio delta frame straight into the playout ring (None: not an audio delta); returns
        the PCM16 bytes written. G.711 sessions decode the codes to PCM16 on the way.

        When the ring is too full for the whole delta, what fits is kept and an overrun counted."""
        if self._g711_decode is not None:
            codes = decode_audio_delta(frame)
            return None if codes is None else self.write(self._g711_decode(codes))
        try:
            n = decode_audio_delta_into(frame, self.playout_ring)
        except BufferError:  # keep what fits: write() counts the overrun
            return self.write(decode_audio_delta(frame) or b"")
        if n:
            n = self._whole_samples(n)
            self.ledger.wrote(n)
        return n

    # -- control (any thread) ---------------------------------------------------------------------
    def flush(self) -> None:
        """Barge-in: silence the speaker within one device buffer and discard what is queued."""
        with self._life:
            if self.output_stream is not None and self.playout is not None:
                self.playout.flush()
            else:  # no stream calls back: nothing plays, forget the queued audio here (the only reader now)
                self.ledger.skipped(self.playout_ring.skip(self.playout_ring.read_available))

    def played_ms(self, item_id: str) -> float | None:
        """Milliseconds of the item handed to the speaker (see ledger.py); None for an unknown item."""
        return self._ms(self.ledger.played_bytes(item_id))

    def received_ms(self, item_id: str) -> float | None:
        return self._ms(self.ledger.received_bytes(item_id))

    def _ms(self, nbytes: int | None) -> float | None:
        """Milliseconds of mono PCM16 at the session rate (None stays None)."""
        return None if nbytes is None else nbytes * 1000 / (2 * self.config.session_rate)

    @property
    def is_playing(self) -> bool:
        """True while audio is queued, playing, or still sounding from the device's buffer."""
        p = self.playout
        if p is None or self.output_stream is None:
            return False
        return p.playing or self.playout_ring.read_available > 0 or time.monotonic() < p.audible_until

    @property
    def muted(self) -> bool:
        return self._muted

    @muted.setter
    def muted(self, value: bool) -> None:
        self._muted = bool(value)
        if self.capture is not None:
            self.capture.muted = self._muted

    @property
    def half_duplex(self) -> bool:
        return self._half_duplex

    @half_duplex.setter
    def half_duplex(self, value: bool) -> None:
        self._half_duplex = bool(value)
        self._apply_half_duplex()

    def _apply_half_duplex(self) -> None:
        if self.capture is None:
            return
        tail = self.config.half_duplex_tail_ms / 1000

        def gate_until() -> float:
            p = self.playout
            return 0.0 if p is None else p.audible_until + tail

        self.capture.gate_until = gate_until if self._half_duplex else None

    def set_gain_db(self, gain_db: float) -> None:
        if self.capture is not None:
            self.capture.set_gain_db(gain_db)

    # -- status -----------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        cfg, rate = self.config, self.config.session_rate
        ms = 1000 / (2 * rate)
        out: dict[str, Any] = {
            "backend": self.backend.name,
            "latency_mode": cfg.latency,
            "session_rate": rate,
            "muted": self._muted,
            "half_duplex": self._half_duplex,
            "input": _stream_status(self.input_stream),
            "output": _stream_status(self.output_stream),
        }
        c = self.capture
        out["capture"] = {
            "rms_dbfs": round(dbfs(c.rms), 1) if c else None,
            "peak_dbfs": round(dbfs(c.peak), 1) if c else None,
            "gain_db": round(_db(c.gain), 2) if c else cfg.gain_db,
            "gated": c.gated if c else False,
            "gated_frames": c.gated_frames if c else 0,
            "frames": c.frames_in if c else 0,
            "dropped_bytes": c.dropped_bytes if c else 0,
            "overruns": self.capture_ring.overruns,
            "ring_ms": round(self.capture_ring.read_available * ms, 1),
        }
        p = self.playout
        out["playout"] = {
            "playing": self.is_playing,
            "underruns": p.underruns if p else 0,
            "drained": p.drained if p else 0,
            "flushes": p.flushes if p else 0,
            "overruns": self.playout_ring.overruns,
            "ring_ms": round(self.playout_ring.read_available * ms, 1),
            "prebuffer_ms": cfg.mode.prebuffer_ms,
            "written_ms": round(self.ledger.written * ms, 1),
            "played_ms": round(self.ledger.played_total * ms, 1),
            "item": self.ledger.current_item(),
        }
        return out


def _db(gain: float) -> float:
    return 20 * math.log10(gain) if gain > 0 else -120.0


def _stream_status(stream: Stream | None) -> dict[str, Any] | None:
    if stream is None:
        return None
    dev: DeviceInfo = stream.device
    status = {
        "device": dev.name,
        "index": dev.index,
        "rate": stream.rate,
        "channels": stream.channels,
        "frames": stream.frames,
        "latency_ms": round(stream.latency * 1000, 1),
        "active": stream.active,
        "xruns": stream.xruns,
        "callback_errors": stream.callback_errors,
    }
    with contextlib.suppress(Exception):
        if stream.last_error is not None:
            status["last_error"] = repr(stream.last_error)
    return status
