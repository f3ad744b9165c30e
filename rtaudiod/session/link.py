"""One connection's life: the state the session keeps per connection, and its receive thread's loop.

The receive thread (`receive_loop`) reads frames, answers the keepalive and hands every message to the session; the
uplink thread (uplink.py, `UplinkGate.run`) moves the microphone from the capture ring to the socket; the sender
thread (outbox.py, `Outbox.run`) sends the events the session posts. All three end when
the link ends (`Link.end`): the peer closed, the connection died, the session stops or renews. The session's
supervisor thread starts and joins them once per connection.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from websocket import ABNF

from rtaudiod.errors import SessionError
from rtaudiod.protocol import Codec

from .connection import Connection
from .outbox import Outbox

if TYPE_CHECKING:
    from .session import Session

__all__ = ["Link", "receive_loop"]

#: The receive thread's keepalive tick: how often it looks up when nothing arrives.
RECEIVE_TICK_S = 0.5


class Link:
    """Per-connection state. `ended` is set once, with the first reason given (`closed`, `lost`, `dead`, `fatal`,
    `renew`, `expired`, `stop`, `stalled`) and the error that caused it, if any."""

    def __init__(self, connection: Connection, dialect: str, number: int,
                 on_sent: Callable[[], None] = lambda: None) -> None:
        self.connection = connection
        self.outbox = Outbox(self, on_sent)  # the one way events go out (outbox.py)
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
        self.outbox.wake()

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
                link.outbox.post(None)  # a ping, by the sender: this thread never waits on a send
                pinged_at = time.monotonic()
            continue
        except SessionError as e:
            link.end("lost", e)
            return
        last_heard = time.monotonic()
        if opcode in (ABNF.OPCODE_TEXT, ABNF.OPCODE_BINARY):
            session.receiver.on_frame(link, data)
        elif opcode == ABNF.OPCODE_CLOSE:
            link.end("expired" if link.expired else "closed")
            return
