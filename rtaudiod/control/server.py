"""`ControlServer`: the control protocol (docs/control-protocol.md) on a Unix stream socket, driving one `Session`.

Two parts: the transport (transport.py: the socket file, the selectors loop on the I/O thread `rtaudiod-control`,
framing, per-client bounded queues) and this service (commands, subscriptions, tool routing), which the transport
calls on its I/O thread through the `Service` interface.

Threads:
  rtaudiod-control      the transport's I/O thread; here it answers the requests that never wait (ping, status,
                        subscriptions, mute), encodes each session event once and queues it to every subscriber.
  rtaudiod-control-cmd  runs the commands that call into the session, one at a time in arrival order: a session
                        send can wait on the network (up to the session's `ping_timeout_s` on a stalled peer;
                        `turn_end` waits for the uplink), and that wait must never hold up another client's events
                        or audio. Its replies go back to the I/O thread through the transport's `post`.
Ordering: a client's next request is not read until the reply to its previous one is queued (`Transport.hold` /
`resume`), so replies to one client come in the order of its requests.

Session side (receive and tool threads): our subscriptions to the session post to the I/O thread -- O(1), no lock,
no JSON, no socket that can block. Events nobody subscribed to are dropped at the source by one dict lookup (`raw`
fires for every server frame). If the I/O thread ever fell so far behind that its inbound deque held
`INBOUND_AUDIO_LIMIT` items, audio frames would be dropped there (counted in `stats["inbound_audio_dropped"]`).
"""

from __future__ import annotations

import functools
import grp
import logging
import os
import queue
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from rtaudiod import __version__
from rtaudiod.errors import ControlError, SessionError

from .commands import COMMANDS, TOPICS, Command, ToolRouter, parse_args, session_error_code
from .protocol import PROTOCOL_VERSION, Message, encode_error, encode_event, encode_reply
from .transport import Conn, Transport

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


