"""Connection-level behaviour: auth, dialect checks, model, path, the session length cap, keepalive pings, stopping
(in process and the CLI on SIGTERM/SIGINT)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import websocket
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from simhelpers import KEY, Client, headers_for, url_for, wait_for


def _refused(url: str, headers: list[str]) -> tuple[dict, int, str]:
    """Connect, read the one error event, then the close: (error event, close code, close reason)."""
    with connect(url, additional_headers=dict(h.split(": ", 1) for h in headers), open_timeout=5) as ws:
        event = json.loads(ws.recv(timeout=5))
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=5)
    return event, info.value.rcvd.code, info.value.rcvd.reason


@pytest.mark.parametrize("key", ["wrong-key", None])
def test_bad_or_missing_key_gets_invalid_api_key_then_close(make_sim, dialect, key):
    sim = make_sim(dialect)
    headers = [h for h in headers_for(dialect, key or "") if key or not h.startswith("Authorization")]
    event, code, reason = _refused(sim.url, headers)
    assert event["type"] == "error" and event["error"]["code"] == "invalid_api_key"
    assert code == 3000 and reason == "invalid_request_error.invalid_api_key"
    assert sim.sessions == []


def test_any_non_empty_key_accepted_without_api_key(make_sim):
    sim = make_sim("ga", api_key=None)
    client = Client(url_for(sim), ["Authorization: Bearer whatever"])
    assert client.recv()["type"] == "session.created"
    client.close()


def test_ga_refuses_beta_shaped_session_with_4000(make_sim):
    sim = make_sim("ga")
    event, code, reason = _refused(url_for(sim), headers_for("beta"))
    assert event["error"]["code"] == "beta_api_shape_disabled"
    assert event["error"]["message"].startswith("The Realtime Beta API is no longer supported.")
    assert (code, reason) == (4000, "invalid_request_error.beta_api_shape_disabled")


def test_beta_requires_beta_header(make_sim):
    sim = make_sim("beta")
    event, code, reason = _refused(url_for(sim), headers_for("ga"))
    assert event["error"]["code"] == "missing_beta_header"
    assert (code, reason) == (4000, "invalid_request_error.missing_beta_header")


def test_auth_is_checked_before_the_request_shape(make_sim, dialect):
    """A bad key is an authentication failure (3000) even when the request is also malformed (no model)."""
    sim = make_sim(dialect)
    event, code, _ = _refused(sim.url, headers_for(dialect, "wrong-key"))
    assert (event["error"]["code"], code) == ("invalid_api_key", 3000)


def test_model_query_is_used_and_unknown_model_refused(make_sim, dialect):
    sim = make_sim(dialect)
    client = Client(url_for(sim, "gpt-4o-realtime-preview-2024-12-17"), headers_for(dialect))
    assert client.recv()["session"]["model"] == "gpt-4o-realtime-preview-2024-12-17"
    client.close()
    event, code, reason = _refused(url_for(sim, "no-such-model"), headers_for(dialect))
    assert event["error"]["code"] == "model_not_found" and "`no-such-model`" in event["error"]["message"]
    assert (code, reason) == (4000, "invalid_request_error.model_not_found")
    assert len(sim.sessions) == 1
    wait_for(lambda: sim.sessions[0].close_code is not None)  # recorded when the simulator's side is over


@pytest.mark.parametrize("query", ["", "?model=", "?voice=alloy"])
def test_connection_without_a_model_is_refused_with_4000(make_sim, dialect, query):
    sim = make_sim(dialect)
    event, code, reason = _refused(sim.url + query, headers_for(dialect))
    error = event["error"]
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", "missing_required_parameter",
                                                               "model")
    assert (code, reason) == (4000, "invalid_request_error.missing_required_parameter")
    assert sim.sessions == [] and [r["code"] for r in sim.rejected] == ["missing_required_parameter"]


def test_session_object_carries_id_object_and_expiry(connect, dialect):
    """As the service's: `id`, `object: realtime.session` and `expires_at` = connection time + the length cap."""
    before = time.time()
    sim, client = connect(dialect, max_session_seconds=120)
    session = client.events[0]["session"]
    assert session["id"] == sim.sessions[0].id and session["id"].startswith("sess_")
    assert session["object"] == "realtime.session"
    assert before + 119 <= session["expires_at"] <= time.time() + 120


