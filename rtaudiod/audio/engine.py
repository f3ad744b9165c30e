"""AudioEngine: the facade the session uses. Owns the backend, both streams and both rings.

    engine = AudioEngine(AudioConfig(latency="balanced"))
    engine.start()
    engine.capture_ring              # uplink thread reads session-rate mono PCM16 here
    engine.write_delta(frame)        # receive thread: a delta straight into the playout ring; a new item_id
                                     # begins a new ledger item by itself
    engine.end_item()                # receive thread: the item's audio is complete
    engine.flush()                   # barge-in (any thread): silence, and drop the rest of that response
    engine.truncate_point("item_1")  # audio_end_ms for conversation.item.truncate (None: delete the item)
    engine.stop()

Threads: the backend's input callback thread (capture), its output callback thread (playback), one
writer of the playout ring (the receive thread) and one reader of the capture ring (the uplink thread).

The callbacks: on the C path (the default, `callbacks = "c"`) `capture` and `playout` are the C processors
(rtaudiod._ext._audio, csrc/rta_audio.c) run by PortAudio's thread or the C pacer's, the ledger's consumer side is C
(ledger.core) and half-duplex gates through a shared C struct: no Python runs per period. On the Python path
(`callbacks = "python"`, or the build without the extension) they are the twins capture.py and playout.py, run by
PyAudio's Python callbacks or the Python pacing thread; numpy and soxr are imported only then.

Dropping a response: after flush(), deltas of the response that was playing (the response_id of the last
accepted delta) are dropped, unwritten and uncounted, until a delta of another response arrives (the
service runs one response at a time, so the flushed one is over by then). drop_response() names a
response to drop the same way: the session calls it when it cancels a response that had not started
playing. A drop_response() after the last accepted delta is about a newer response than the one that
delta belongs to, so a flush() after it keeps it.
"""

import contextlib
import logging
import math
import threading
import time
from typing import Any

from rtaudiod._backend import load_c
from rtaudiod.audio.backend import Backend, DeviceInfo, Stream
from rtaudiod.audio.backend_choice import BackendChoice, choose_backend
from rtaudiod.audio.config import PREBUFFER_LOWER_MS, PREBUFFER_RAISE_MS, PREBUFFER_RELAX_MS, AudioConfig
from rtaudiod.audio.devicewatch import DeviceListener, DeviceWatch
from rtaudiod.audio.echo import EchoChoice, SoundServer, choose, internal_available, probe_sound_server
from rtaudiod.audio.errors import AudioDeviceError
from rtaudiod.audio.filebackend import FileBackend
from rtaudiod.audio.ledger import PlayoutLedger
from rtaudiod.audio.levels import dbfs
from rtaudiod.audio.role import media_role_env
from rtaudiod.framing import decode_delta_into
from rtaudiod.ring import RingBuffer

log = logging.getLogger("rtaudiod.audio")
#: With a media role, the output stream stops after this long without sound (a pause between two sentences of
#: one reply is shorter; a reply that starts later pays the stream's start, which its prebuffer covers).
IDLE_PAUSE_S = 1.0
#: Backends of real devices (watched for unplugging; a media role applies) rather than files.
SOUND_SERVER_BACKENDS = ("pyaudio", "pulse")

def make_backend(config: AudioConfig, name: str, context: Any = None) -> Backend:
    """The backend `name` (config.backend's, or what backend_choice.py chose for "auto"); `context`: the pulse
    backend's sound-server connection, when one was made to choose it."""
    if name == "pyaudio":
        from rtaudiod.audio.pyaudio_backend import PyAudioBackend

        return PyAudioBackend()
    if name == "pulse":
        from rtaudiod.audio.pulse_backend import PulseBackend  # AudioConfig or auto checked that the C path runs

        mode = config.mode
        return PulseBackend(mode.server_buffer_ms, mode.server_period_ms, mode.uplink_ms, config.media_role, context)
    if name == "wav":
        return FileBackend(config.wav_input, config.wav_output, realtime=config.realtime)
    return FileBackend(realtime=config.realtime)


