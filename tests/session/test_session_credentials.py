"""Ephemeral keys from the user's own `token_url`, against a real HTTP server on 127.0.0.1: both reply shapes, a
key minted before every connect, fatal and retryable failures, and no key in any message."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest

from sessionhelpers import config_for
from rtaudiod.errors import SessionError
from rtaudiod.session import Session, State
from rtaudiod.session.credentials import mint_ephemeral_key
from sessionhelpers import null_engine, wait_until

EPHEMERAL = "ek_68af2b1e9c0f4d2a8e1b"


class TokenServer:
    """Answers POSTs with `replies` in turn (status, body); the last one repeats. Records the request bodies."""

    def __init__(self, replies: list[tuple[int, object]]) -> None:
        self.replies = replies
        self.requests: list[dict] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", 0))
                outer.requests.append(json.loads(self.rfile.read(length) or b"{}"))
                status, body = outer.replies[min(len(outer.requests), len(outer.replies)) - 1]
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def token_server() -> Iterator:
    servers: list[TokenServer] = []

    def factory(replies):
        servers.append(TokenServer(replies))
        return servers[-1]

    yield factory
    for s in servers:
        s.close()


@pytest.mark.parametrize("reply", [{"value": EPHEMERAL, "expires_at": 1760000000},
                                   {"client_secret": {"value": EPHEMERAL, "expires_at": 1760000000}}])
def test_both_reply_shapes_give_the_key(token_server, reply):
    server = token_server([(200, reply)])
    assert mint_ephemeral_key(server.url, "gpt-realtime", "ga", 5) == EPHEMERAL
    assert server.requests == [{"session": {"type": "realtime", "model": "gpt-realtime"}}]
    mint_ephemeral_key(server.url, "gpt-4o-realtime-preview", "beta", 5)
    assert server.requests[-1] == {"model": "gpt-4o-realtime-preview"}


@pytest.mark.parametrize("status,body,fatal,message", [
    (401, {"error": EPHEMERAL}, True, "HTTP 401"),
    (500, {"error": "boom"}, False, "HTTP 500"),
    (429, {}, False, "HTTP 429"),
    (200, b"<html>" + EPHEMERAL.encode(), False, "not JSON"),
    (200, {"token": EPHEMERAL}, True, "holds no key"),
])
def test_token_failures_are_clear_and_never_show_a_key(token_server, status, body, fatal, message):
    server = token_server([(status, body)])
    with pytest.raises(SessionError, match=message) as e:
        mint_ephemeral_key(server.url, "gpt-realtime", "ga", 5)
    assert e.value.code == "token_failed" and e.value.fatal is fatal
    assert EPHEMERAL not in str(e.value)


def test_an_unreachable_token_url_is_retryable(token_server):
    server = token_server([(200, {})])
    server.close()
    with pytest.raises(SessionError, match="could not be reached") as e:
        mint_ephemeral_key(server.url, "gpt-realtime", "ga", 2)
    assert not e.value.fatal


def test_a_session_mints_a_key_before_every_connect(make_sim, token_server):
    server = token_server([(500, {}), (200, {"value": EPHEMERAL, "expires_at": 0})])
    sim = make_sim("ga", api_key=EPHEMERAL)
    engine = null_engine()
    session = Session(config_for(sim, api_key=None, token_url=server.url), engine)
    try:
        session.start()
        assert session.wait_ready(10), session.error
        assert len(server.requests) == 2  # the 500 was retried
        sim.drop_connections(1011)
        wait_until(lambda: len(sim.sessions) == 2 and session.wait_ready(0.01), 10, "the reconnect")
        assert len(server.requests) == 3  # a fresh key for the new connection
        assert EPHEMERAL not in str(session.status()) and EPHEMERAL not in repr(session)
    finally:
        session.stop()
        engine.close()


def test_a_refused_device_stops_at_once(make_sim, token_server):
    server = token_server([(403, {"error": "device not enrolled"})])
    sim = make_sim("ga")
    engine = null_engine()
    session = Session(config_for(sim, api_key=None, token_url=server.url), engine)
    try:
        session.start()
        assert session.wait_state(State.FAILED, timeout=5)
        assert session.error.code == "token_failed" and "HTTP 403" in str(session.error)
        assert len(server.requests) == 1 and not sim.sessions
    finally:
        session.stop()
        engine.close()
