"""Connection-level behaviour: auth, dialect checks, model, path, the session length cap, the CLI."""

import json
import os
import subprocess
import sys
import time

import pytest
import websocket
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from simhelpers import KEY, Client, headers_for


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
    client = Client(sim.url, ["Authorization: Bearer whatever"])
    assert client.recv()["type"] == "session.created"
    client.close()


def test_ga_refuses_beta_shaped_session_with_4000(make_sim):
    sim = make_sim("ga")
    event, code, _ = _refused(sim.url, headers_for("beta"))
    assert event["error"]["code"] == "beta_api_shape_disabled"
    assert code == 4000


def test_beta_requires_beta_header(make_sim):
    sim = make_sim("beta")
    event, code, _ = _refused(sim.url, headers_for("ga"))
    assert event["error"]["code"] == "missing_beta_header"
    assert code == 3000


def test_model_query_is_used_and_unknown_model_refused(make_sim, dialect):
    sim = make_sim(dialect)
    client = Client(sim.url + "?model=gpt-4o-realtime-preview-2024-12-17", headers_for(dialect))
    assert client.recv()["session"]["model"] == "gpt-4o-realtime-preview-2024-12-17"
    client.close()
    event, code, _ = _refused(sim.url + "?model=no-such-model", headers_for(dialect))
    assert event["error"]["code"] == "model_not_found" and code == 3000


def test_wrong_path_is_404(make_sim):
    sim = make_sim("ga")
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(sim.url.replace("/v1/realtime", "/v1/other"), header=headers_for("ga"), timeout=5)
    assert info.value.status_code == 404


def test_session_cap_sends_session_expired_then_closes_1001(make_sim, dialect):
    sim = make_sim(dialect, max_session_seconds=0.5)
    headers = dict(h.split(": ", 1) for h in headers_for(dialect))
    with connect(sim.url, additional_headers=headers, open_timeout=5) as ws:
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


def test_non_loopback_host_refused():
    from rtaudiod.sim import Simulator

    with pytest.raises(ValueError, match="loopback"):
        Simulator(host="0.0.0.0")


def test_cli_port_zero_prints_url_and_serves():
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    cmd = [sys.executable, "-m", "rtaudiod.sim", "--host", "127.0.0.1", "--port", "0", "--dialect", "ga",
           "--api-key", KEY, "--pace", "0"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as proc:
        try:
            line = proc.stdout.readline()
            assert line.startswith("rtaudiod-sim listening on ws://127.0.0.1:"), line + proc.stderr.read()
            assert line.rstrip().endswith(" dialect=ga")
            client = Client(line.split()[3], headers_for("ga"))
            assert client.recv()["type"] == "session.created"
            client.close()
        finally:
            proc.terminate()
            assert proc.wait(timeout=10) == 0


def test_drop_connections_closes_sessions_and_new_ones_connect(make_sim, dialect):
    sim = make_sim(dialect)
    headers = dict(h.split(": ", 1) for h in headers_for(dialect))
    with connect(sim.url, additional_headers=headers, open_timeout=5) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "session.created"
        sim.wait_for_sessions(1)
        sim.drop_connections(1011, "boom")
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=5)
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (1011, "boom")
    with connect(sim.url, additional_headers=headers, open_timeout=5) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "session.created"
    assert len(sim.wait_for_sessions(2)) == 2
