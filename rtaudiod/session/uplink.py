"""`UplinkGate`: what goes up to the service, and when; the uplink thread's loop is a short loop over it.

It owns:
  the inject ring    audio a local process sends as microphone input (`inject`); it goes before the microphone,
                     whose frames are skipped meanwhile and for `INJECT_HOLD_S` after (a stream injected in pieces);
  the listening gate `gate()` (the listener's, read once per microphone frame; None: always open) and the turn
                     flags it is read with: inside a push-to-talk turn everything goes up, with `push_to_talk` turn
                     detection nothing outside one;
  the pre-roll       while the gate is closed, the last `preroll_bytes` of the microphone; sent first when it opens
                     with `preroll_pending` set (the wake word's listener sets it: the question's first syllable);
  the turn end       a typed `TurnEnd` request (`request_turn_end`): the uplink sends every byte captured up to it,
                     then calls the session's `commit`, so the commit can never overtake the turn's last frames.
Threads: the uplink thread runs `run`; `inject` (one producer at a time) and `request_turn_end` come from commands.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rtaudiod.audio import AudioEngine
from rtaudiod.framing import append_frame_size, frame_append_from_ring
from rtaudiod.ring import RingBuffer

from .stats import SessionStats

if TYPE_CHECKING:
    from .link import Link

__all__ = ["FrameSender", "INJECT_HOLD_S", "MaskKeys", "TurnEnd", "UplinkGate"]

#: The uplink's wait for audio: without a microphone the wait times out this often, and that many frames of
#: injected audio then go at once, so injection keeps real time either way.
UPLINK_WAIT_S = 0.1
#: Across a planned renewal, the newest audio kept for the new session while it is being set up (a switch takes a
#: fraction of a second; one that stalls must not send minutes-old audio).
RENEW_CARRY_MAX_S = 3.0
#: After the last piece of injected audio, how long the microphone stays held back: a stream injected in pieces at
#: real time (another process's capture) leaves the inject ring empty between them, and a microphone frame sent in
#: such a gap would splice 20 ms of the room into the middle of it.
INJECT_HOLD_S = 0.5
PREROLL_MAX_S = 2  # the longest pre-roll kept while the listening gate is closed
INJECT_MAX_S = 10  # injected audio waiting beyond this is dropped (inject returns the bytes queued)


@dataclass
class TurnEnd:
    """A push-to-talk turn's end, served by the uplink thread: `done` is set once the turn's audio went up and the
    session committed it (`committed`: True) or cleared it (too short, or the connection ended: False)."""

    respond: bool
    done: threading.Event = field(default_factory=threading.Event)
    committed: bool = False


class MaskKeys:
    """Masking keys for client frames. RFC 6455 wants an unpredictable key per frame; one `os.urandom(4)` per frame
    (a getrandom call, ~0.4 us) cost more than framing the whole frame, so keys are cut from a 4 KiB block."""

    def __init__(self) -> None:
        self._block = b""
        self._pos = 0

    def next(self) -> bytes:
        if self._pos >= len(self._block):
            self._block, self._pos = os.urandom(4096), 0
        self._pos += 4
        return self._block[self._pos - 4 : self._pos]


class FrameSender:
    """The uplink's one way to send audio: one fused core call reads `nbytes` of a ring and writes the complete
    masked WebSocket frame of the append event into a reused buffer, which goes out under the library's send lock;
    the frame is counted (and the microphone's bytes, for the privacy counters)."""

    def __init__(self, stats: SessionStats, fmt: str, frame_bytes: int, mic: RingBuffer,
                 send: Callable[[memoryview, Callable[[], bool] | None], bool],
                 on_sent: Callable[[int], None]) -> None:
        self.stats, self.fmt, self.mic = stats, fmt, mic
        self.wire_per_pcm = 1 if fmt == "pcm16" else 0.5  # G.711: one code per PCM16 sample
        self._size(frame_bytes)
        self.keys = MaskKeys()
        self._send = send
        self._on_sent = on_sent

    def _size(self, frame_bytes: int) -> None:
        self.frame_bytes = frame_bytes
        self.out = bytearray(append_frame_size(frame_bytes, self.fmt, masked=True))
        self.view = memoryview(self.out)

    def send(self, source: RingBuffer, nbytes: int, still: Callable[[], bool] | None = None) -> bool:
        """Send `nbytes` (even) of `source` as one append; SessionError when the connection fails. `still`: see
        `Outbox.send_audio` (False: the frame was read from `source` and dropped)."""
        if nbytes > self.frame_bytes:  # the uplink's wake sends more than one capture frame (once)
            self._size(nbytes)
        n = frame_append_from_ring(source, nbytes, self.out, self.fmt, self.keys.next())
        if not self._send(self.view[:n], still):
            return False
        self.stats.frames_sent += 1
        self.stats.audio_bytes_sent += int(nbytes * self.wire_per_pcm)
        self._on_sent(nbytes)
        if source is self.mic:  # the privacy counters: every microphone byte that went up
            self.stats.mic_bytes_sent += nbytes
        return True


class UplinkGate:
    """See the module docstring. `in_turn()` and `push_to_talk()` are the session's (read per frame)."""

    def __init__(self, audio: AudioEngine, stats: SessionStats, frame_bytes: int, in_turn: Callable[[], bool],
                 push_to_talk: Callable[[], bool]) -> None:
        rate, mode = audio.config.session_rate, audio.config.mode
        # What one wake-up sends: `uplink_ms` of audio, whole capture frames (`frame_bytes` each).
        frame_bytes *= max(1, mode.uplink_ms // mode.capture_ms)
        self.audio, self.stats, self.frame_bytes = audio, stats, frame_bytes
        self.mic = audio.capture_ring
        self.bytes_per_s = rate * 2
        self._in_turn, self._push_to_talk = in_turn, push_to_talk
        self.inject_ring = RingBuffer(rate * 2 * INJECT_MAX_S)
        self._inject_lock = threading.Lock()  # the ring has one producer: one injecting caller at a time
        # Monotonic time of the last injection, or of the last injected byte sent if later: the microphone is held
        # back INJECT_HOLD_S from then (a slow uplink can take longer than the hold to send a piece).
        self.injected_at = -math.inf
        # The newest link (`attach`), and the bytes at the inject ring's head injected before it was configured
        # (dropped then: injected for an old connection). Counted by `inject`, which sees the link's configured flag
        # when the audio arrives: the uplink thread may see it much later, and what came in between is the new link's.
        self._link: Link | None = None
        self._stale_inject = 0
        self.gate: Callable[[], bool] | None = None
        self.preroll_bytes = 0
        self.preroll_pending = False
        self.preroll_ring = RingBuffer(rate * 2 * PREROLL_MAX_S)
        self.turn_end: TurnEnd | None = None
        self._injected_total = 0  # bytes ever written to the inject ring
        self._discard_upto: int | None = None  # a dropped turn: the injected audio up to here is skipped
        self.turn_bytes = 0  # audio sent since the turn started (a commit needs min_commit_ms of it)
        self._held = memoryview(bytearray(frame_bytes))

    # -- commands' side ------------------------------------------------------------------------------------------
    def inject(self, pcm: bytes) -> int:
        with self._inject_lock:
            self.injected_at = time.monotonic()
            n = self.inject_ring.write(pcm[: len(pcm) & ~1])
            self._injected_total += n
            link = self._link
            if link is None or not link.configured.is_set():
                self._stale_inject += n
            return n

    def attach(self, link: Link) -> None:
        """A new connection, before its threads start: everything injected until it is configured is stale."""
        with self._inject_lock:
            self._link, self._stale_inject = link, self.inject_ring.read_available

    def start_turn(self) -> None:
        self.turn_bytes = 0

    def count_sent(self, nbytes: int) -> None:
        """The sender's report of audio that went up (the uplink thread)."""
        self.turn_bytes += nbytes

    def request_turn_end(self, respond: bool) -> TurnEnd:
        request = TurnEnd(respond)
        self.turn_end = request  # the uplink serves it from its next wake-up (at most UPLINK_WAIT_S)
        return request

    def drop_injected(self) -> None:
        """A dropped turn takes its injected audio with it. The uplink thread (the ring's only reader) skips what was
        injected up to now at its next wake-up, before it sends anything more; what is injected after stays."""
        with self._inject_lock:
            self._discard_upto = self._injected_total

    def cancel_turn_end(self) -> None:
        """The connection ended: a turn end waiting for the uplink gets its answer (nothing was committed)."""
        request, self.turn_end = self.turn_end, None
        if request is not None:
            request.done.set()

    def may_send(self, mic: bool) -> bool:
        """Whether audio goes up now: inside a turn, always; with push-to-talk, only there; otherwise the
        microphone's audio when the listening gate says so, and injected audio (a local process sending it on
        purpose) always."""
        return self._in_turn() or self._outside_turn(mic)

    def _outside_turn(self, mic: bool) -> bool:
        if self._push_to_talk():
            return False
        gate = self.gate
        return not mic or gate is None or gate()

    # -- the uplink thread ---------------------------------------------------------------------------------------
    def run(self, link: Link, sender: FrameSender, commit: Callable[[TurnEnd, int], bool]) -> None:
        """Microphone (and injected audio) to socket until the link ends. The thread sleeps in `wait_readable`
        (GIL released) and never polls. `commit(request, turn_ms)` is the session's, called on this thread once the
        turn's audio went up."""
        ring, frame_bytes, injected = self.mic, self.frame_bytes, self.inject_ring
        if not self._wait_configured(link):
            return
        # Rounded up: at 40 ms, 2 frames a 100 ms timeout would send injected audio slower than real time.
        frames_per_timeout = math.ceil(UPLINK_WAIT_S * 1000 / self.audio.config.mode.uplink_ms)
        while not link.ended.is_set():
            ready = ring.wait_readable(frame_bytes, UPLINK_WAIT_S)
            woke = time.perf_counter()
            if self._discard_upto is not None:
                self._discard_injected()
            if self.turn_end is not None:
                self._finish_turn(sender, commit)
                continue
            if injected.read_available:  # injected audio goes before the microphone, whose frames are skipped
                if ready:
                    ring.skip(frame_bytes)
                for _ in range(1 if ready else frames_per_timeout):
                    waiting = injected.read_available & ~1
                    if not waiting:
                        break
                    self._send_from(sender, injected, min(frame_bytes, waiting), woke)
                self.injected_at = max(self.injected_at, time.monotonic())
            elif ready:
                if time.monotonic() - self.injected_at < INJECT_HOLD_S:
                    ring.skip(frame_bytes)  # between two pieces of an injected stream
                else:
                    self._send_from(sender, ring, frame_bytes, woke)

    def _discard_injected(self) -> None:
        with self._inject_lock:  # no write meanwhile: what was read is what was written minus what waits
            read = self._injected_total - self.inject_ring.read_available
            if self._discard_upto is not None and self._discard_upto > read:
                self.inject_ring.skip(self._discard_upto - read)
            self._discard_upto = None

    def _wait_configured(self, link: Link) -> bool:
        """Nothing captured before the session was configured goes up (it may be in the wrong format, or minutes
        old), except after a planned renewal: it came at a quiet moment on a working link, and what the user says
        (or a process injects) while the new session is set up belongs to it. Only the newest RENEW_CARRY_MAX_S are
        kept. False when the link ended first."""
        ring = self.mic
        carry_max = round(RENEW_CARRY_MAX_S * self.bytes_per_s / 2) * 2 if link.carry_audio else 0
        while not link.configured.wait(UPLINK_WAIT_S):
            if link.ended.is_set():
                return False
            ring.skip(max(0, ring.read_available - carry_max) & ~1)
        ring.skip(max(0, ring.read_available - carry_max) & ~1)
        with self._inject_lock:
            if not link.carry_audio:  # injected for an old connection, or before this one was configured
                self.inject_ring.skip(min(self._stale_inject, self.inject_ring.read_available) & ~1)
            self._stale_inject = 0
        return True

    def _send_from(self, sender: FrameSender, source: RingBuffer, nbytes: int, woke: float) -> None:
        mic = source is self.mic
        stats = self.stats
        in_turn = self._in_turn()
        if not in_turn and not self._outside_turn(mic):
            if mic and self.preroll_bytes:
                self._hold(nbytes)
            else:
                source.skip(nbytes)
            self._count_withheld(mic, nbytes)
            return
        preroll = self.preroll_ring
        if mic:
            if self.preroll_pending:  # the gate opened on the wake word: the audio just before it goes first
                self.preroll_pending = False
                self._send_preroll(sender)
            elif preroll.read_available:
                preroll.skip(preroll.read_available)
        # Let through inside the open turn: asked again once the events posted before the frame are on the wire.
        # A turn_cancel in between closed the turn and posted its clear, which the frame would follow into the
        # service's input buffer: audio the user took back.
        if not sender.send(source, nbytes, (lambda: self.may_send(mic)) if in_turn else None):
            self._count_withheld(mic, nbytes)
            return
        stats.uplink_latency.add((time.perf_counter() - woke) * 1000)

    def _count_withheld(self, mic: bool, nbytes: int) -> None:
        self.stats.frames_withheld += 1
        if mic:
            self.stats.mic_bytes_withheld += nbytes

    def _hold(self, nbytes: int) -> None:
        """A withheld microphone frame goes into the pre-roll, which keeps only the last `preroll_bytes`."""
        preroll = self.preroll_ring
        keep = min(self.preroll_bytes, preroll.capacity) & ~1
        excess = preroll.read_available + nbytes - keep
        if excess > 0:
            preroll.skip(min(excess, preroll.read_available))
        got = self.mic.readinto(self._held[:nbytes])
        if keep:
            preroll.write(self._held[max(0, got - keep):got])

    def _send_preroll(self, sender: FrameSender) -> None:
        preroll = self.preroll_ring
        while waiting := preroll.read_available & ~1:
            n = min(self.frame_bytes, waiting)
            sender.send(preroll, n)
            self.stats.mic_bytes_sent += n
            self.stats.mic_bytes_withheld -= n  # withheld until now: it went up after all

    def _finish_turn(self, sender: FrameSender, commit: Callable[[TurnEnd, int], bool]) -> None:
        """Send every byte captured up to the turn's end, then let the session commit it."""
        request = self.turn_end
        assert request is not None
        ring = self.mic
        if self.inject_ring.read_available:  # the turn's audio is the injected audio: the microphone's is not
            ring.skip(ring.read_available & ~1)
            ring = self.inject_ring
        try:
            while chunk := min(self.frame_bytes, ring.read_available & ~1):
                # a turn_cancel meanwhile posted its clear: the rest is audio the user took back (dropped)
                sender.send(ring, chunk, self._in_turn)
            request.committed = commit(request, self.turn_bytes * 1000 // self.bytes_per_s)
        finally:
            self.turn_end = None
            request.done.set()