class AudioEngine:
    def __init__(self, config: AudioConfig | None = None, backend: Backend | None = None):
        self.config = config = config or AudioConfig()
        self._own_backend = backend is None
        # Which backend runs and why (audio.backend = "auto": backend_choice.py), said in the log and `status`.
        if backend is None:
            self.backend_choice, context = choose_backend(config)
            backend = make_backend(config, self.backend_choice.name, context)
        else:
            self.backend_choice = BackendChoice(backend.name, "the backend given to AudioEngine")
        self.backend = backend
        rate = config.session_rate
        self.capture_ring = RingBuffer(config.capture_ring_ms * rate // 1000 * 2)
        self.playout_ring = RingBuffer(config.playout_ring_s * rate * 2)
        # The C path or the Python one, for the engine's life (the ledger's consumer side is one or the other).
        self._c = load_c("audio") if config.callbacks == "c" else None
        self.ledger = PlayoutLedger(core=self._c.LedgerCore() if self._c else None)
        self._duplex = self._c.Duplex() if self._c else None  # half-duplex, between the two C callbacks
        # The echo canceller (docs/echo.md): which one runs and why, decided at each start; with the internal one the
        # playout callback hands its reference to the capture callback through this ring (1 s at 48 kHz).
        self.echo_choice: EchoChoice | None = None
        self._echo_ref: RingBuffer | None = None
        # The receive thread's deltas vs flush()/drop_response() from other threads: which response to drop,
        # and the ids of the last accepted delta. Held for one delta's decode (microseconds), never by the
        # playback callback.
        self._delta_lock = threading.Lock()
        self._drop_response: str | None = None
        self._drop_named = False  # drop_response() was called after the last accepted delta
        self.delta_item_id: str | None = None
        self.delta_response_id: str | None = None
        # A reply's audio is complete (end_item): once the ring has played it out, the next delta first hands the
        # ring's pages back (RingBuffer.release_pages), so it stays as resident as the longest reply, not 4 MiB.
        self._release_ring = False
        self.dropped_deltas = 0
        self.capture: Any = None  # capture.Capture, or the C one (the same attributes)
        self.playout: Any = None  # playout.Playout, or the C one
        self.input_stream: Stream | None = None
        self.output_stream: Stream | None = None
        self._half_duplex = config.half_duplex
        self._muted = config.mute
        self._tap: RingBuffer | None = None
        # start/stop/flush: flush() decides whether a callback will serve it or it must drop the queue
        # itself, and a stop() in between would leave the request unserved (stale audio after a restart).
        self._life = threading.RLock()
        self._running = False
        # A real device can go away while it runs: the watch reopens it (devicewatch.py). File backends cannot.
        self.lost_devices: dict[str, str] = {}  # "input"/"output" -> why, while that device is gone
        self.on_device: DeviceListener | None = None  # (kind, lost, message), on the watch's thread
        self.watch: DeviceWatch | None = None
        # With a media role (role.py) the output stream runs only while there is something to play, so a sound
        # server ducks other audio while the device speaks, not for as long as it runs: the watch's thread stops it
        # after IDLE_PAUSE_S without sound, the next write starts it again (its prebuffer covers the start).
        self.pauses_when_idle = config.media_role is not None and self.backend.name in SOUND_SERVER_BACKENDS
        self.output_paused = False
        self.output_pauses = 0
        self._idle_since: float | None = None
        self._pause_lock = threading.Lock()

    # -- life cycle -------------------------------------------------------------------------------
    def start(self) -> "AudioEngine":
        """Open and start the streams; a no-op while they run (a second pair would be a second reader
        of the playout ring). AudioDeviceError (nothing left open) when a device fails."""
        with self._life:
            if self.input_stream is None and self.output_stream is None and not self.lost_devices:
                self._choose_echo()
                try:
                    self._start()
                except AudioDeviceError as e:
                    if not self._fall_back_to_portaudio(e):
                        raise
                    self._choose_echo()
                    self._start()
            self._running = True
            if self.watch is None and self.backend.name in SOUND_SERVER_BACKENDS:
                self.watch = DeviceWatch(self).start()
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

    def _fall_back_to_portaudio(self, error: AudioDeviceError) -> bool:
        """`auto` chose the pulse backend and it failed to open: PortAudio's way to the same devices instead (True)."""
        choice = self.backend_choice
        if not (choice.auto and choice.name == "pulse" and self._own_backend):
            return False
        why = str(error).splitlines()[0]
        log.warning("audio: the native pulse backend failed to open (%s): running on PortAudio instead", why)
        self.backend.close()
        self.backend = make_backend(self.config, "pyaudio")
        self.backend_choice = BackendChoice("pyaudio", f"PortAudio: the native pulse backend failed to open ({why})",
                                            auto=True)
        return True

    def _choose_echo(self) -> None:
        cfg, backend = self.config, self.backend.name
        server = probe_sound_server() if backend in SOUND_SERVER_BACKENDS and cfg.echo_cancel in ("auto", "system") \
            else SoundServer()
        self.echo_choice = choose(cfg.echo_cancel, backend=backend, capture=cfg.capture, playout=cfg.playout,
                                  input_device=cfg.input_device, server=server, half_duplex=self._half_duplex,
                                  internal=lambda: self._c is not None and internal_available(),
                                  engine=cfg.echo_engine,
                                  realtime=cfg.realtime)
        internal = self.echo_choice.canceller == "internal"
        self._echo_ref = RingBuffer(96000) if internal else None  # fresh: nothing stale lines up with the echo

    def _open_output(self) -> None:
        cfg, mode = self.config, self.config.mode
        dev = self.backend.resolve(cfg.output_device, output=True)
        rate, channels = cfg.output_rate or dev.default_rate, cfg.output_channels or min(2, dev.max_output_channels)
        frames = rate * mode.playout_period_ms // 1000
        args = (self.playout_ring, self.ledger, cfg.session_rate, rate, channels, frames, mode.prebuffer_ms,
                cfg.fade_ms, cfg.resample_quality)
        adapt = {"max_prebuffer_ms": mode.max_prebuffer_ms, "raise_ms": PREBUFFER_RAISE_MS,
                 "lower_ms": PREBUFFER_LOWER_MS, "relax_ms": PREBUFFER_RELAX_MS}
        self.output_paused, self._idle_since = False, None
        role = cfg.media_role if self.backend.name == "pyaudio" else None  # the pulse backend names it on its stream
        if self._c is not None:
            self.playout = self._c.Playout(*args, **adapt, duplex=self._duplex, echo_ref=self._echo_ref)
            with media_role_env(role):
                self.output_stream = self.backend.open_output_c(dev, rate, channels, frames, self.playout)
        else:
            from rtaudiod.audio.playout import Playout  # numpy and soxr: only on the Python path

            self.playout = Playout(*args, **adapt)
            with media_role_env(role):
                self.output_stream = self.backend.open_output(dev, rate, channels, frames, self.playout.fill)
            self.playout.device_latency = self.output_stream.latency

    def _open_input(self) -> None:
        cfg, mode = self.config, self.config.mode
        dev = self.backend.resolve(cfg.input_device, output=False)
        rate, channels = cfg.input_rate or dev.default_rate, cfg.input_channels or min(2, dev.max_input_channels)
        frames = rate * mode.capture_ms // 1000
        args = (self.capture_ring, rate, channels, frames, cfg.session_rate, cfg.resample_quality, cfg.gain_db)
        if self._c is not None:
            self.capture = self._c.Capture(*args, duplex=self._duplex, **self._echo_args(rate))
        else:
            from rtaudiod.audio.capture import Capture  # numpy and soxr: only on the Python path

            self.capture = Capture(*args)
        self.capture.muted = self._muted
        self.capture.tap = self._tap
        self._apply_half_duplex()
        if self._c is not None:
            self.input_stream = self.backend.open_input_c(dev, rate, channels, frames, self.capture)
        else:
            self.input_stream = self.backend.open_input(dev, rate, channels, frames, self.capture.feed)

    def _echo_args(self, rate: int) -> dict[str, Any]:
        """The internal canceller's settings for a microphone at `rate`, or none (and the choice says why)."""
        if self._echo_ref is None:
            return {}
        out = self.output_stream
        if out is not None and out.rate != rate:
            self.echo_choice = EchoChoice("off", f"no echo canceller: the speaker runs at {out.rate} Hz and the "
                                          f"microphone at {rate} Hz (set audio.input_rate and output_rate alike)")
            self._echo_ref = None
            return {}
        return {"echo_engine": self.config.echo_engine, "echo_ref": self._echo_ref}

    def stop(self) -> None:
        """Stop and close both streams (the rings and counters stay readable).

        What the playout had taken from the ring but not handed to the device never plays: the ledger
        counts it as unplayed. The soxr streams are released (start() makes new ones): soxr objects
        still reachable at interpreter exit make nanobind print "leaked instances"."""
        with self._life:
            self._running = False
            self.lost_devices.clear()  # a deliberate stop: start() opens both afresh
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
        if self.watch is not None:
            self.watch.stop()
        self.stop()
        if self._own_backend:
            self.backend.close()
        self.capture_ring.close()
        self.playout_ring.close()

    # -- a device that went away and came back (devicewatch.py, its thread) -------------------------
    def drop_stream(self, kind: str, stream: Stream, reason: str) -> bool:
        """Close `stream` (the `kind` one, found dead) and mark that device lost. False when the engine stopped or
        replaced the stream meanwhile (then nothing is done)."""
        with self._life:
            if not self._running or getattr(self, f"{kind}_stream") is not stream:
                return False
            setattr(self, f"{kind}_stream", None)
            with contextlib.suppress(Exception):  # a dead device may also fail to close: it is released anyway
                stream.close()
            self._drop_part(kind)
            self.lost_devices[kind] = reason
            if kind == "output":  # nothing plays it now: the reply that was queued is not heard
                self._discard_playout()
            return True

    def reopen_stream(self, kind: str) -> bool:
        """Open and start the lost `kind` device again; AudioDeviceError (it stays lost) when it cannot. False when
        the engine was stopped meanwhile."""
        with self._life:
            if not self._running or kind not in self.lost_devices:
                return False
            try:
                if kind == "output":
                    self._discard_playout()  # what came while it was gone is stale now
                    self._open_output()
                else:
                    self._open_input()
                getattr(self, f"{kind}_stream").start()
            except AudioDeviceError:
                stream = getattr(self, f"{kind}_stream")
                setattr(self, f"{kind}_stream", None)
                if stream is not None:
                    with contextlib.suppress(Exception):
                        stream.close()
                self._drop_part(kind)  # its soxr stream, made for this attempt
                raise
            del self.lost_devices[kind]
            return True

    def _drop_part(self, kind: str) -> None:
        name = "playout" if kind == "output" else "capture"
        part = getattr(self, name)
        setattr(self, name, None)
        if part is not None:
            part.close()

    def _discard_playout(self) -> None:
        self.ledger.discard(self.playout_ring.skip(self.playout_ring.read_available))

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
        self._release_ring = True  # once it has played out: see write_delta

    def write(self, pcm: Any) -> int:
        """Write session-rate mono PCM16 to the playout ring; returns bytes written (short: overrun)."""
        n = self.playout_ring.write(pcm)
        if n & 1:  # odd input: one zero byte, or every later sample would play byte-swapped (a short write is even)
            n += self.playout_ring.write(b"\0")
        self.ledger.wrote(n)
        if self.output_paused and n:
            self._resume_output()
        return n

    def write_delta(self, frame: bytes | str) -> int | None:
        """Decode an audio delta frame straight into the playout ring, in the session's format (G.711 codes
        become PCM16 in the same pass). None: not an audio delta; else the PCM16 bytes written, 0 for a
        delta of a dropped response (counted in dropped_deltas).

        A delta whose item_id differs from the current item begins a new ledger item. When the ring is too
        full for the whole delta, what fits is kept and an overrun counted. FramingError (nothing written)
        for a broken delta frame."""
        with self._delta_lock:
            drop = self._drop_response
            if self._release_ring and not self.playout_ring.read_available:  # a reply over, the next one's first delta
                self.playout_ring.release_pages()
                self._release_ring = False
            got = decode_delta_into(frame, self.playout_ring, self.config.session_format, drop)
            if got is None:
                return None
            n, item_id, response_id = got
            if drop is not None and response_id == drop:
                self.dropped_deltas += 1
                return 0
            # Another response: the dropped one is over (one response at a time on the service).
            self._drop_response, self._drop_named = None, False
            if item_id is not None:
                self.ledger.begin_item(item_id)  # a no-op for the current item
            self.ledger.wrote(n)
            self.delta_item_id, self.delta_response_id = item_id, response_id
        if self.output_paused and n:
            self._resume_output()
        return n

    # -- the output stream paused while idle (a media role declared) ------------------------------------------
    def pause_when_idle(self, now: float | None = None) -> bool:
        """Stop the output stream once nothing has sounded for IDLE_PAUSE_S (the watch's thread calls it); True
        when it did. Paused before stopped, so the watch never takes the stopped stream for a lost device."""
        if not self.pauses_when_idle or self.output_paused:
            return False
        now = time.monotonic() if now is None else now
        with self._life, self._pause_lock:
            stream = self.output_stream
            if stream is None or not self._running or self.is_playing:
                self._idle_since = None
                return False
            if self._idle_since is None:
                self._idle_since = now
            if now - self._idle_since < IDLE_PAUSE_S:
                return False
            self.output_paused = True
            stream.stop()
            self.output_pauses += 1
            return True

    def _resume_output(self) -> None:
        """Start the paused output stream again (the thread that wrote: once a reply). Under _life too, in
        pause_when_idle's order: stop()/drop_stream()/reopen_stream() close streams under _life only, and a close
        while start() waits on the sound server would free the stream under it."""
        with self._life, self._pause_lock:
            stream = self.output_stream
            if not self.output_paused or stream is None:
                return
            try:
                stream.start()
            except Exception as e:  # the device went away meanwhile: the watch finds it stopped and reopens it
                log.warning("could not restart the output stream: %s", e)
            self.output_paused, self._idle_since = False, None

    def drop_response(self, response_id: str) -> None:
        """Drop every later delta of `response_id` (a response cancelled before it started playing), until a
        delta of another response arrives."""
        with self._delta_lock:
            self._drop_response, self._drop_named = response_id, True

    # -- control (any thread) ---------------------------------------------------------------------
    def flush(self) -> None:
        """Barge-in: silence the speaker within one device buffer, discard what is queued, and drop the rest of
        the response that was playing (see the module docstring)."""
        with self._life, self._delta_lock:  # a delta is wholly before the flush (discarded) or after it
            self.ledger.sync()
            if not self._drop_named:
                self._drop_response = self.delta_response_id
            if self.output_stream is not None and self.playout is not None:
                self.output_stream.flush(self.playout)
            else:  # no stream calls back: nothing plays, forget the queued audio here (the only reader now)
                self._discard_playout()

    def truncate_point(self, item_id: str) -> int | None:
        """`audio_end_ms` for conversation.item.truncate: whole milliseconds of min(played, received), or None
        when nothing of the item was played or the item is unknown (the session deletes it instead).
        Right after flush() it lacks at most the fade-out the next callback hands over (ledger.py)."""
        played, received = self.ledger.played_bytes(item_id), self.ledger.received_bytes(item_id)
        if not played or received is None:
            return None
        return min(played, received) * 1000 // (2 * self.config.session_rate)

    def start_latency_ms(self, item_id: str) -> float | None:
        """Milliseconds from the item's first audio write to the callback that handed its first sample to the
        device; None until known (or for an item flushed before it played)."""
        seconds = self.ledger.start_latency(item_id)
        return None if seconds is None else seconds * 1000

    def played_ms(self, item_id: str) -> float | None:
        """Milliseconds of the item handed to the speaker (see ledger.py); None for an unknown item."""
        return self._ms(self.ledger.played_bytes(item_id))

    def unheard_ms(self, item_id: str) -> float | None:
        """Milliseconds of the item not heard yet (queued, or on its way to the DAC): 0 once its last sample played,
        whatever was written after it; None for an unknown item (ledger.py)."""
        return self._ms(self.ledger.unheard_bytes(item_id))

    def received_ms(self, item_id: str) -> float | None:
        return self._ms(self.ledger.received_bytes(item_id))

    def _ms(self, nbytes: int | None) -> float | None:
        """Milliseconds of mono PCM16 at the session rate (None stays None)."""
        return None if nbytes is None else nbytes * 1000 / (2 * self.config.session_rate)

    @property
    def python_callbacks(self) -> bool:
        """The device callbacks are Python (`callbacks = "python"`, or the build without the extension): they take
        the GIL every period."""
        return self._c is None

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

    def set_tap(self, ring: RingBuffer | None) -> None:
        """Give the microphone a second reader (the wake-word detector): mono int16 at the device rate
        (`input_rate`), written from the input callback; None removes it. Kept across a device reopen."""
        self._tap = ring
        if self.capture is not None:
            self.capture.tap = ring

    @property
    def input_rate(self) -> int | None:
        """The microphone's device rate (what the tap holds), None while no input stream runs."""
        c = self.capture
        return c.device_rate if c is not None and self.input_stream is not None else None

    @property
    def half_duplex(self) -> bool:
        return self._half_duplex

    @half_duplex.setter
    def half_duplex(self, value: bool) -> None:
        self._half_duplex = bool(value)
        self._apply_half_duplex()

    def _apply_half_duplex(self) -> None:
        tail = self.config.half_duplex_tail_ms / 1000
        if self._duplex is not None:  # the C callbacks meet in a shared struct: the playout writes, the capture reads
            self._duplex.set(self._half_duplex, tail)
            return
        if self.capture is None:
            return

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
            "backend_choice": {"auto": self.backend_choice.auto, "reason": self.backend_choice.reason},
            "callbacks": "python" if self.python_callbacks else "c",
            "latency_mode": cfg.latency,
            "session_rate": rate,
            "muted": self._muted,
            "half_duplex": self._half_duplex,
            "input": _stream_status(self.input_stream),
            "output": _stream_status(self.output_stream),
            "lost_devices": dict(self.lost_devices),
            "devices_reopened": self.watch.reopened if self.watch is not None else 0,
            "media_role": cfg.media_role if self.backend.name in SOUND_SERVER_BACKENDS else None,
            "output_paused": self.output_paused,
            "output_pauses": self.output_pauses,
        }
        c = self.capture
        choice = self.echo_choice
        out["echo"] = {"canceller": choice.canceller if choice else "off", "reason": choice.reason if choice else None,
                       **((c.echo_figures() if self._c is not None and c is not None else None) or {})}
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
            "rms_dbfs": round(dbfs(p.rms), 1) if p else None,
            "peak_dbfs": round(dbfs(p.peak), 1) if p else None,
            "underruns": p.underruns if p else 0,
            "drained": p.drained if p else 0,
            "flushes": p.flushes if p else 0,
            "overruns": self.playout_ring.overruns,
            "ring_ms": round(self.playout_ring.read_available * ms, 1),
            "prebuffer_ms": cfg.mode.prebuffer_ms,
            "target_ms": p.target_ms if p else cfg.mode.prebuffer_ms,  # the jitter-adaptive start target now
            "target_raises": p.raises if p else 0,
            "written_ms": round(self.ledger.written * ms, 1),
            "played_ms": round(self.ledger.played_total * ms, 1),
            "heard_ms": round(self.ledger.heard_total * ms, 1),
            "item": self.ledger.current_item(),
            "dropped_deltas": self.dropped_deltas,
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
