"""One WebSocket connection to the Realtime service, on websocket-client's synchronous `WebSocket`.

Threads: exactly one receive thread calls `receive()`; any thread may send. Every send goes through websocket-client's
own send lock (`enable_multithread=True`): events through `send_event` (the library frames and masks them), audio
through `send_frame` (the uplink's fused core call already wrote the whole masked WebSocket frame, so nothing is
left to do but hold the lock while the bytes go out). The send loop is ours, not the library's, so that a peer
that stops reading is detected instead of retried for ever.

Errors: everything the connection raises is a `SessionError` whose `fatal` says whether reconnecting can help
(a bad key, a bad URL or model) or not; the key never appears in a message.
"""

from __future__ import annotations

import socket
import struct
import time

import websocket
from websocket import ABNF
from websocket._handshake import SUPPORTED_REDIRECT_STATUSES
from websocket._socket import send as _socket_send  # the library's own EAGAIN/SSL-aware send

from rtaudiod.errors import SessionError
from rtaudiod.protocol import Endpoint

__all__ = ["Connection", "parse_close"]

#: Handshake answers that retrying cannot fix: the key (401, 403), the URL (404), the request (400).
_FATAL_HTTP = {400: "the service refused the request", 401: "the API key was refused",
               403: "the API key has no access to this model or endpoint", 404: "no Realtime API at this URL"}


def parse_close(data: bytes) -> tuple[int | None, str]:
    """The status code and reason of a close frame's payload (no code: None)."""
    if len(data) < 2:
        return None, ""
    return struct.unpack("!H", data[:2])[0], data[2:].decode("utf-8", "replace")


class Connection:
    """An open WebSocket to the Realtime endpoint (`open()` connects; `close()` / `abort()` end it)."""

    def __init__(self, endpoint: Endpoint, timeout: float, send_stall_s: float = 10.0) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.send_stall_s = send_stall_s
        self.ws = websocket.WebSocket(enable_multithread=True, skip_utf8_validation=True)
        self.opened_at = 0.0
        self.close_code: int | None = None
        self.close_reason = ""

    def __repr__(self) -> str:
        return f"Connection({self.endpoint.url!r}, connected={self.ws.connected})"

    def open(self) -> None:
        """Connect and shake hands; SessionError (fatal for 400/401/403/404) when it fails."""
        try:
            headers = self.endpoint.headers()
        except ValueError as e:  # a malformed key: its message never quotes it
            raise SessionError(str(e), code="invalid_api_key", fatal=True) from None
        try:
            # redirect_limit=0: websocket-client would send the same headers, the key with them, wherever a
            # redirect points (another host, plain ws://).
            self.ws.connect(self.endpoint.url, header=headers.lines(), timeout=self.timeout,
                            suppress_origin=True, redirect_limit=0)
        except websocket.WebSocketBadStatusException as e:
            what = _FATAL_HTTP.get(e.status_code)
            raise SessionError(f"connect to {self.endpoint.url}: HTTP {e.status_code} {e.status_message or ''}"
                               f"{': ' + what if what else ''}".rstrip(),
                               code=f"http_{e.status_code}", fatal=what is not None) from None
        except (websocket.WebSocketException, OSError) as e:
            answer = getattr(self.ws, "handshake_response", None)
            if answer is not None and answer.status in SUPPORTED_REDIRECT_STATUSES:
                raise SessionError(f"connect to {self.endpoint.url}: HTTP {answer.status} redirect, not followed "
                                   "(it would take the key elsewhere): set base_url to where it points",
                                   code="redirect") from None
            raise SessionError(f"connect to {self.endpoint.url}: {type(e).__name__}: {e}",
                               code="connect_failed") from None
        self.opened_at = time.monotonic()

    # -- receive thread --------------------------------------------------------------------------------------
    def set_receive_timeout(self, seconds: float) -> None:
        """How long `receive()` waits before raising `TimeoutError` (the receive thread's keepalive tick)."""
        if self.ws.sock is not None:
            self.ws.sock.settimeout(seconds)

    def receive(self) -> tuple[int, bytes]:
        """The next frame as (opcode, payload bytes): text and binary messages, and pings and pongs (answered by
        the library) so the caller sees the peer is alive. A close frame is answered and returned once.
        TimeoutError when nothing arrived in the receive timeout; SessionError when the connection is gone."""
        try:
            opcode, frame = self.ws.recv_data_frame(True)
        except websocket.WebSocketTimeoutException:
            raise TimeoutError from None
        except (websocket.WebSocketException, OSError, AttributeError) as e:
            # AttributeError: websocket-client reads a socket another thread has just closed (abort()).
            raise SessionError(f"connection lost: {type(e).__name__}: {e}", code="connection_lost") from None
        if opcode == ABNF.OPCODE_CLOSE:
            self.close_code, self.close_reason = parse_close(frame.data)
        return opcode, frame.data

    # -- any thread ----------------------------------------------------------------------------------------------
    def send_event(self, frame: bytes) -> None:
        """Send one JSON text frame (an encoded client event); the library frames and masks it."""
        self.send_frame(memoryview(ABNF.create_frame(frame, ABNF.OPCODE_TEXT).format()))

    def ping(self) -> None:
        self.send_frame(memoryview(ABNF.create_frame(b"", ABNF.OPCODE_PING).format()))

    def send_close(self, code: int = 1000, reason: str = "", wait: float = 1.0) -> None:
        """Start the closing handshake; the receive thread sees the peer's answer (or the socket end). A send
        stalled on a dead peer holds the send lock for up to `send_stall_s`: after `wait` seconds this gives up."""
        self.send_frame(memoryview(ABNF.create_frame(struct.pack("!H", code) + reason.encode()[:120],
                                                     ABNF.OPCODE_CLOSE).format()), wait)

    def send_frame(self, frame: memoryview, wait: float = -1) -> None:
        """Send a complete, masked WebSocket frame under the library's send lock (waiting `wait` seconds for it,
        -1: as long as it takes). A peer that takes nothing for `send_stall_s` is dead (websocket-client's own send
        would retry for ever)."""
        ws = self.ws
        if not ws.lock.acquire(timeout=wait):
            raise SessionError(f"send failed: another send held the connection for {wait:g} s",
                               code="connection_lost")
        try:
            try:
                sock = ws.sock
                if sock is None:
                    raise websocket.WebSocketConnectionClosedException("socket is already closed.")
                stalled_since = None
                while frame:
                    try:
                        sent = _socket_send(sock, frame)
                    except websocket.WebSocketTimeoutException:
                        # The socket's timeout is the receive thread's tick (0.5 s), not the stall limit. A send()
                        # that timed out took no bytes, so the stream is intact: a stall so far, wait on.
                        sent = 0
                    if sent:
                        frame = frame[sent:]
                        stalled_since = None
                    elif stalled_since is None:
                        stalled_since = time.monotonic()
                    elif time.monotonic() - stalled_since > self.send_stall_s:
                        raise TimeoutError(f"the peer took no data for {self.send_stall_s:g} s")
            except (websocket.WebSocketException, OSError, AttributeError) as e:
                # TimeoutError is an OSError. A partly sent frame leaves the stream unusable: the caller reconnects.
                raise SessionError(f"send failed: {type(e).__name__}: {e}", code="connection_lost") from None
        finally:
            ws.lock.release()

    def abort(self) -> None:
        """Wake the receive thread and fail every blocked send at once (a dead peer, or stop())."""
        sock = self.ws.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the peer: the receive thread sees that too

    def shutdown(self) -> None:
        """Release the socket (after the receive thread has ended)."""
        self.ws.shutdown()
