"""`Transport`: the control socket's plumbing, the part mpv keeps thin: the socket file and its lock, the selectors
loop on the I/O thread (`rtaudiod-control`), framing, and each client's bounded outgoing queue with back-pressure.
What the messages mean is the service's (`ControlServer`, server.py), through the `Service` interface below.

The I/O thread owns every `Conn`: it accepts (checking SO_PEERCRED through the service's `allowed`), reads and
frames messages, hands each to the service, writes the queues out. It never blocks on a socket. Other threads hand
it work with `post(item)`: one deque and a socketpair byte that wakes the loop (only when it is not awake already),
O(1), no lock. Each item comes back to the service's `on_inbound` on the I/O thread.

Back-pressure: a client's next message is not read while one of its requests is in flight (`hold`/`resume`: the
kernel's buffer pushes back), nor while its queue is past the audio limit. Past `audio_queue_limit` its audio
frames are dropped whole (counted; an `overflow` event tells it once it has read its queue down to half); past
`queue_limit` it is disconnected. A line that is not JSON gets an error and the connection goes on; input that
cannot be framed gets an error and that connection is closed; an exception while serving one client closes that
client and is logged, and the server goes on.
"""

from __future__ import annotations

import logging
import select
import selectors
import socket
import struct
import threading
import time
from collections import deque
from itertools import islice
from typing import Any, Protocol

from .protocol import BadLine, Message, Parser, Unframeable, encode_error, encode_event
from .socketfile import SocketFile

__all__ = ["Conn", "Service", "Transport"]

log = logging.getLogger("rtaudiod.control")

READ_SIZE = 65536
READS_PER_TURN = 4  # per readiness, so one client streaming audio in cannot starve the others
WRITE_BUFFERS = 64  # buffers per sendmsg
TICK_S = 0.5  # the housekeeping tick, only while there are connections or the listener is paused (else: asleep)
CLOSE_GRACE_S = 2.0  # a connection closed after an error gets this long to take the error line

_LISTENER = "listener"
_WAKE = "wake"
_PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


class Conn:
    """One client. The transport's fields belong to the I/O thread; the service's (below them) are the service's,
    on the threads it says."""

    def __init__(self, cid: int, sock: socket.socket, pid: int, uid: int, gid: int) -> None:
        self.id, self.sock, self.pid, self.uid, self.gid = cid, sock, pid, uid, gid
        self.parser = Parser()
        self.out: deque[bytes | memoryview] = deque()
        self.out_bytes = 0
        self.mask = 0  # the selector interest registered now (0: not registered)
        self.busy = False  # a request of it is in flight (`hold`): its next one waits
        self.eof = False  # it shut down its sending side
        # Ending: the last lines go out, then our side is shut down (the peer reads EOF after them) while its input
        # is read and dropped until it closes too or CLOSE_GRACE_S pass. Closing at once could reset a peer still
        # writing (a Unix socket closed with unread input), which then might never read why it was closed.
        self.closing = False
        self.closing_since = 0.0
        self.shut = False  # our sending side is shut down
        self.refused = False  # a peer SO_PEERCRED refused (never a client: no hello, no commands)
        self.closed = False
        self.dropped_frames = 0  # audio frames dropped since the last overflow event
        self.dropped_bytes = 0
        self.dropped_total = 0
        # the service's
        self.topics: set[str] = set()  # I/O thread
        self.calls: dict[str, float] = {}  # tool calls sent to it and not answered: call_id -> when (I/O thread)
        self.serves_tools = False
        self.used_session = False  # it ran commands on the command thread (state there to release when it goes)
        self.resampler: Any = None  # audio.input's stream (commands.InputResampler), command thread only

    def __repr__(self) -> str:
        return f"client {self.id} (pid {self.pid}, uid {self.uid})"

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "pid": self.pid, "uid": self.uid, "topics": sorted(self.topics),
                "queued_bytes": self.out_bytes, "dropped_frames": self.dropped_total}


class Service(Protocol):
    """What the transport asks of the service, always on the I/O thread."""

    def allowed(self, uid: int, gid: int, pid: int) -> bool: ...
    def hello(self) -> bytes: ...
    def on_message(self, conn: Conn, message: Message) -> None: ...
    def on_inbound(self, item: tuple) -> None: ...
    def on_close(self, conn: Conn) -> None: ...
    def on_tick(self, now: float) -> None: ...
    def keeps_open(self, conn: Conn) -> bool: ...


