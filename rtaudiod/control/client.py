"""`Client`: the control protocol from Python (blocking, thread-safe), for the CLI and users' programs.

    from rtaudiod.control import Client

    with Client("/run/rtaudiod/control.sock") as c:
        c.hello["state"]                          # the daemon's greeting (protocol, dialect, audio format, ...)
        c.status()["state"]
        c.subscribe("transcript.assistant", "state")   # -> the snapshot; then change events
        c.send_text("What time is it?")
        for event in c.events():                  # Event(name, data, payload)
            if event.name == "transcript.assistant" and event.data["final"]:
                print(event.data["text"]); break

Threads: one reader thread (`rtaudiod-control-client`) reads every message; replies are matched to their request
by `id` and wake the thread that sent it, events go to a queue read by `next_event` / `events()` (bounded by
`max_events`: beyond it new events are dropped and counted in `dropped_events`). `request` may be called from any
number of threads at once.

Errors: every failure is a `ControlError` whose `code` is the daemon's (`bad_args`, `not_connected`, ...;
docs/control-protocol.md) or one of the client's own: `connect_failed` (no daemon at the path, or no permission),
`disconnected` (the connection ended before the reply), `no_reply` (none within `timeout`).
"""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

from rtaudiod.errors import ControlError

from .protocol import MAX_PAYLOAD, BadLine, Parser, encode_request

__all__ = ["Client", "Event"]

log = logging.getLogger("rtaudiod.control.client")

#: The daemon's lines may be longer than what it accepts from clients (a raw server frame, a long transcript).
CLIENT_MAX_LINE = 64 * 1024 * 1024


class Event:
    """One event from the daemon: `name` (the topic, or `tool.call`, `overflow`), `data` (the other fields) and
    `payload` (raw bytes: the PCM of an `audio.output` event; else None)."""

    __slots__ = ("name", "data", "payload")

    def __init__(self, name: str, data: dict[str, Any], payload: bytes | None = None) -> None:
        self.name, self.data, self.payload = name, data, payload

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def __repr__(self) -> str:
        payload = "" if self.payload is None else f", payload=<{len(self.payload)} bytes>"
        return f"Event({self.name!r}, {self.data!r}{payload})"


class _Slot:
    __slots__ = ("done", "reply")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.reply: dict[str, Any] | None = None


