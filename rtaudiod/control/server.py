"""`ControlServer`: the control protocol (docs/control-protocol.md) on a Unix stream socket, driving one `Session`.

Threads:
  rtaudiod-control      all socket I/O, with `selectors` on non-blocking sockets: accepts (checking SO_PEERCRED),
                        reads and frames requests, answers the ones that never wait (ping, subscriptions, mute),
                        encodes each session event once and queues it to every subscriber, writes the queues out.
                        It never blocks on a socket and never calls into the session in a way that can wait.
  rtaudiod-control-cmd  runs the commands that call into the session, one at a time in arrival order: a session
                        send can wait on the network (up to the session's `ping_timeout_s` on a stalled peer;
                        `turn_end` waits for the uplink), and that wait must never hold up another client's events
                        or audio. Its replies go back to the I/O thread through the same inbound queue as events.
Ordering: a client's next request is not read until the reply to its previous one is queued, so replies to one
client come in the order of its requests (while it waits, its socket is not read: the kernel's buffer pushes back).

Session side (receive and tool threads): `on_event` and `on_audio` append to one inbound deque and wake the I/O
thread through a socketpair (one non-blocking byte, only when it is not already awake) -- O(1), no lock, no JSON,
no socket that can block. Events nobody subscribed to are dropped at the source by one dict lookup (`raw` fires
for every server frame). If the I/O thread ever fell so far behind that the inbound deque held
`INBOUND_AUDIO_LIMIT` items, audio frames would be dropped there (counted in `stats["inbound_audio_dropped"]`).

Each client has one outgoing queue (a deque of bytes; an audio frame's PCM is shared by every subscriber, never
copied). Past `audio_queue_limit_bytes` its `audio.output` frames are dropped whole (counted; an `overflow` event
tells it once it has read its queue down to half the limit); past `queue_limit_bytes` it is disconnected. Bad input
is the client's problem only: a line that is not JSON gets an error and the connection goes on; input that cannot be
framed gets an error and that connection is closed; an exception while serving one client closes that client and is
logged, and the server goes on.
"""

from __future__ import annotations

import fcntl
import functools
import grp
import itertools
import logging
import os
import queue
import select
import selectors
import socket
import stat
import struct
import threading
import time
from collections import deque
from itertools import islice
from typing import TYPE_CHECKING, Any

from rtaudiod import __version__
from rtaudiod.errors import ControlError, SessionError

from .commands import COMMANDS, TOPICS, Command, ToolRouter, parse_args, session_error_code
from .protocol import (PROTOCOL_VERSION, BadLine, Message, Parser, Unframeable, encode_error, encode_event,
                       encode_reply)

if TYPE_CHECKING:
    from rtaudiod.listen import Listener
    from rtaudiod.session import Session

__all__ = ["ControlServer", "DEFAULT_AUDIO_QUEUE_LIMIT", "DEFAULT_QUEUE_LIMIT"]

log = logging.getLogger("rtaudiod.control")

#: A client's outgoing queue: audio frames are dropped past the first limit, the client disconnected past the second.
DEFAULT_AUDIO_QUEUE_LIMIT = 512 * 1024  # ~11 s of 24 kHz PCM16 beyond the kernel's own socket buffer
DEFAULT_QUEUE_LIMIT = 8 * 1024 * 1024
#: Items waiting for the I/O thread beyond which the session's audio frames are dropped at the source.
INBOUND_AUDIO_LIMIT = 2048
READ_SIZE = 65536
READS_PER_TURN = 4  # per readiness, so one client streaming audio in cannot starve the others
WRITE_BUFFERS = 64  # buffers per sendmsg
TICK_S = 0.5
CLOSE_GRACE_S = 2.0  # a connection closed after an error gets this long to take the error line

_LISTENER = "listener"
_WAKE = "wake"
_PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