class Transport:
    """See the module docstring. `counters` is shared with the service (JSON-ready; read from any thread)."""

    def __init__(self, service: Service, path: str, *, mode: int, gid: int | None, backlog: int,
                 queue_limit: int, audio_queue_limit: int) -> None:
        self.service = service
        self.path, self.mode, self.gid, self.backlog = path, mode, gid, backlog
        self.queue_limit, self.audio_queue_limit = queue_limit, audio_queue_limit
        self.conns: dict[int, Conn] = {}
        self.counters = {k: 0 for k in ("accepted", "refused", "disconnected_slow", "requests", "errors",
                                        "bad_lines", "framing_errors", "events_sent", "audio_frames_sent",
                                        "audio_frames_dropped", "tool_calls_routed", "bytes_in", "bytes_out")}
        self.inbound: deque[tuple] = deque()
        self._wake_pending = False
        self._dirty: set[Conn] = set()  # connections with new output or a changed read state
        self._ids = iter(range(1, 1 << 62))
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._sel: selectors.BaseSelector | None = None
        self._listener: socket.socket | None = None
        self._listener_paused_until = 0.0
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._file = SocketFile(path, mode, gid, backlog)

    # ================================================================================================ lifecycle
    def start(self) -> None:
        """Create the socket (see `_listen`) and start the I/O thread."""
        self._listener = self._file.listen()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._listener, selectors.EVENT_READ, _LISTENER)
        self._sel.register(self._wake_r, selectors.EVENT_READ, _WAKE)
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="rtaudiod-control", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Close every connection and the socket (its file removed if it is still ours); join the I/O thread."""
        if self._thread is None:
            return
        self._stopping = True
        self._wake()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("the control thread did not stop within %.1f s", timeout)
        for s in (self._wake_r, self._wake_w):
            if s is not None:
                s.close()
        self._thread = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def post(self, item: tuple) -> None:
        """Hand an item to the I/O thread (any thread; O(1); never blocks): the service's `on_inbound` gets it."""
        self.inbound.append(item)
        if not self._wake_pending:
            self._wake()

    def _wake(self) -> None:
        self._wake_pending = True
        w = self._wake_w
        if w is not None:
            try:
                w.send(b"\0")
            except OSError:  # full (a wake is pending anyway) or closed (stopping)
                pass

    # ================================================================================================ I/O thread
    def _run(self) -> None:
        sel = self._sel
        assert sel is not None
        next_tick = time.monotonic() + TICK_S
        try:
            while not self._stopping:
                try:
                    # Nobody connected: nothing to time out, sleep until a client or a post() wakes the loop.
                    idle = not self.conns and not self._listener_paused_until
                    for key, mask in sel.select(None if idle else max(0.0, next_tick - time.monotonic())):
                        data = key.data
                        if data is _LISTENER:
                            self._accept()
                        elif data is _WAKE:
                            self._drain_wake()
                        else:
                            self._serve(data, mask)
                    self._drain_inbound()
                    self._flush()
                    now = time.monotonic()
                    if now >= next_tick:
                        self._tick(now)
                        next_tick = now + TICK_S
                except Exception:  # a bug outside any one client's handling: say so and go on serving
                    log.exception("control server loop error (going on)")
                    time.sleep(0.01)  # not a poll: a pause so a recurring bug cannot spin the CPU
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        try:  # what was posted before the stop (the events of a failure that stops the daemon) goes out first
            self._drain_inbound()
            self._flush()
        except Exception:
            log.exception("the last flush before closing failed")
        for conn in list(self.conns.values()):
            self.close(conn, "the daemon is stopping")
        if self._sel is not None:
            self._sel.close()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._file.remove()
        log.info("control socket %s closed", self.path)

    def _drain_wake(self) -> None:
        try:
            while self._wake_r is not None and self._wake_r.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def _drain_inbound(self) -> None:
        self._wake_pending = False  # before draining: an item appended from now on wakes us again
        inbound = self.inbound
        while inbound:
            item = inbound.popleft()
            try:
                self.service.on_inbound(item)
            except Exception:
                log.exception("handling %s failed", item[0])

    def _accept(self) -> None:
        listener = self._listener
        assert listener is not None
        for _ in range(32):
            try:
                sock, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:  # out of file descriptors, say: pause accepting for a tick instead of spinning
                log.warning("accept on %s failed: %s", self.path, e)
                self._pause_listener()
                return
            sock.setblocking(False)
            try:
                pid, uid, gid = _PEERCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                                 _PEERCRED.size))
            except OSError as e:
                log.warning("no peer credentials on a control connection (%s): closed", e)
                sock.close()
                continue
            conn = Conn(next(self._ids), sock, pid, uid, gid)
            self.conns[conn.id] = conn
            if not self.service.allowed(uid, gid, pid):
                self.counters["refused"] += 1
                log.warning("refused a control connection from pid %d uid %d gid %d: not allowed", pid, uid, gid)
                conn.refused = True
                self.queue(conn, encode_error(None, "forbidden", f"uid {uid} (gid {gid}) may not use this socket"))
                self.start_closing(conn)
                continue
            self.counters["accepted"] += 1
            log.info("%s connected", conn)
            self.queue(conn, self.service.hello())

    def _pause_listener(self) -> None:
        if self._sel is not None and self._listener is not None and not self._listener_paused_until:
            self._sel.unregister(self._listener)
            self._listener_paused_until = time.monotonic() + TICK_S

    def _serve(self, conn: Conn, mask: int) -> None:
        try:
            if mask & selectors.EVENT_WRITE:
                self._write(conn)
            if mask & selectors.EVENT_READ and not conn.closed:
                self._read(conn)
        except Exception as e:  # whatever one client did, only that client pays
            if not isinstance(e, OSError):
                log.exception("serving %s failed", conn)
            self.close(conn, f"{type(e).__name__}: {e}")
            return
        self._dirty.add(conn)

    def _can_read(self, conn: Conn) -> bool:
        if conn.eof or conn.closed:
            return False
        return conn.closing or (not conn.busy and conn.out_bytes <= self.audio_queue_limit)

    def _read(self, conn: Conn) -> None:
        for _ in range(READS_PER_TURN):
            if not self._can_read(conn):
                return
            try:
                data = conn.sock.recv(READ_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            if conn.closing:  # its input no longer matters: drop it until it closes
                if not data:
                    conn.eof = True
                    if conn.shut:
                        self.close(conn, "closed after an error" if not conn.refused else "refused")
                    return
                continue
            if not data:
                conn.eof = True
                if _peer_gone(conn.sock):  # closed, not just half-closed: nobody will read what we send
                    self.close(conn, "it closed the connection")
                else:
                    self._process(conn)
                return
            self.counters["bytes_in"] += len(data)
            conn.parser.feed(data)
            self._process(conn)

    def _process(self, conn: Conn) -> None:
        """Hand the client's complete messages to the service until one is held in flight (`hold`)."""
        while not (conn.busy or conn.closing or conn.closed):
            try:
                message = conn.parser.next()
            except Unframeable as e:
                self.counters["framing_errors"] += 1
                log.warning("%s: %s; closing the connection", conn, e)
                self.error(conn, e.request_id, e.code, str(e))
                self.start_closing(conn)
                return
            if message is None:
                break
            if type(message) is BadLine:
                self.counters["bad_lines"] += 1
                self.error(conn, None, message.code, message.message)
            else:
                self.service.on_message(conn, message)
        if conn.eof and not (conn.busy or conn.closing or conn.closed) and not self.service.keeps_open(conn):
            # It sent everything it will (socat at the end of its input): the replies go out, then we close.
            self.start_closing(conn)

    # -- what the service does with a connection (I/O thread) -------------------------------------------------
    def hold(self, conn: Conn) -> None:
        """A request of `conn` is in flight: read nothing more of it until `resume`."""
        conn.busy = True

    def resume(self, conn: Conn, line: bytes) -> None:
        """The reply to the request in flight: queue it, then the requests that waited behind it."""
        if conn.closed:
            return
        conn.busy = False
        self.queue(conn, line)
        self._process(conn)
        self._dirty.add(conn)

    def error(self, conn: Conn, rid: Any, code: str, message: str) -> None:
        self.counters["errors"] += 1
        self.queue(conn, encode_error(rid, code, message))

    def start_closing(self, conn: Conn) -> None:
        """Send what is queued, then shut our side down (see `Conn.closing`)."""
        conn.closing = True
        conn.closing_since = time.monotonic()
        self._dirty.add(conn)

    def queue(self, conn: Conn, *chunks: bytes, audio: bool = False) -> bool:
        """Queue one message (its line, and its payload) whole, or not at all. False: dropped (audio over the audio
        limit) or the client is gone (closed now if this went past the hard limit)."""
        if conn.closed or conn.closing:
            return False
        size = sum(map(len, chunks))
        if audio and conn.out_bytes and conn.out_bytes + size > self.audio_queue_limit:
            # Frames that came in a burst are queued before the loop's flush: hand the kernel what it takes first,
            # so the limit counts what the client has not read, not what the loop has not written yet.
            self._write(conn)
            if conn.closed:
                return False
        if audio and conn.out_bytes and conn.out_bytes + size > self.audio_queue_limit:
            conn.dropped_frames += 1
            conn.dropped_bytes += size
            conn.dropped_total += 1
            self.counters["audio_frames_dropped"] += 1
            return False
        if conn.out_bytes + size > self.queue_limit:
            self.counters["disconnected_slow"] += 1
            log.warning("%s does not read: %d bytes queued, over the limit of %d; disconnecting it", conn,
                        conn.out_bytes, self.queue_limit)
            self.close(conn, "too slow")
            return False
        conn.out.extend(chunks)
        conn.out_bytes += size
        self._dirty.add(conn)
        return True

    # -- output ------------------------------------------------------------------------------------------------
    def _flush(self) -> None:
        while self._dirty:
            conn = self._dirty.pop()
            if conn.closed:
                continue
            try:
                self._write(conn)
                self._update_interest(conn)
            except Exception as e:
                if not isinstance(e, OSError):
                    log.exception("writing to %s failed", conn)
                self.close(conn, f"{type(e).__name__}: {e}")

    def _write(self, conn: Conn) -> None:
        out = conn.out
        while out:
            chunks = list(islice(out, WRITE_BUFFERS))
            try:
                sent = conn.sock.sendmsg(chunks, (), socket.MSG_NOSIGNAL)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as e:
                self.close(conn, f"send failed: {e}")
                return
            self.counters["bytes_out"] += sent
            conn.out_bytes -= sent
            whole = sent == sum(map(len, chunks))
            while sent:
                head = out[0]
                if len(head) <= sent:
                    sent -= len(head)
                    out.popleft()
                else:
                    out[0] = memoryview(head)[sent:]
                    sent = 0
            if not whole:
                break  # the socket buffer is full: wait for EVENT_WRITE
        if conn.dropped_frames and conn.out_bytes <= self.audio_queue_limit // 2 and not conn.closing:
            self._report_overflow(conn)  # it reads again: tell it what it missed (written on the next turn)
        if not out and conn.closing and not conn.shut:
            conn.shut = True
            try:
                conn.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            if conn.eof:  # it has said all it will already (socat at the end of its input): done
                self.close(conn, "done")

    def _report_overflow(self, conn: Conn) -> None:
        line = encode_event("overflow", {"dropped_frames": conn.dropped_frames, "dropped_bytes": conn.dropped_bytes})
        conn.dropped_frames = conn.dropped_bytes = 0
        conn.out.append(line)
        conn.out_bytes += len(line)

    def _update_interest(self, conn: Conn) -> None:
        if conn.closed or self._sel is None:
            return
        want = (selectors.EVENT_READ if self._can_read(conn) else 0) | (selectors.EVENT_WRITE if conn.out else 0)
        if want == conn.mask:
            return
        if conn.mask == 0:
            self._sel.register(conn.sock, want, conn)
        elif want == 0:
            self._sel.unregister(conn.sock)
        else:
            self._sel.modify(conn.sock, want, conn)
        conn.mask = want

    def close(self, conn: Conn, reason: str) -> None:
        if conn.closed:
            return
        conn.closed = True
        if conn.mask and self._sel is not None:
            try:
                self._sel.unregister(conn.sock)
            except (KeyError, ValueError):
                pass
        conn.mask = 0
        _goodbye(conn.sock, b"")
        self.conns.pop(conn.id, None)
        self._dirty.discard(conn)
        conn.out.clear()
        conn.out_bytes = 0
        self.service.on_close(conn)
        log.info("%s disconnected: %s", conn, reason)

    def _tick(self, now: float) -> None:
        if self._listener_paused_until and now >= self._listener_paused_until and self._sel is not None:
            self._listener_paused_until = 0.0
            self._sel.register(self._listener, selectors.EVENT_READ, _LISTENER)
        for conn in list(self.conns.values()):
            if conn.closing and now - conn.closing_since > CLOSE_GRACE_S:
                self.close(conn, "it did not take the error line")
            elif conn.eof and _peer_gone(conn.sock):  # a half-closed subscriber that has now closed for good
                self.close(conn, "it closed the connection")
        self.service.on_tick(now)


def _goodbye(sock: socket.socket, line: bytes) -> None:
    """Send a last line (it fits: the socket's buffer is empty or nearly), then close without a reset: what the
    peer had sent and we did not read is drained first (a Unix socket closed with unread input makes the peer's
    next read fail with ECONNRESET, possibly before it has read our line)."""
    try:
        if line:
            sock.send(line, socket.MSG_NOSIGNAL)
        sock.shutdown(socket.SHUT_WR)
        for _ in range(16):
            if not sock.recv(READ_SIZE):
                break
    except OSError:
        pass
    sock.close()


def _peer_gone(sock: socket.socket) -> bool:
    """Whether the peer closed its socket (POLLHUP), as opposed to shutting down its sending side only: a Unix
    socket reads EOF either way, and only the second may still read our events."""
    poller = select.poll()
    poller.register(sock, select.POLLHUP)
    return any(events & (select.POLLHUP | select.POLLERR) for _, events in poller.poll(0))
