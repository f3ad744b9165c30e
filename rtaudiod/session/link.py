"""One connection's life: the state the session keeps per connection, and its two threads' loops.

The receive thread (`receive_loop`) reads frames, answers the keepalive and hands every message to the session; the
uplink thread (`uplink_loop`) moves the microphone from the capture ring to the socket. Both end when the link ends
(`Link.end`): the peer closed, the connection died, the session stops or renews. The session's supervisor thread
starts and joins them once per connection.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING

from websocket import ABNF

from rtaudiod.errors import SessionError
from rtaudiod.framing import append_frame_size, frame_append_from_ring
from rtaudiod.protocol import Codec
from rtaudiod.ring import RingBuffer

from .connection import Connection

if TYPE_CHECKING:
    from .session import Session

__all__ = ["FrameSender", "Link", "MaskKeys", "receive_loop", "uplink_loop"]

#: How often a waiting thread looks up (the receive thread's keepalive tick, the uplink's wait when no audio comes).
RECEIVE_TICK_S = 0.5
UPLINK_WAIT_S = 0.1
#: Across a planned renewal, the newest audio kept for the new session while it is being set up (a switch takes a
#: fraction of a second; one that stalls must not send minutes-old audio).
RENEW_CARRY_MAX_S = 3.0
#: After the last piece of injected audio, how long the microphone stays held back: a stream injected in pieces at
#: real time (another process's capture) leaves the inject ring empty between them, and a microphone frame sent in
#: such a gap would splice 20 ms of the room into the middle of it.
INJECT_HOLD_S = 0.5


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
    """The uplink's one way to send audio (its loop and `turn_end` both use it): one fused core call reads `nbytes`
    of a ring and writes the complete masked WebSocket frame of the append event into a reused buffer, which goes
    out under the library's send lock; the frame is counted."""

    def __init__(self, session: Session, link: Link) -> None:
        self.session, self.stats = session, session.stats
        self.fmt = session.config.audio_format
        self.wire_per_pcm = 1 if self.fmt == "pcm16" else 0.5  # G.711: one code per PCM16 sample
        self.out = bytearray(append_frame_size(session.frame_bytes, self.fmt, masked=True))
        self.view = memoryview(self.out)
        self.keys = MaskKeys()
        self.mic = session.audio.capture_ring
        self._send = link.connection.send_frame

    def send(self, source: RingBuffer, nbytes: int) -> None:
        """Send `nbytes` (even, at most one frame) of `source`; SessionError when the connection fails."""
        n = frame_append_from_ring(source, nbytes, self.out, self.fmt, self.keys.next())
        self._send(self.view[:n])
        self.stats.frames_sent += 1
        self.stats.audio_bytes_sent += int(nbytes * self.wire_per_pcm)
        self.session._turn_audio_bytes += nbytes
        if source is self.mic:  # the privacy counters: every microphone byte that went up
            self.stats.mic_bytes_sent += nbytes


class Link:
    """Per-connection state. `ended` is set once, with the first reason given (`closed`, `lost`, `dead`, `fatal`,
    `renew`, `expired`, `stop`, `stalled`) and the error that caused it, if any."""

    def __init__(self, connection: Connection, dialect: str, number: int) -> None:
        self.connection = connection
        self.codec = Codec(dialect)
        self.number = number  # 1 for the session's first connection
        self.opened_at = time.monotonic()
        self.session_id: str | None = None
        self.settings_event_id: str | None = None
        self.configured = threading.Event()  # the first session.updated came: audio may flow
        self.ended = threading.Event()
        self.reason: str | None = None
        self.error: SessionError | None = None
        self.expired = False  # the service said session_expired (a close 1001 follows)
        self.carry_audio = False  # it follows a planned renewal: audio captured during the switch is its own
        self._lock = threading.Lock()

    def end(self, reason: str, error: SessionError | None = None) -> None:
        with self._lock:
            if self.reason is None:
                self.reason, self.error = reason, error
        self.ended.set()

    @property
    def age(self) -> float:
        return time.monotonic() - self.opened_at


def receive_loop(session: Session, link: Link) -> None:
    """Read frames until the link ends. Keepalive: the service pings about every 20 s and the library answers; when
    nothing at all is heard for `ping_interval_s` we ping, and a peer silent `ping_timeout_s` longer is dead."""
    config, conn = session.config, link.connection
    conn.set_receive_timeout(RECEIVE_TICK_S)
    last_heard = time.monotonic()
    pinged_at = 0.0
    while not link.ended.is_set():
        try:
            opcode, data = conn.receive()
        except TimeoutError:
            silent = time.monotonic() - last_heard
            if silent > config.ping_interval_s + config.ping_timeout_s:
                link.end("dead", SessionError(f"the server was silent for {silent:.0f} s (no answer to a ping)",
                                              code="dead_peer"))
                return
            if silent > config.ping_interval_s and pinged_at < last_heard:
                try:
                    conn.ping()
                except SessionError as e:
                    link.end("lost", e)
                    return
                pinged_at = time.monotonic()
            continue
        except SessionError as e:
            link.end("lost", e)
            return
        last_heard = time.monotonic()
        if opcode in (ABNF.OPCODE_TEXT, ABNF.OPCODE_BINARY):
            session._on_frame(link, data)
        elif opcode == ABNF.OPCODE_CLOSE:
            link.end("expired" if link.expired else "closed")
            return