class ControlServer:
    """The control socket of one session. `start()` creates the socket and the threads; `stop(timeout)` closes
    every connection, withdraws the tools clients registered and removes the socket file.

    `path`: the socket. `group` (name or gid; default the daemon's own) and `mode` (default 0660): its ownership;
    members of the socket's group are let in too. `allowed_uids` / `allowed_gids`: who may connect besides root and
    the daemon's own uid (checked with SO_PEERCRED: the peer's uid, its gid, and its supplementary groups as /proc
    shows them). The two queue limits: see transport.py.
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
        # The kernel's maximum backlog: a Unix socket's connect() with a timeout (rtaudiod-cli, Client) fails at
        # once with EAGAIN on a full backlog; with 16, some of 200 clients connecting together were refused so.
        self.transport = Transport(self, self.path, mode=mode, gid=self.gid, backlog=backlog,
                                   queue_limit=queue_limit_bytes, audio_queue_limit=audio_queue_limit_bytes)
        self.tools = ToolRouter(self)
        self._subscribers: dict[str, set[Conn]] = {t: set() for t in TOPICS}
        self._wanted: dict[str, int] = {t: 0 for t in TOPICS}  # subscribers per topic, read by session threads
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._inbound_audio_dropped = 0  # written by the session's receive thread only
        self._worker: threading.Thread | None = None
        self._unsubscribe: Any = None  # our subscription to the session's events (audio.output apart)
        self._unsubscribe_audio: Any = None  # to audio.output, while a client listens (the session decodes for it)

    def __repr__(self) -> str:
        return f"ControlServer({self.path!r}, clients={len(self.transport.conns)})"

    # ================================================================================================ lifecycle
    def start(self) -> ControlServer:
        if self._worker is not None:
            return self
        self.transport.start()
        self._hook_session()
        self._worker = threading.Thread(target=self._work, name="rtaudiod-control-cmd", daemon=True)
        self._worker.start()
        log.info("control socket listening at %s (mode %o)", self.path, self.mode)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close every connection and the socket (its file removed if it is still ours), withdraw the clients'
        tools from the session, and wait up to `timeout` seconds for each thread."""
        if self._worker is None:
            return
        self._unhook_session()
        self.transport.stop(timeout)
        self._jobs.put(self.tools.release_all)
        self._jobs.put(None)
        self._worker.join(timeout)
        if self._worker.is_alive():
            log.error("the control command thread did not stop within %.1f s", timeout)
        self._worker = None

    def __enter__(self) -> ControlServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def alive(self) -> bool:
        """Both threads run (the daemon's watchdog asks: a dead control thread must bring the daemon down)."""
        return self.transport.alive and self._worker is not None and self._worker.is_alive()

    @property
    def clients(self) -> int:
        """Connected clients (not counting connections being closed)."""
        return sum(1 for c in list(self.transport.conns.values()) if not c.closing)

    @property
    def stats(self) -> dict[str, Any]:
        """Counters (JSON-ready; readable from any thread)."""
        out: dict[str, Any] = dict(self.transport.counters)
        conns = [c for c in list(self.transport.conns.values()) if not c.refused]
        out["clients"] = sum(1 for c in conns if not c.closing)
        out["inbound_audio_dropped"] = self._inbound_audio_dropped
        out["connections"] = [c.describe() for c in conns]
        return out

    def post(self, item: tuple) -> None:
        """Hand an item to the I/O thread (any thread; O(1); never blocks)."""
        self.transport.post(item)

    # ================================================================================================ session side
    def _hook_session(self) -> None:
        self._unsubscribe = self.session.subscribe(set(TOPICS) - {"audio.output"}, self._on_event)

    def _unhook_session(self) -> None:
        for unsubscribe in (self._unsubscribe, self._unsubscribe_audio):
            if unsubscribe is not None:
                unsubscribe()
        self._unsubscribe = self._unsubscribe_audio = None

    def _set_tap(self, on: bool) -> None:
        """The session decodes the reply a second time only while someone listens: subscribe to audio.output with
        the first client that does, unsubscribe with the last."""
        if on and self._unsubscribe_audio is None:
            self._unsubscribe_audio = self.session.subscribe({"audio.output"}, self._on_audio)
        elif not on and self._unsubscribe_audio is not None:
            self._unsubscribe_audio()
            self._unsubscribe_audio = None

    def _on_event(self, topic: str, data: dict[str, Any]) -> None:
        """Session threads: O(1), never blocks."""
        if self._wanted.get(topic):
            self.post(("event", topic, data))

    def _on_audio(self, topic: str, data: dict[str, Any]) -> None:
        """The receive thread, once per audio delta: O(1), never blocks."""
        if self._wanted["audio.output"]:
            if len(self.transport.inbound) >= INBOUND_AUDIO_LIMIT:
                self._inbound_audio_dropped += 1
            else:
                self.post(("audio", data["pcm"], data["item_id"]))

    # ================================================================================================ the transport's calls
    def allowed(self, uid: int, gid: int, pid: int) -> bool:
        if uid in self.allowed_uids or gid in self.allowed_gids:
            return True
        return bool(self.allowed_gids and _supplementary_groups(pid) & self.allowed_gids)

    def hello(self) -> bytes:
        session = self.session
        return encode_event("hello", {
            "protocol": PROTOCOL_VERSION, "version": __version__, "dialect": session.config.dialect,
            "state": session.state.value, "audio": {**self._audio_format(), "session_format":
                                                    session.config.audio_format},
            "commands": list(COMMANDS), "topics": list(TOPICS)})

    def _audio_format(self) -> dict[str, Any]:
        return {"format": "s16le", "rate": self.session.audio.config.session_rate, "channels": 1}

    def keeps_open(self, conn: Conn) -> bool:
        """A client that shut its sending side down stays while it listens to topics."""
        return bool(conn.topics)

    def on_message(self, conn: Conn, message: Message) -> None:
        transport = self.transport
        transport.counters["requests"] += 1
        header, payload = message
        rid = header.get("id")
        if rid is not None and type(rid) is not int and type(rid) is not str:
            return transport.error(conn, None, "bad_request", "id must be a string or an integer")
        command = header.get("command")
        if not isinstance(command, str):
            return transport.error(conn, rid, "bad_request", 'no string "command" in the request')
        spec: Command | None = COMMANDS.get(command)
        if spec is None:
            return transport.error(conn, rid, "unknown_command", f"no command {command!r} (see the hello's commands)")
        args = {k: v for k, v in header.items() if k not in ("id", "command", "payload_length")}
        try:
            parsed = parse_args(spec, args, payload)
            if spec.check is not None:
                spec.check(self, conn, parsed)
            if spec.thread == "control":
                transport.queue(conn, encode_reply(rid, spec.run(self, conn, parsed, payload)))
                return
        except ControlError as e:
            return transport.error(conn, rid, e.code, str(e))
        except Exception as e:  # a bug: the client hears it, the connection stays usable
            log.exception("%s failed", command)
            return transport.error(conn, rid, "internal", f"{command} failed: {type(e).__name__}: {e}")
        transport.hold(conn)
        conn.used_session = True
        self._jobs.put((conn, rid, spec, parsed, payload))

    def on_inbound(self, item: tuple) -> None:
        """Events, audio, replies and tool calls from the other threads."""
        kind = item[0]
        if kind == "audio":
            self._fanout_audio(item[1], item[2])
        elif kind == "event":
            self._fanout(item[1], item[2])
        elif kind == "reply":
            self.transport.counters["errors"] += item[3]
            self.transport.resume(item[1], item[2])
        elif kind == "tool.call":
            self._deliver_call(item[1], item[2])

    def on_close(self, conn: Conn) -> None:
        for topic in conn.topics:
            self._subscribers[topic].discard(conn)
            self._wanted[topic] -= 1
        if "audio.output" in conn.topics and not self._wanted["audio.output"]:
            self._set_tap(False)
        if conn.used_session or conn.calls:  # after any command of it still queued there
            self._jobs.put(functools.partial(self._release, conn, list(conn.calls)))

    def on_tick(self, now: float) -> None:
        stale_after = self.session.config.tool_timeout_s + 5.0
        for conn in list(self.transport.conns.values()):
            for call_id, since in list(conn.calls.items()):
                if now - since > stale_after:  # the session answered it with a timeout long ago
                    del conn.calls[call_id]

    # ================================================================================================ fan-out
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
            if self.transport.queue(conn, line):
                self.transport.counters["events_sent"] += 1

    def _fanout_audio(self, pcm: bytes, item_id: str | None) -> None:
        subscribers = self._subscribers["audio.output"]
        if not subscribers:
            return
        line = encode_event("audio.output", {"item_id": item_id, **self._audio_format()}, len(pcm))
        for conn in list(subscribers):
            if self.transport.queue(conn, line, pcm, audio=True):
                self.transport.counters["audio_frames_sent"] += 1

    def _deliver_call(self, conn_id: int, data: dict[str, Any]) -> None:
        conn = self.transport.conns.get(conn_id)
        if conn is None or conn.closing or conn.closed:
            self._jobs.put(functools.partial(self.tools.answer_orphan, data["call_id"], data["name"]))
            return
        conn.calls[data["call_id"]] = time.monotonic()
        self.transport.counters["tool_calls_routed"] += 1
        self.transport.queue(conn, encode_event("tool.call", data))

    def _release(self, conn: Conn, calls: list[str]) -> None:
        """Command thread: what a departed client held in the session."""
        self.tools.release(conn.id, calls)
        if conn.resampler is not None:
            conn.resampler.close()
            conn.resampler = None

    # -- subscriptions (I/O thread, from the subscribe/unsubscribe commands) ----------------------------------
    def subscribe(self, conn: Conn, topics: list[str]) -> dict[str, Any]:
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

    def unsubscribe(self, conn: Conn, topics: list[str]) -> None:
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
