"""`Outbox`: one connection's single writer path. Nothing that changes the conversation ever waits on the network.

Events (`post`) are queued in the order they are posted and sent by the connection's sender thread
(`rtaudiod-send`, `run`). The uplink's audio goes out through `send_audio`, which first sends every event posted
before it: a `input_audio_buffer.clear` posted before a pushed turn opens precedes the turn's first frame, and a
turn-end commit posted by the uplink precedes the next microphone frame. Both senders hold the outbox's order lock
while they send (the socket's writer lock: it orders the wire, it guards no conversation state), so an event taken
from the queue is always on the wire before anything posted after it.

A send that fails ends the link (`lost`); everything still queued is dropped with it (a new connection is a new
conversation). A link ended on purpose (stop, renewal) sends what is queued before its close frame (`close`). A peer that stops reading stalls only the two senders: a command, the receive thread and the
supervisor post and go on.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from rtaudiod.errors import SessionError

if TYPE_CHECKING:
    from .link import Link

__all__ = ["Outbox"]


class Outbox:
    def __init__(self, link: Link, on_sent: Callable[[], None]) -> None:
        self.link = link
        self._queue: deque[bytes | None] = deque()  # encoded events; None: a ping
        self._order = threading.Lock()  # the wire's order (see the module docstring); never a conversation lock
        self._wake = threading.Event()
        self._on_sent = on_sent  # counts an event that went out

    # -- any thread ----------------------------------------------------------------------------------------------
    def post(self, frame: bytes | None) -> None:
        """Queue one encoded event (None: a ping) to go out after everything posted before it; never blocks."""
        self._queue.append(frame)
        self._wake.set()

    @property
    def queued(self) -> int:
        return len(self._queue)

    def take(self) -> list[bytes | None]:
        """Remove and return what is queued (a conversation driven by hand, with no sender: the unit tests)."""
        taken = list(self._queue)
        self._queue.clear()
        return taken

    # -- the senders -----------------------------------------------------------------------------------------------
    def run(self) -> None:
        """The sender thread: sends what is posted until the link ends. Sleeps on an event, never polls."""
        link = self.link
        while not link.ended.is_set():
            self._wake.wait()
            self._wake.clear()
            with self._order:
                self._drain()

    def wake(self) -> None:
        """Let the sender thread see that the link ended."""
        self._wake.set()

    def send_audio(self, frame: memoryview, still: Callable[[], bool] | None = None) -> bool:
        """The uplink's frame, after every event posted before it (SessionError when the connection fails). `still`:
        asked once those events are on the wire, and the frame dropped (False) if it says no: an event just sent
        (a dropped turn's clear) may have taken the frame's right to go."""
        with self._order:
            if self._queue and not self._drain():
                raise SessionError("not connected to the Realtime service", code="not_connected")
            if still is not None and not still():
                return False
            self.link.connection.send_frame(frame)
            return True

    def close(self, code: int, reason: str, wait: float) -> None:
        """The closing handshake, after what is queued (waiting `wait` seconds for a stalled sender at most)."""
        if not self._order.acquire(timeout=wait):
            raise SessionError(f"the connection's sender was stalled for {wait:g} s", code="connection_lost")
        try:
            self._drain(ended_too=True)
            self.link.connection.send_close(code, reason, wait)
        finally:
            self._order.release()

    def _drain(self, ended_too: bool = False) -> bool:
        """Send everything queued (order lock held); `ended_too`: also once the link ended on purpose (the
        closing handshake). False when a send failed or the link ended."""
        conn, queue = self.link.connection, self._queue
        while queue and (ended_too or not self.link.ended.is_set()):
            frame = queue.popleft()
            try:
                if frame is None:
                    conn.ping()
                else:
                    conn.send_event(frame)
            except SessionError as e:
                self.link.end("lost", e)
                queue.clear()
                return False
            if frame is not None:
                self._on_sent()
        return not self.link.ended.is_set()