class _Conn:
    """One client. Everything here belongs to the I/O thread, except `resampler` (the command thread's)."""

    def __init__(self, cid: int, sock: socket.socket, pid: int, uid: int, gid: int) -> None:
        self.id, self.sock, self.pid, self.uid, self.gid = cid, sock, pid, uid, gid
        self.parser = Parser()
        self.out: deque[bytes | memoryview] = deque()
        self.out_bytes = 0
        self.topics: set[str] = set()
        self.mask = 0  # the selector interest registered now (0: not registered)
        self.busy = False  # a request of it is on the command thread: its next one waits
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
        self.calls: dict[str, float] = {}  # tool calls sent to it and not answered: call_id -> when
        self.serves_tools = False
        self.used_session = False  # it ran commands on the command thread (state there to release when it goes)
        self.resampler: Any = None  # audio.input's stream (commands.InputResampler), command thread only

    def __repr__(self) -> str:
        return f"client {self.id} (pid {self.pid}, uid {self.uid})"

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "pid": self.pid, "uid": self.uid, "topics": sorted(self.topics),
                "queued_bytes": self.out_bytes, "dropped_frames": self.dropped_total}


class ControlServer:
    """The control socket of one session. `start()` creates the socket and the threads; `stop(timeout)` closes
    every connection, withdraws the tools clients registered and removes the socket file.

    `path`: the socket. `group` (name or gid; default the daemon's own) and `mode` (default 0660): its ownership;
    members of the socket's group are let in too. `allowed_uids` / `allowed_gids`: who may connect besides root and the daemon's own uid (checked with
    SO_PEERCRED: the peer's uid, its gid, and its supplementary groups as /proc shows them). The two queue limits:
    see the module docstring.
    """

    def __init__(self, session: Session, path: str | os.PathLike[str], *, group: str | int | None = None,
                 mode: int = 0o660, allowed_uids: tuple[int, ...] | list[int] = (),
                 allowed_gids: tuple[int, ...] | list[int] = (), queue_limit_bytes: int = DEFAULT_QUEUE_LIMIT,
                 audio_queue_limit_bytes: int = DEFAULT_AUDIO_QUEUE_LIMIT, backlog: int = socket.SOMAXCONN,
                 listener: Listener | None = None) -> None:
        if not 0 < audio_queue_limit_bytes <= queue_limit_bytes:
            raise ValueError("audio_queue_limit_bytes must be > 0 and at most queue_limit_bytes")
        self.session = session
        self.listener = listener  # the listening mode (listen.mode, status); None: the session's own gating only
        self.path = os.path.abspath(os.fspath(path))
        self.mode = mode
        self.gid = _group_id(group)
        self.allowed_uids = frozenset({0, os.getuid(), *allowed_uids})
        # The socket's group is trusted whether configured or the daemon's own: its members pass the file mode, and
        # refusing them after that would be a second, contradicting gate.
        self.allowed_gids = frozenset({*allowed_gids, self.gid if self.gid is not None else os.getegid()})
        self.queue_limit = queue_limit_bytes
        self.audio_queue_limit = audio_queue_limit_bytes
        # The kernel's maximum: a Unix socket's connect() with a timeout (rtaudiod-cli, Client) fails at once with
        # EAGAIN on a full backlog; with 16, some of 200 clients connecting together were refused so.
        self.backlog = backlog
        self.tools = ToolRouter(self)
        self._conns: dict[int, _Conn] = {}
        self._subscribers: dict[str, set[_Conn]] = {t: set() for t in TOPICS}
        self._wanted: dict[str, int] = {t: 0 for t in TOPICS}  # subscribers per topic, read by session threads
        self._inbound: deque[tuple] = deque()
        self._wake_pending = False
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._dirty: set[_Conn] = set()  # connections with new output or a changed read state
        self._ids = itertools.count(1)
        self._counters = {k: 0 for k in ("accepted", "refused", "disconnected_slow", "requests", "errors",
                                         "bad_lines", "framing_errors", "events_sent", "audio_frames_sent",
                                         "audio_frames_dropped", "tool_calls_routed", "bytes_in", "bytes_out")}
        self._inbound_audio_dropped = 0  # written by the session's receive thread only
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._worker: threading.Thread | None = None
        self._sel: selectors.BaseSelector | None = None
        self._listener: socket.socket | None = None
        self._listener_paused_until = 0.0
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._lock_fd: int | None = None
        self._inode: tuple[int, int] | None = None
        self._prev_on_event: Any = None
        self._prev_on_audio: Any = None

    def __repr__(self) -> str:
        return f"ControlServer({self.path!r}, clients={len(self._conns)})"

    # ================================================================================================ lifecycle
    def start(self) -> ControlServer:
        if self._thread is not None:
            return self
        self._listener = self._listen()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._listener, selectors.EVENT_READ, _LISTENER)
        self._sel.register(self._wake_r, selectors.EVENT_READ, _WAKE)
        self._stopping = False
        self._hook_session()
        self._worker = threading.Thread(target=self._work, name="rtaudiod-control-cmd", daemon=True)
        self._worker.start()
        self._thread = threading.Thread(target=self._run, name="rtaudiod-control", daemon=True)
        self._thread.start()
        log.info("control socket listening at %s (mode %o)", self.path, self.mode)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close every connection and the socket (its file removed if it is still ours), withdraw the clients'
        tools from the session, and wait up to `timeout` seconds for each thread."""
        if self._thread is None:
            return
        self._unhook_session()
        self._stopping = True
        self._wake()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("the control thread did not stop within %.1f s", timeout)
        if self._worker is not None:
            self._jobs.put(self.tools.release_all)
            self._jobs.put(None)
            self._worker.join(timeout)
            if self._worker.is_alive():
                log.error("the control command thread did not stop within %.1f s", timeout)
        for s in (self._wake_r, self._wake_w):
            if s is not None:
                s.close()
        self._thread = self._worker = None

    def __enter__(self) -> ControlServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def alive(self) -> bool:
        """Both threads run (the daemon's watchdog asks: a dead control thread must bring the daemon down)."""
        return all(t is not None and t.is_alive() for t in (self._thread, self._worker))

    @property
    def clients(self) -> int:
        """Connected clients (not counting connections being closed)."""
        return sum(1 for c in list(self._conns.values()) if not c.closing)

    @property
    def stats(self) -> dict[str, Any]:
        """Counters (JSON-ready; readable from any thread)."""
        out: dict[str, Any] = dict(self._counters)
        conns = [c for c in list(self._conns.values()) if not c.refused]
        out["clients"] = sum(1 for c in conns if not c.closing)
        out["inbound_audio_dropped"] = self._inbound_audio_dropped
        out["connections"] = [c.describe() for c in conns]
        return out

    # ================================================================================================ the socket file
    def _listen(self) -> socket.socket:
        """Create the listening socket at `self.path`, with its mode and group before anyone can connect.

        1. A lock file (`<path>.lock`, flock) is held while the server lives: two daemons starting at once cannot
           both decide a socket is stale.
        2. An existing file at the path: not a socket -> refuse (never delete someone's file); a socket someone
           answers on -> refuse (another daemon is live); a socket nobody answers on (ECONNREFUSED) -> stale, it
           will be replaced.
        3. bind() to a temporary name in the same directory, chmod and chown it, and only then listen(): before
           listen() a connect is refused, so the moment between bind (mode 0777 & ~umask) and chmod lets nobody
           in, whatever the umask (changing the umask instead would race other threads: it is per process).
        4. rename() it over the path: atomic, so the path never points at nothing while a stale one is replaced.
        """
        path = self.path
        parent = os.path.dirname(path)
        os.makedirs(parent, mode=0o755, exist_ok=True)
        tmp = os.path.join(parent, f".{os.path.basename(path)}.{os.getpid()}.tmp")
        if len(os.fsencode(tmp)) > 107:
            raise ControlError(f"the socket path {path!r} is too long for a Unix socket (108 bytes with the "
                               "temporary name)", code="bad_path")
        lock_fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock_fd)
            raise ControlError(f"another rtaudiod holds {path}.lock: it is running (or starting) on {path}",
                               code="socket_in_use") from None
        try:
            self._check_existing(path)
            try:
                os.unlink(tmp)  # our own leftover (same pid: a server that failed half-way)
            except FileNotFoundError:
                pass
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            try:
                sock.bind(tmp)
                os.chmod(tmp, self.mode)
                if self.gid is not None:
                    os.chown(tmp, -1, self.gid)
                sock.listen(self.backlog)
                sock.setblocking(False)
                os.rename(tmp, path)
            except BaseException:
                sock.close()
                try:
                    os.unlink(tmp)
                except FileNotFoundError:
                    pass
                raise
            st = os.stat(path)
            self._inode = (st.st_dev, st.st_ino)
        except BaseException:
            os.close(lock_fd)
            raise
        self._lock_fd = lock_fd
        return sock

    @staticmethod
    def _check_existing(path: str) -> None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise ControlError(f"{path} exists and is not a socket: not replacing it", code="socket_in_use")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(1.0)
        try:
            probe.connect(path)
        except ConnectionRefusedError:
            log.info("replacing the stale socket %s (nobody listens on it)", path)
            return
        except FileNotFoundError:
            return
        except OSError as e:  # a timeout (a live daemon with a full backlog), a permission: do not touch it
            raise ControlError(f"{path}: cannot tell whether a daemon listens there ({e}): not replacing it",
                               code="socket_in_use") from None
        finally:
            probe.close()
        raise ControlError(f"another daemon is listening on {path}: not starting a second one",
                           code="socket_in_use")

    def _remove_socket_file(self) -> None:
        """Unlink the path if it is still the socket this server created (not one a successor put there)."""
        try:
            st = os.lstat(self.path)
            if (st.st_dev, st.st_ino) == self._inode:
                os.unlink(self.path)
        except FileNotFoundError:
            pass
        except OSError as e:
            log.warning("could not remove %s: %s", self.path, e)
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # the lock file stays: unlinking it would race a starting successor
            self._lock_fd = None

    # ================================================================================================ session side
    def _hook_session(self) -> None:
        """Chain our observers in front of the session's (the previous ones still get every call)."""
        session = self.session
        self._prev_on_event = session.on_event
        session.on_event = self._on_event
        self._prev_on_audio = session.on_audio
        if self._prev_on_audio is not None:
            session.on_audio = self._on_audio

    def _unhook_session(self) -> None:
        session = self.session
        if session.on_event == self._on_event:
            session.on_event = self._prev_on_event
        if session.on_audio == self._on_audio:
            session.on_audio = self._prev_on_audio

    def _set_tap(self, on: bool) -> None:
        """The session decodes the reply a second time only while someone listens: install the audio tap with the
        first audio.output subscriber, remove it with the last (unless another observer was there before us)."""
        session = self.session
        ours = session.on_audio == self._on_audio
        if on and not ours:
            self._prev_on_audio = session.on_audio
            session.on_audio = self._on_audio
        elif not on and ours and self._prev_on_audio is None:
            session.on_audio = None

    def _on_event(self, topic: str, data: dict[str, Any]) -> None:
        """Session threads: O(1), never blocks."""
        if self._wanted.get(topic):
            self.post(("event", topic, data))
        prev = self._prev_on_event
        if prev is not None:
            prev(topic, data)

    def _on_audio(self, pcm: bytes, item_id: str | None) -> None:
        """The receive thread, once per audio delta: O(1), never blocks."""
        if self._wanted["audio.output"]:
            if len(self._inbound) >= INBOUND_AUDIO_LIMIT:
                self._inbound_audio_dropped += 1
            else:
                self.post(("audio", pcm, item_id))
        prev = self._prev_on_audio
        if prev is not None:
            prev(pcm, item_id)

    def post(self, item: tuple) -> None:
        """Hand an item to the I/O thread (any thread; O(1); never blocks)."""
        self._inbound.append(item)
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
                    for key, mask in sel.select(TICK_S):
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
                    time.sleep(0.01)
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        for conn in list(self._conns.values()):
            self._close(conn, "the daemon is stopping")
        if self._sel is not None:
            self._sel.close()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._remove_socket_file()
        log.info("control socket %s closed", self.path)

    def _drain_wake(self) -> None:
        try:
            while self._wake_r is not None and self._wake_r.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass

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
            conn = _Conn(next(self._ids), sock, pid, uid, gid)
            self._conns[conn.id] = conn
            if not self._allowed(uid, gid, pid):
                self._counters["refused"] += 1
                log.warning("refused a control connection from pid %d uid %d gid %d: not allowed", pid, uid, gid)
                conn.refused = True
                self._queue(conn, encode_error(None, "forbidden", f"uid {uid} (gid {gid}) may not use this socket"))
                self._start_closing(conn)
                continue
            self._counters["accepted"] += 1
            log.info("%s connected", conn)
            self._queue(conn, self._hello())

    def _pause_listener(self) -> None:
        if self._sel is not None and self._listener is not None and not self._listener_paused_until:
            self._sel.unregister(self._listener)
            self._listener_paused_until = time.monotonic() + TICK_S

    def _allowed(self, uid: int, gid: int, pid: int) -> bool:
        if uid in self.allowed_uids or gid in self.allowed_gids:
            return True
        return bool(self.allowed_gids and _supplementary_groups(pid) & self.allowed_gids)

    def _hello(self) -> bytes:
        session = self.session
        return encode_event("hello", {
            "protocol": PROTOCOL_VERSION, "version": __version__, "dialect": session.config.dialect,
            "state": session.state.value, "audio": {**self._audio_format(), "session_format":
                                                    session.config.audio_format},
            "commands": list(COMMANDS), "topics": list(TOPICS)})

    def _audio_format(self) -> dict[str, Any]:
        return {"format": "s16le", "rate": self.session.audio.config.session_rate, "channels": 1}

    def _serve(self, conn: _Conn, mask: int) -> None:
        try:
            if mask & selectors.EVENT_WRITE:
                self._write(conn)
            if mask & selectors.EVENT_READ and not conn.closed:
                self._read(conn)
        except Exception as e:  # whatever one client did, only that client pays
            if not isinstance(e, OSError):
                log.exception("serving %s failed", conn)
            self._close(conn, f"{type(e).__name__}: {e}")
            return
        self._dirty.add(conn)

    def _can_read(self, conn: _Conn) -> bool:
        if conn.eof or conn.closed:
            return False
        return conn.closing or (not conn.busy and conn.out_bytes <= self.audio_queue_limit)

    def _read(self, conn: _Conn) -> None:
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
                        self._close(conn, "closed after an error" if not conn.refused else "refused")
                    return
                continue
            if not data:
                conn.eof = True
                if _peer_gone(conn.sock):  # closed, not just half-closed: nobody will read what we send
                    self._close(conn, "it closed the connection")
                else:
                    self._process(conn)
                return
            self._counters["bytes_in"] += len(data)
            conn.parser.feed(data)
            self._process(conn)

    def _process(self, conn: _Conn) -> None:
        """Handle the client's complete messages until one goes to the command thread."""
        while not (conn.busy or conn.closing or conn.closed):
            try:
                message = conn.parser.next()
            except Unframeable as e:
                self._counters["framing_errors"] += 1
                log.warning("%s: %s; closing the connection", conn, e)
                self._error(conn, e.request_id, e.code, str(e))
                self._start_closing(conn)
                return
            if message is None:
                break
            if type(message) is BadLine:
                self._counters["bad_lines"] += 1
                self._error(conn, None, message.code, message.message)
            else:
                self._request(conn, message)
        if conn.eof and not (conn.busy or conn.closing or conn.closed) and not conn.topics:
            # It sent everything it will (socat at the end of its input): the replies go out, then we close.
            self._start_closing(conn)

    def _request(self, conn: _Conn, message: Message) -> None:
        self._counters["requests"] += 1
        header, payload = message
        rid = header.get("id")
        if rid is not None and type(rid) is not int and type(rid) is not str:
            return self._error(conn, None, "bad_request", "id must be a string or an integer")
        command = header.get("command")
        if not isinstance(command, str):
            return self._error(conn, rid, "bad_request", 'no string "command" in the request')
        spec: Command | None = COMMANDS.get(command)
        if spec is None:
            return self._error(conn, rid, "unknown_command", f"no command {command!r} (see the hello's commands)")
        args = {k: v for k, v in header.items() if k not in ("id", "command", "payload_length")}
        try:
            parsed = parse_args(spec, args, payload)
            if spec.check is not None:
                spec.check(self, conn, parsed)
            if spec.thread == "control":
                self._queue(conn, encode_reply(rid, spec.run(self, conn, parsed, payload)))
                return
        except ControlError as e:
            return self._error(conn, rid, e.code, str(e))
        except Exception as e:  # a bug: the client hears it, the connection stays usable
            log.exception("%s failed", command)
            return self._error(conn, rid, "internal", f"{command} failed: {type(e).__name__}: {e}")
        conn.busy = conn.used_session = True
        self._jobs.put((conn, rid, spec, parsed, payload))

    def _error(self, conn: _Conn, rid: Any, code: str, message: str) -> None:
        self._counters["errors"] += 1
        self._queue(conn, encode_error(rid, code, message))

    def _start_closing(self, conn: _Conn) -> None:
        """Send what is queued, then shut our side down (see `_Conn.closing`)."""
        conn.closing = True
        conn.closing_since = time.monotonic()
        self._dirty.add(conn)

    # -- inbound: events, audio, replies and tool calls from the other threads --------------------------------
    def _drain_inbound(self) -> None:
        self._wake_pending = False  # before draining: an item appended from now on wakes us again
        inbound = self._inbound
        while inbound:
            item = inbound.popleft()
            try:
                kind = item[0]
                if kind == "audio":
                    self._fanout_audio(item[1], item[2])
                elif kind == "event":
                    self._fanout(item[1], item[2])
                elif kind == "reply":
                    self._on_reply(item[1], item[2], item[3])
                elif kind == "tool.call":
                    self._deliver_call(item[1], item[2])
            except Exception:
                log.exception("handling %s failed", item[0])

    def _fanout(self, topic: str, data: dict[str, Any]) -> None:
        subscribers = self._subscribers.get(topic)
        if not subscribers:
            return
        if topic == "raw":
            frame = data.get("frame")
            data = {"frame": frame if isinstance(frame, str) else bytes(frame).decode("utf-8", "replace")}
        elif "event" in data:  # the session's vad/response "event" field: `kind` on the wire ("event" is the topic)
            data = dict(data)
            data["kind"] = data.pop("event")
        line = encode_event(topic, data)
        for conn in list(subscribers):
            if self._queue(conn, line):
                self._counters["events_sent"] += 1

    def _fanout_audio(self, pcm: bytes, item_id: str | None) -> None:
        subscribers = self._subscribers["audio.output"]
        if not subscribers:
            return
        line = encode_event("audio.output", {"item_id": item_id, **self._audio_format()}, len(pcm))
        for conn in list(subscribers):
            if self._queue(conn, line, pcm, audio=True):
                self._counters["audio_frames_sent"] += 1

    def _on_reply(self, conn: _Conn, line: bytes, failed: bool) -> None:
        self._counters["errors"] += failed
        if conn.closed:
            return
        conn.busy = False
        self._queue(conn, line)
        self._process(conn)  # the requests that waited behind it
        self._dirty.add(conn)

    def _deliver_call(self, conn_id: int, data: dict[str, Any]) -> None:
        conn = self._conns.get(conn_id)
        if conn is None or conn.closing or conn.closed:
            self._jobs.put(functools.partial(self.tools.answer_orphan, data["call_id"], data["name"]))
            return
        conn.calls[data["call_id"]] = time.monotonic()
        self._counters["tool_calls_routed"] += 1
        self._queue(conn, encode_event("tool.call", data))

    # -- output ------------------------------------------------------------------------------------------------
    def _queue(self, conn: _Conn, *chunks: bytes, audio: bool = False) -> bool:
        """Queue one message (its line, and its payload) whole, or not at all. False: dropped (audio over the audio
        limit) or the client is gone (closed now if this went past the hard limit)."""
        if conn.closed or conn.closing:
            return False
        size = sum(map(len, chunks))
        if audio and conn.out_bytes and conn.out_bytes + size > self.audio_queue_limit:
            conn.dropped_frames += 1
            conn.dropped_bytes += size
            conn.dropped_total += 1
            self._counters["audio_frames_dropped"] += 1
            return False
        if conn.out_bytes + size > self.queue_limit:
            self._counters["disconnected_slow"] += 1
            log.warning("%s does not read: %d bytes queued, over the limit of %d; disconnecting it", conn,
                        conn.out_bytes, self.queue_limit)
            self._close(conn, "too slow")
            return False
        conn.out.extend(chunks)
        conn.out_bytes += size
        self._dirty.add(conn)
        return True

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
                self._close(conn, f"{type(e).__name__}: {e}")

    def _write(self, conn: _Conn) -> None:
        out = conn.out
        while out:
            chunks = list(islice(out, WRITE_BUFFERS))
            try:
                sent = conn.sock.sendmsg(chunks, (), socket.MSG_NOSIGNAL)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as e:
                self._close(conn, f"send failed: {e}")
                return
            self._counters["bytes_out"] += sent
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
                self._close(conn, "done")

    def _report_overflow(self, conn: _Conn) -> None:
        line = encode_event("overflow", {"dropped_frames": conn.dropped_frames, "dropped_bytes": conn.dropped_bytes})
        conn.dropped_frames = conn.dropped_bytes = 0
        conn.out.append(line)
        conn.out_bytes += len(line)

    def _update_interest(self, conn: _Conn) -> None:
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

    def _close(self, conn: _Conn, reason: str) -> None:
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
        self._conns.pop(conn.id, None)
        self._dirty.discard(conn)
        for topic in conn.topics:
            self._subscribers[topic].discard(conn)
            self._wanted[topic] -= 1
        if "audio.output" in conn.topics and not self._wanted["audio.output"]:
            self._set_tap(False)
        conn.out.clear()
        conn.out_bytes = 0
        if conn.used_session or conn.calls:  # after any command of it still queued there
            self._jobs.put(functools.partial(self._release, conn, list(conn.calls)))
        log.info("%s disconnected: %s", conn, reason)

    def _release(self, conn: _Conn, calls: list[str]) -> None:
        """Command thread: what a departed client held in the session."""
        self.tools.release(conn.id, calls)
        if conn.resampler is not None:
            conn.resampler.close()
            conn.resampler = None

    def _tick(self, now: float) -> None:
        if self._listener_paused_until and now >= self._listener_paused_until and self._sel is not None:
            self._listener_paused_until = 0.0
            self._sel.register(self._listener, selectors.EVENT_READ, _LISTENER)
        stale_after = self.session.config.tool_timeout_s + 5.0
        for conn in list(self._conns.values()):
            if conn.closing and now - conn.closing_since > CLOSE_GRACE_S:
                self._close(conn, "it did not take the error line")
                continue
            if conn.eof and _peer_gone(conn.sock):  # a half-closed subscriber that has now closed for good
                self._close(conn, "it closed the connection")
                continue
            for call_id, since in list(conn.calls.items()):
                if now - since > stale_after:  # the session answered it with a timeout long ago
                    del conn.calls[call_id]

    # -- subscriptions (I/O thread, from the subscribe/unsubscribe commands) ----------------------------------
    def subscribe(self, conn: _Conn, topics: list[str]) -> dict[str, Any]:
        """Subscribe, then read the snapshot. Any change after the read comes as an event after the reply (the
        topic is wanted from before the read, and both run on this thread, ahead of the next fan-out); events
        already under way may repeat what the snapshot says."""
        for topic in topics:
            if topic not in conn.topics:
                conn.topics.add(topic)
                self._subscribers[topic].add(conn)
                self._wanted[topic] += 1
                if topic == "audio.output":
                    self._set_tap(True)
        return self._snapshot(conn.topics)

    def unsubscribe(self, conn: _Conn, topics: list[str]) -> None:
        for topic in topics:
            if topic in conn.topics:
                conn.topics.discard(topic)
                self._subscribers[topic].discard(conn)
                self._wanted[topic] -= 1
                if topic == "audio.output" and not self._wanted[topic]:
                    self._set_tap(False)

    def _snapshot(self, topics: set[str]) -> dict[str, Any]:
        session = self.session
        audio = session.audio
        snapshot: dict[str, Any] = {"state": session.state.value, "muted": audio.muted, "playing": audio.is_playing}
        if "audio.output" in topics:
            snapshot["audio"] = {**self._audio_format(), "item_id": audio.delta_item_id}
        if "function_call" in topics:
            snapshot["tools"] = session.tools.names()
        if self.listener is not None and topics & {"listen", "wake"}:
            listen = self.listener.status()
            snapshot["listen"] = {k: listen[k] for k in ("mode", "state", "reason", "open", "wakes", "last_wake")}
        return snapshot

    # ================================================================================================ command thread
    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if callable(job):  # housekeeping: a departed client's tools and calls
                try:
                    job()
                except Exception:
                    log.exception("control housekeeping failed")
                continue
            conn, rid, spec, args, payload = job
            code = message = None
            try:
                line = encode_reply(rid, spec.run(self, conn, args, payload))
            except ControlError as e:
                code, message = e.code, str(e)
            except SessionError as e:
                code, message = session_error_code(e), str(e)
            except Exception as e:  # a bug: said, logged, and the connection goes on
                log.exception("%s failed", spec.name)
                code, message = "internal", f"{spec.name} failed: {type(e).__name__}: {e}"
            if code is not None:
                line = encode_error(rid, code, message)
            self.post(("reply", conn, line, code is not None))


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


def _group_id(group: str | int | None) -> int | None:
    if group is None or isinstance(group, int):
        return group
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise ControlError(f"no group {group!r}", code="bad_group") from None


def _supplementary_groups(pid: int) -> set[int]:
    """The peer's supplementary groups (SO_PEERCRED has only its primary gid). Read at accept time, from /proc."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Groups:"):
                    return {int(g) for g in line.split()[1:]}
    except (OSError, ValueError):
        pass
    return set()