def test_wrong_path_is_404(make_sim):
    sim = make_sim("ga")
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(sim.url.replace("/v1/realtime", "/v1/other"), header=headers_for("ga"), timeout=5)
    assert info.value.status_code == 404


def test_session_cap_sends_session_expired_then_closes_1001(make_sim, dialect):
    sim = make_sim(dialect, max_session_seconds=0.5)
    headers = dict(h.split(": ", 1) for h in headers_for(dialect))
    with connect(url_for(sim), additional_headers=headers, open_timeout=5) as ws:
        start = time.monotonic()
        assert json.loads(ws.recv(timeout=5))["type"] == "session.created"
        error = json.loads(ws.recv(timeout=5))
        elapsed = time.monotonic() - start
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=5)
    assert error["type"] == "error" and error["error"]["code"] == "session_expired"
    assert "maximum duration of 0.5 seconds" in error["error"]["message"]
    assert 0.4 < elapsed < 3.0
    assert info.value.rcvd.code == 1001
    wait_for(lambda: sim.sessions[0].close_code == 1001)  # closed by the service, not the client


def test_default_session_cap_is_60_minutes():
    from rtaudiod.sim import Simulator

    assert Simulator().options.max_session_seconds == 3600


def test_non_loopback_host_refused():
    from rtaudiod.sim import Simulator

    with pytest.raises(ValueError, match="loopback"):
        Simulator(host="0.0.0.0")


@pytest.mark.parametrize("name", ["pace", "response_latency", "first_audio_latency", "transcription_latency"])
def test_negative_times_refused(name):
    from rtaudiod.sim import Simulator

    with pytest.raises(ValueError, match=name):
        Simulator(**{name: -0.1})


def test_latency_defaults_are_the_services():
    from rtaudiod.sim import Options, Simulator

    options = Simulator().options
    assert (options.response_latency, options.first_audio_latency) == (0.3, 0.5)
    assert options == Options()


