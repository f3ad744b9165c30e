"""The WebSocket connection's sends against a raw peer on 127.0.0.1 that shakes hands and then reads when it likes:
a peer that pauses is waited for (`send_stall_s`), one that takes nothing is declared dead, and neither holds a
close for the length of a stall."""

from __future__ import annotations

import base64
import hashlib
import socket
import threading
import time

import pytest
from websocket import ABNF

from rtaudiod.errors import SessionError
from rtaudiod.protocol import Endpoint
from rtaudiod.session.connection import Connection

RECEIVE_TICK_S = 0.2  # the socket timeout the receive thread sets (link.py uses 0.5 s)
FRAME = ABNF.create_frame(b"x" * 16000, ABNF.OPCODE_TEXT).format()


class SlowPeer:
    """Accepts one WebSocket connection, answers the handshake, waits `pause` seconds (None: for ever) before it
    reads anything, then reads and counts until the end. Small socket buffers, so a few frames fill them."""

    def __init__(self, pause: float | None) -> None:
        self.pause = pause
        self.received = 0
        self.closed = threading.Event()
        self._stop = threading.Event()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(1)
        self.url = f"ws://127.0.0.1:{self._listener.getsockname()[1]}/v1/realtime"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conn, _ = self._listener.accept()
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(4096)
            key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
                       if line.lower().startswith(b"sec-websocket-key"))
            accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            self._stop.wait(self.pause)
            conn.settimeout(0.1)
            while not self._stop.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not data:
                    break
                self.received += len(data)
        self.closed.set()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(2)


@pytest.fixture
def connect():
    made: list[tuple[SlowPeer, Connection]] = []

    def factory(pause: float | None, send_stall_s: float) -> Connection:
        peer = SlowPeer(pause)
        conn = Connection(Endpoint(model="gpt-realtime", dialect="ga", api_key="sk-test-key-0123456789",
                                   base_url=peer.url), 5.0, send_stall_s=send_stall_s)
        conn.open()
        conn.ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        conn.set_receive_timeout(RECEIVE_TICK_S)  # as the receive thread does: it is the socket's timeout
        made.append((peer, conn))
        return conn

    yield factory
    for peer, conn in made:
        conn.abort()
        conn.shutdown()
        peer.close()


def test_a_peer_that_pauses_longer_than_the_receive_tick_is_waited_for(connect):
    conn = connect(pause=1.0, send_stall_s=5.0)
    for _ in range(100):  # 1.6 MB: the buffers fill at once, the rest waits for the peer to read again
        conn.send_frame(memoryview(FRAME))


def test_a_peer_that_takes_nothing_is_dead_after_send_stall_s(connect):
    conn = connect(pause=None, send_stall_s=1.0)
    started = time.monotonic()
    with pytest.raises(SessionError, match="took no data for 1 s") as e:
        for _ in range(1000):
            conn.send_frame(memoryview(FRAME))
    assert e.value.code == "connection_lost"
    assert 1.0 <= time.monotonic() - started < 4.0


def test_a_close_does_not_wait_out_a_stalled_send(connect):
    conn = connect(pause=None, send_stall_s=30.0)
    failed: list[SessionError] = []

    def uplink() -> None:
        try:
            for _ in range(1000):
                conn.send_frame(memoryview(FRAME))
        except SessionError as e:
            failed.append(e)

    sender = threading.Thread(target=uplink, daemon=True)
    sender.start()
    time.sleep(1.0)  # the sender is stalled now, holding the send lock
    assert sender.is_alive()
    started = time.monotonic()
    with pytest.raises(SessionError):
        conn.send_close(1000, "client going away")
    assert time.monotonic() - started < 3.0
    conn.abort()  # what the supervisor does next: the stalled send fails at once
    sender.join(3.0)
    assert not sender.is_alive() and failed


class Redirector:
    """An HTTP server that answers every request with `302 Found` to `location`; records what it was sent."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.requests: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                conn.settimeout(2)
                request = b""
                try:
                    while b"\r\n\r\n" not in request:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        request += chunk
                    self.requests.append(request)
                    conn.sendall(f"HTTP/1.1 302 Found\r\nLocation: {self.location}\r\nContent-Length: 0\r\n\r\n"
                                 .encode())
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._listener.close()


def test_a_redirect_never_takes_the_key_elsewhere():
    """websocket-client follows up to three redirects by default, sending the same headers to wherever the Location
    points (another host, or plain ws:// from wss://): the Authorization header with the key among them."""
    elsewhere = Redirector("http://127.0.0.1:9/nowhere")
    first = Redirector(f"ws://127.0.0.1:{elsewhere.port}/v1/realtime?model=gpt-realtime")
    key = "sk-test-key-0123456789"
    try:
        conn = Connection(Endpoint(model="gpt-realtime", dialect="ga", api_key=key,
                                   base_url=f"ws://127.0.0.1:{first.port}/v1/realtime"), 5.0)
        with pytest.raises(SessionError) as e:
            conn.open()
        assert len(first.requests) == 1 and key.encode() in first.requests[0]  # the server it was meant for
        time.sleep(0.3)
        assert not elsewhere.requests, "the key went to the redirect's target"
        assert "302" in str(e.value) and key not in str(e.value)
    finally:
        first.close()
        elsewhere.close()