def uplink_loop(session: Session, link: Link) -> None:
    """Microphone to socket: one fused core call per frame reads the capture ring and writes the complete, masked
    WebSocket frame of the `input_audio_buffer.append` event into one reused buffer (G.711-encoded on the way for
    G.711 sessions); it goes out under the library's send lock. The thread sleeps in `wait_readable` (GIL released)
    and never polls. It also serves `turn_end`: the audio captured up to that moment is sent, then the commit, so
    the commit can never overtake the turn's last frames."""
    audio, stats = session.audio, session.stats
    ring = audio.capture_ring
    frame_bytes = session.frame_bytes
    sender = FrameSender(session, link)
    # Nothing captured before the session was configured goes up (it may be in the wrong format, or minutes old),
    # except after a planned renewal: it came at a quiet moment on a working link, and what the user says (or a
    # process injects) while the new session is set up belongs to it. Only the newest RENEW_CARRY_MAX_S are kept.
    carry_max = round(RENEW_CARRY_MAX_S * audio.config.session_rate) * 2 if link.carry_audio else 0
    while not link.configured.wait(UPLINK_WAIT_S):
        if link.ended.is_set():
            return
        ring.skip(max(0, ring.read_available - carry_max) & ~1)
    ring.skip(max(0, ring.read_available - carry_max) & ~1)
    if not link.carry_audio:
        session.inject_ring.skip(session.inject_ring.read_available & ~1)  # what was injected for an old connection
    injected = session.inject_ring
    # Without a microphone the wait times out every UPLINK_WAIT_S: that many frames of injected audio then go at
    # once, so injection keeps real time either way.
    frames_per_timeout = max(1, round(UPLINK_WAIT_S * 1000 / session.audio.config.mode.capture_ms))

    preroll = session.preroll_ring
    held = memoryview(bytearray(frame_bytes))

    def hold(nbytes: int) -> None:
        """A withheld microphone frame goes into the pre-roll, which keeps only the last `preroll_bytes`."""
        keep = min(session.preroll_bytes, preroll.capacity) & ~1
        excess = preroll.read_available + nbytes - keep
        if excess > 0:
            preroll.skip(min(excess, preroll.read_available))
        got = ring.readinto(held[:nbytes])
        if keep:
            preroll.write(held[max(0, got - keep):got])

    def send_preroll() -> None:
        while waiting := preroll.read_available & ~1:
            n = min(frame_bytes, waiting)
            sender.send(preroll, n)
            stats.mic_bytes_sent += n
            stats.mic_bytes_withheld -= n  # withheld until now: it went up after all

    def send_from(source, nbytes: int, woke: float) -> None:
        mic = source is ring
        if not session._uplink_open(mic):
            if mic and session.preroll_bytes:
                hold(nbytes)
            else:
                source.skip(nbytes)
            stats.frames_withheld += 1
            if mic:
                stats.mic_bytes_withheld += nbytes
            return
        if mic:
            if session.preroll_pending:  # the gate opened on the wake word: the audio just before it goes first
                session.preroll_pending = False
                send_preroll()
            elif preroll.read_available:
                preroll.skip(preroll.read_available)
        sender.send(source, nbytes)
        stats.uplink_latency.add((time.perf_counter() - woke) * 1000)

    try:
        while not link.ended.is_set():
            ready = ring.wait_readable(frame_bytes, UPLINK_WAIT_S)
            woke = time.perf_counter()
            if session._turn_end_request is not None:
                session._finish_turn(link, sender)
                continue
            if injected.read_available:  # injected audio goes before the microphone, whose frames are skipped
                if ready:
                    ring.skip(frame_bytes)
                for _ in range(1 if ready else frames_per_timeout):
                    waiting = injected.read_available & ~1
                    if not waiting:
                        break
                    send_from(injected, min(frame_bytes, waiting), woke)
            elif ready:
                if time.monotonic() - session.injected_at < INJECT_HOLD_S:
                    ring.skip(frame_bytes)  # between two pieces of an injected stream
                else:
                    send_from(ring, frame_bytes, woke)
    except SessionError as e:
        link.end("lost", e)