class Client:
    """A connection to the daemon's control socket. Connecting waits for the `hello` (`self.hello`); a refused
    peer gets `ControlError(code="forbidden")`. `timeout` bounds the connect, the hello, and each request."""

    def __init__(self, path: str, timeout: float = 10.0, max_events: int = 10000) -> None:
        self.path = str(path)
        self.timeout = timeout
        self.max_events = max_events
        self.dropped_events = 0
        self.hello: dict[str, Any] = {}
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(self.path)
        except OSError as e:
            self._sock.close()
            raise ControlError(f"cannot connect to {self.path}: {e.strerror or e}", code="connect_failed") from e
        self._ids = itertools.count(1)
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()  # _pending, _closed
        self._pending: dict[int, _Slot] = {}
        self._events: deque[Event] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._why: ControlError | None = None  # why the connection ended (the daemon's last error, if it said one)
        self._greeted = threading.Event()
        self._reader = threading.Thread(target=self._read, name="rtaudiod-control-client", daemon=True)
        self._reader.start()
        if not self._greeted.wait(timeout):
            self.close()
            raise ControlError(f"no hello from {self.path} within {timeout:g} s", code="no_reply")
        if not self.hello:
            self.close()
            raise self._why or ControlError(f"{self.path} closed the connection before its hello",
                                            code="disconnected")

    def __repr__(self) -> str:
        return f"Client({self.path!r}, closed={self._closed})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """End the connection; requests waiting get `disconnected`, `events()` ends. Idempotent."""
        with self._lock:
            already = self._closed
            self._closed = True
        if not already:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if threading.current_thread() is not self._reader:
            self._reader.join(self.timeout)
        self._sock.close()

    # ================================================================================================ requests
    def request(self, command: str, payload: bytes | bytearray | memoryview | None = None,
                **args: Any) -> dict[str, Any]:
        """Send one request and wait for its reply: the `result` object, or ControlError with the daemon's code."""
        if payload is not None:
            payload = memoryview(payload).cast("B")  # len() of a memoryview of int16 counts items, not bytes
        rid = next(self._ids)
        slot = _Slot()
        with self._lock:
            if self._closed:
                raise self._ended(command)
            self._pending[rid] = slot
        line = encode_request(rid, command, args, None if payload is None else len(payload))
        try:
            with self._send_lock:
                self._sock.sendall(line)
                if payload is not None and len(payload):
                    self._sock.sendall(payload)
        except OSError as e:
            with self._lock:
                self._pending.pop(rid, None)
            self._abort(f"sending {command} failed: {e}")  # a partial send leaves the stream out of step
            raise ControlError(f"sending {command} to {self.path} failed: {e}", code="disconnected") from e
        if not slot.done.wait(self.timeout):
            with self._lock:
                self._pending.pop(rid, None)
            raise ControlError(f"no reply to {command} within {self.timeout:g} s", code="no_reply")
        reply = slot.reply
        if reply is None:
            raise self._ended(command)
        error = reply.get("error")
        if error is not None:
            if not isinstance(error, dict):
                error = {"code": "internal", "message": repr(error)}
            raise ControlError(str(error.get("message", "")), code=str(error.get("code", "internal")))
        result = reply.get("result")
        return result if isinstance(result, dict) else {}

    def _ended(self, command: str) -> ControlError:
        why = f": {self._why} ({self._why.code})" if self._why is not None else ""
        return ControlError(f"{command}: the connection to {self.path} is closed{why}", code="disconnected")

    # ================================================================================================ events
    def next_event(self, timeout: float | None = None) -> Event | None:
        """The next event; None after `timeout` seconds without one, or once the connection is closed and every
        event read (see `closed`)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._events or self._closed, timeout):
                return None
            return self._events.popleft() if self._events else None

    def events(self, timeout: float | None = None) -> Iterator[Event]:
        """Every event as it comes, until the connection closes (or `timeout` seconds pass without one)."""
        while True:
            event = self.next_event(timeout)
            if event is None:
                return
            yield event

    def wait_for(self, name: str, predicate: Any = None, timeout: float | None = None) -> Event:
        """The next event named `name` (for which `predicate(event)` holds); other events read meanwhile are
        dropped. ControlError `no_reply` on timeout, `disconnected` if the connection ends first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            event = self.next_event(left)
            if event is None:
                if self._closed:
                    raise self._ended(f"waiting for {name}")
                raise ControlError(f"no {name} event within {timeout:g} s", code="no_reply")
            if event.name == name and (predicate is None or predicate(event)):
                return event

    # ================================================================================================ reader thread
    def _read(self) -> None:
        parser = Parser(max_line=CLIENT_MAX_LINE, max_payload=MAX_PAYLOAD)
        sock = self._sock
        try:
            while True:
                try:
                    data = sock.recv(262144)
                except TimeoutError:
                    if self._closed:
                        return
                    continue
                except OSError as e:
                    if not self._closed:
                        log.debug("control connection lost: %s", e)
                    return
                if not data:
                    return
                parser.feed(data)
                for message in parser:
                    if type(message) is BadLine:
                        log.warning("a line from the daemon is not a JSON object: %s", message.message)
                        continue
                    self._dispatch(message.header, message.payload)
        except ControlError as e:  # unframeable input from the daemon: nothing more can be read
            log.warning("the daemon's stream cannot be read: %s", e)
        finally:
            self._abort(None)

    def _dispatch(self, header: dict[str, Any], payload: bytes | None) -> None:
        name = header.get("event")
        if isinstance(name, str) and "id" not in header:
            del header["event"]
            if name == "hello" and not self._greeted.is_set():
                self.hello = header
                self._greeted.set()
                return
            with self._cond:
                if len(self._events) >= self.max_events:
                    self.dropped_events += 1
                else:
                    self._events.append(Event(name, header, payload))
                    self._cond.notify_all()
            return
        rid = header.get("id")
        with self._lock:
            slot = self._pending.pop(rid, None) if isinstance(rid, int) else None
        if slot is not None:
            slot.reply = header
            slot.done.set()
            return
        error = header.get("error")
        if rid is not None:
            log.debug("a reply to request %r came after its caller stopped waiting", rid)
        elif isinstance(error, dict):  # an error tied to no request: forbidden, a framing error, ...
            self._why = ControlError(str(error.get("message", "")), code=str(error.get("code", "internal")))
            log.warning("the daemon said: %s (%s)", self._why, self._why.code)

    def _abort(self, reason: str | None) -> None:
        """The connection is over: wake every waiting request and the event reader."""
        with self._lock:
            self._closed = True
            pending, self._pending = self._pending, {}
        if reason is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for slot in pending.values():
            slot.done.set()
        self._greeted.set()
        with self._cond:
            self._cond.notify_all()

    # ================================================================================================ commands
    def ping(self) -> float:
        """A round trip; returns its time in seconds."""
        start = time.perf_counter()
        self.request("ping")
        return time.perf_counter() - start

    def status(self) -> dict[str, Any]:
        return self.request("status")

    def subscribe(self, *topics: str) -> dict[str, Any]:
        """Subscribe; returns the snapshot (`state`, ...) taken after the subscription, before any change event."""
        return self.request("subscribe", topics=list(topics))["snapshot"]

    def unsubscribe(self, *topics: str) -> list[str]:
        """Unsubscribe; returns the topics still subscribed."""
        return self.request("unsubscribe", topics=list(topics))["topics"]

    def send_text(self, text: str, respond: bool = True) -> None:
        self.request("text.send", text=text, respond=respond)

    def send_image(self, image: bytes, text: str | None = None, respond: bool = True,
                   detail: str | None = None) -> int:
        """A JPEG or PNG (bytes of the file, sent as the payload) as a user message, with `text` about it; GA only
        (`unsupported` in beta). Returns the image's size as the daemon took it."""
        args: dict[str, Any] = {"respond": respond}
        if text is not None:
            args["text"] = text
        if detail is not None:
            args["detail"] = detail
        return int(self.request("image.send", image, **args)["bytes"])

    def announce(self, text: str, now: bool = False, listen: bool = False) -> str:
        """Have the device say `text` out of band (never in the history); returns its id (`announce` events)."""
        return str(self.request("announce", text=text, now=now, listen=listen)["announce_id"])

    def create_response(self, instructions: str | None = None) -> None:
        self.request("response.create", **({"instructions": instructions} if instructions is not None else {}))

    def turn_start(self) -> None:
        self.request("turn.start")

    def turn_end(self, respond: bool = True) -> bool:
        """End the push-to-talk turn; False: under 100 ms of audio, nothing committed."""
        return bool(self.request("turn.end", respond=respond)["committed"])

    def turn_cancel(self) -> None:
        self.request("turn.cancel")

    def cancel(self) -> bool:
        """Stop the reply (response.cancel); False when nothing was playing or active."""
        return bool(self.request("response.cancel")["cancelled"])

    def mute(self) -> bool:
        return bool(self.request("mic.mute")["muted"])

    def unmute(self) -> bool:
        return bool(self.request("mic.unmute")["muted"])

    def stop_playback(self) -> None:
        self.request("playback.stop")

    def update(self, **settings: Any) -> None:
        """session.update: change session settings live (instructions, voice, turn_detection, ...)."""
        self.request("session.update", settings=settings)

    def send_audio(self, pcm: bytes | bytearray | memoryview, rate: int, channels: int = 1,
                   end: bool = False) -> dict[str, int]:
        """Inject interleaved s16le PCM as microphone input (resampled by the daemon to the session rate). Sent in
        pieces of at most the payload limit. Returns {"frames": queued, "dropped": did not fit} in session-rate
        frames; the daemon holds at most ~10 s, so send long audio in real time. `end`: the stream's last chunk."""
        view = memoryview(pcm).cast("B")
        frame = 2 * channels
        step = MAX_PAYLOAD - MAX_PAYLOAD % frame
        total = {"frames": 0, "dropped": 0}
        starts = list(range(0, len(view), step)) or [0]
        for i, start in enumerate(starts):
            result = self.request("audio.input", view[start: start + step], rate=rate, channels=channels,
                                  format="s16le", end=end and i == len(starts) - 1)
            total["frames"] += int(result.get("frames", 0))
            total["dropped"] += int(result.get("dropped", 0))
        return total

    def register_tool(self, name: str, description: str | None = None,
                      parameters: dict[str, Any] | None = None) -> None:
        """Serve a tool: its calls arrive as `tool.call` events (call_id, name, arguments); answer each with
        `tool_result`."""
        args: dict[str, Any] = {"name": name}
        if description is not None:
            args["description"] = description
        if parameters is not None:
            args["parameters"] = parameters
        self.request("tool.register", **args)

    def unregister_tool(self, name: str) -> bool:
        return bool(self.request("tool.unregister", name=name)["removed"])

    def approve_mcp(self, approval_request_id: str, approve: bool = True, reason: str | None = None) -> None:
        """Answer an MCP approval request (a `tool` event with kind `approval_request`): run the call or not."""
        args: dict[str, Any] = {"approval_request_id": approval_request_id, "approve": approve}
        if reason is not None:
            args["reason"] = reason
        self.request("mcp.approve", **args)

    def tool_result(self, call_id: str, output: str) -> None:
        self.request("tool.result", call_id=call_id, output=output)