def _close_code(client: Client, max_frames: int = 1000) -> int:
    """Read frames (answering pings and the close) until the server's close frame; its status code."""
    client.ws.settimeout(5)
    for _ in range(max_frames):
        opcode, frame = client.ws.recv_data_frame(True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int.from_bytes(frame.data[:2], "big")
    raise AssertionError("no close frame")


def _start_cli(*extra: str) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    cmd = [sys.executable, "-m", "rtaudiod.sim", "--host", "127.0.0.1", "--port", "0", "--dialect", "ga",
           "--api-key", KEY, *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    if not line.startswith("rtaudiod-sim listening on ws://127.0.0.1:"):
        proc.kill()
        raise AssertionError(line + proc.communicate(timeout=10)[1])
    assert line.rstrip().endswith(" dialect=ga")
    return proc, line.split()[3]


def test_cli_port_zero_prints_url_and_serves():
    proc, url = _start_cli("--pace", "0", "--response-latency", "0", "--first-audio-latency", "0")
    with proc:
        try:
            client = Client(f"{url}?model=gpt-realtime", headers_for("ga"))
            assert client.recv()["type"] == "session.created"
            client.close()
        finally:
            proc.terminate()
            assert proc.wait(timeout=10) == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_signal_closes_sessions_with_1001_at_once_and_exits_0(sig):
    """With clients connected (one reading, one that never reads and so never answers the close), SIGTERM or
    SIGINT closes every session with 1001 at once and the process exits 0, without a traceback."""
    proc, url = _start_cli("--pace", "1")
    with proc:
        try:
            reader = Client(f"{url}?model=gpt-realtime", headers_for("ga"))
            idle = Client(f"{url}?model=gpt-realtime", headers_for("ga"))
            assert reader.recv()["type"] == "session.created"
            reader.send({"type": "response.create"})  # a response in flight at real-time pace
            assert reader.recv()["type"] == "response.created"
            start = time.monotonic()
            proc.send_signal(sig)
            assert _close_code(reader) == 1001
            elapsed = time.monotonic() - start  # to the close (the exit waits up to 0.5 s more for `idle`)
            assert proc.wait(timeout=5) == 0
            stderr = proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
    assert elapsed < 1.0, elapsed
    assert "Traceback" not in stderr, stderr
    assert _close_code(idle) == 1001  # the client that never read finds the 1001 close waiting for it
    reader.close()
    idle.close()


def test_cli_stops_at_once_after_refusing_a_beta_shaped_connection():
    """GA mode refuses a beta-shaped connection (error, then close 4000). A refused client that never answers that
    close must not hold the shutdown: SIGTERM ends the process within the stop grace, not websockets' 10 s
    close_timeout (issue 19, 7b)."""
    proc, url = _start_cli()
    with proc:
        try:
            refused = Client(f"{url}?model=gpt-realtime", headers_for("ga") + ["OpenAI-Beta: realtime=v1"])
            assert refused.recv()["error"]["code"] == "beta_api_shape_disabled"  # then the close, never answered
            start = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
            elapsed = time.monotonic() - start
            stderr = proc.stderr.read()
            refused.close()
        finally:
            if proc.poll() is None:
                proc.kill()
    assert elapsed < 2.0, elapsed
    assert "Traceback" not in stderr, stderr


def test_stop_closes_sessions_with_1001_promptly(make_sim, dialect):
    sim = make_sim(dialect)
    quiet = Client(url_for(sim), headers_for(dialect))  # never answers the close
    headers = dict(h.split(": ", 1) for h in headers_for(dialect))
    with connect(url_for(sim), additional_headers=headers, open_timeout=5) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "session.created"
        sim.wait_for_sessions(2)
        start = time.monotonic()
        sim.stop()
        elapsed = time.monotonic() - start
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=5)
    assert info.value.rcvd.code == 1001
    assert _close_code(quiet) == 1001  # sent at once, though this client never answered it
    quiet.close()
    assert [s.close_code for s in sim.sessions] == [1001, 1001]
    assert elapsed < 1.0, elapsed


def test_server_pings_and_drops_a_peer_that_never_pongs(make_sim):
    """Keepalive pings every `ping_interval` s (the service: ~20 s); no pong within `ping_timeout` closes the
    connection (websockets: 1011). websocket-client answers pings only while it reads: first read, then stop."""
    sim = make_sim("ga", ping_interval=0.2, ping_timeout=0.3)
    client = Client(url_for(sim), headers_for("ga"))
    assert client.recv()["type"] == "session.created"
    opcode, frame = client.ws.recv_data_frame(True)
    assert opcode == websocket.ABNF.OPCODE_PING
    client.ws.pong(frame.data)
    session = sim.wait_for_sessions(1)[0]
    time.sleep(1.0)  # no reading: the next ping goes unanswered, and the server gives up on the connection
    assert _close_code(client) == 1011  # websockets: "keepalive ping timeout"
    client.close()
    wait_for(lambda: session.close_code == 1011)  # and the session is over


def test_default_keepalive_is_the_services():
    from rtaudiod.sim import Simulator

    sim = Simulator()
    assert (sim.ping_interval, sim.ping_timeout) == (20.0, 20.0)


def test_drop_connections_closes_sessions_and_new_ones_connect(make_sim, dialect):
    sim = make_sim(dialect)
    headers = dict(h.split(": ", 1) for h in headers_for(dialect))
    with connect(url_for(sim), additional_headers=headers, open_timeout=5) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "session.created"
        sim.wait_for_sessions(1)
        sim.drop_connections(1011, "boom")
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=5)
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (1011, "boom")
    wait_for(lambda: sim.sessions[0].close_code == 1011)
    with connect(url_for(sim), additional_headers=headers, open_timeout=5) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "session.created"
    assert len(sim.wait_for_sessions(2)) == 2
