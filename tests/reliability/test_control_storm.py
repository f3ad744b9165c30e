"""Bad control input against the daemon process: over 10,000 Hypothesis-generated malformed messages (bad JSON, wrong
types, unknown commands, binary garbage, huge lines, payload lengths that lie), every connection half-closed after
its input, and 200 clients connecting at once. Every answerable message gets its clear error; the daemon never
stops serving the well-behaved client beside them, and its session still talks afterwards.

The generators and the expected answers are the control tests' (tests/control/test_control_fuzz.py), here aimed at
the real daemon over its real socket, in greater number."""

from __future__ import annotations

import json
import socket
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reliahelpers import KEY, SLOW, daemon_config, wait_until
from rtaudiod.control import Client, ControlError
from rtaudiod.sim import Simulator

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "control"))
from test_control_fuzz import RECOVERABLE, _garbage_replies, exchange, lines, terminals  # noqa: E402

FAST = {"pace": 0, "response_latency": 0, "first_audio_latency": 0, "transcription_latency": 0}
EXAMPLES = 5000 if SLOW else 2000
SENT = {"messages": 0, "connections": 0}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One daemon for the whole storm, and its well-behaved client. No simulator pings: websockets draws them from
    the global `random`, which Hypothesis would take for a strategy's."""
    from reliahelpers import Daemon

    tmp = tmp_path_factory.mktemp("storm")
    with Simulator(dialect="ga", api_key=KEY, ping_interval=None, **FAST) as sim:
        daemon = Daemon(tmp, daemon_config(tmp, sim.url)).ready()
        try:
            yield daemon, daemon.client()
        finally:
            daemon.stop()


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(items=st.lists(lines, min_size=4, max_size=10), terminal=terminals)
def test_a_storm_of_malformed_messages(stack, items, terminal):
    daemon, good = stack
    data = b"".join(line + b"\n" for line, _ in items) + terminal[0]
    SENT["messages"] += len(items) + bool(terminal[0])
    SENT["connections"] += 1
    hello, *replies = exchange(daemon.socket, data)  # sends, half-closes, reads to the end
    assert hello["event"] == "hello"
    expected: list = []
    for line, what in items:
        expected += ["garbage"] * _garbage_replies(line) if what == "garbage" else [what]
    if terminal[1] in ("line_too_long", "payload_too_large", "bad_request"):
        expected.append(("a" if terminal[1] != "line_too_long" else None, terminal[1]))
    assert len(replies) == len(expected), (replies, expected)
    for reply, want in zip(replies, expected, strict=True):
        assert set(reply) == {"id", "error"} and reply["error"]["message"]
        if want == "garbage":
            assert reply["error"]["code"] in RECOVERABLE
        else:
            assert (reply["id"], reply["error"]["code"]) == want
    assert good.ping() > 0  # served beside it, every time


def test_200_clients_at_once(stack):
    """200 connect at the same moment (through a barrier): a third are polite (hello, ping, status), a third send
    garbage, a third half-close at once. Every polite one is answered; the good client beside them too."""
    daemon, good = stack
    barrier = threading.Barrier(200)
    results: list[str] = []

    def one(i: int) -> None:
        barrier.wait(30)
        try:
            if i % 3 == 0:
                with Client(daemon.socket, timeout=30) as c:
                    c.ping()
                    assert c.status()["state"]
                    results.append("served")
            else:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(30)
                sock.connect(daemon.socket)
                with sock:
                    sock.sendall(b"\xff\xfe{not json\n" if i % 3 == 1 else b"")
                    sock.shutdown(socket.SHUT_WR)
                    got = b""
                    while chunk := sock.recv(65536):
                        got += chunk
                hello, *replies = [json.loads(line) for line in got.splitlines()]
                assert hello["event"] == "hello"
                assert [r["error"]["code"] for r in replies] == (["bad_json"] if i % 3 == 1 else [])
                results.append("answered")
        except (OSError, AssertionError, ControlError, ValueError) as e:
            results.append(f"client {i}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(200)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        assert good.ping() > 0
    for t in threads:
        t.join(60)
    failures = [r for r in results if r not in ("served", "answered")]
    assert not failures and len(results) == 200, failures[:5]
    wait_until(lambda: good.status()["control"]["clients"] == 1, 10, "the 200 connections to be gone")


def test_after_the_storm_the_daemon_still_talks(stack):
    daemon, good = stack
    good.subscribe("transcript.assistant")
    good.send_text("Hello after the storm")
    assert good.wait_for("transcript.assistant", lambda e: e.data.get("final"), timeout=15)
    daemon.assert_healthy()
    if SENT["connections"]:  # the storm ran first (this module's order)
        stats = good.status()["control"]
        print(f"\nthe storm: {SENT['messages']} malformed messages over {SENT['connections']} connections; "
              f"the daemon counted {stats['errors']} errors, {stats['framing_errors']} framing errors")
        assert SENT["messages"] >= (10_000 if not SLOW else 30_000)
