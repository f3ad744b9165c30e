"""Network faults between the daemon and the service, on loopback: the server killed (SIGKILL) and started again over
and over during a streaming session, a Wi-Fi drop (a blackhole), half-open connections, delay and jitter, and the
server closing with each close code the service uses. The daemon runs as systemd runs it (a subprocess); a control
client beside it must stay connected and be told; no thread may die.

The measured figures are printed (`pytest tests/reliability/test_network_faults.py -s`)."""

from __future__ import annotations

import statistics
import time

import pytest

from faultproxy import FaultProxy
from reliahelpers import KEY, SLOW, daemon_config, thread_count, wait_until
from rtaudiod.sim import Simulator

FAST = {"pace": 0, "response_latency": 0, "first_audio_latency": 0, "transcription_latency": 0}
# A connection that lived 0.5 s counts as stable here, so a kill every cycle restarts the backoff at its first step
# (0.25-0.5 s) instead of climbing to its 30 s cap: the test kills it 20 times, the service would not.
QUICK_RETRY = "stable_after_s = 0.5\nreconnect_max_s = 2.0"


def state_is(client, *states: str, timeout: float = 20):
    return client.wait_for("state", lambda e: e.data["state"] in states, timeout=timeout)


def test_the_server_killed_and_restarted_20_times_while_streaming(tmp_path, start_daemon, sim_process):
    kills = 50 if SLOW else 20
    sim = sim_process(None, "--pace", "1")
    daemon = start_daemon(daemon_config(tmp_path, sim.url, session=QUICK_RETRY)).ready()
    client = daemon.client()
    client.subscribe("state", "error")
    baseline_threads = thread_count(daemon.pid)
    detect, recover = [], []
    for i in range(kills):
        before = client.status()["counters"]["frames_sent"]
        wait_until(lambda: client.status()["counters"]["frames_sent"] > before + 10, 10, "the uplink to stream")
        if i % 3 == 0:  # now and then with a reply in flight (the first audio comes 0.5 s after the request)
            client.send_text(f"Tell me a long story number {i}")
            time.sleep(0.7)
        killed = time.monotonic()
        sim.kill()
        state_is(client, "reconnecting")
        detect.append(time.monotonic() - killed)
        sim = sim_process(sim.port, "--pace", "1")
        back = time.monotonic()
        state_is(client, "ready", "listening", "thinking", "speaking")
        recover.append(time.monotonic() - back)
    status = client.status()
    assert status["counters"]["reconnects"] >= kills
    assert status["connected"]
    daemon.assert_healthy()
    wait_until(lambda: thread_count(daemon.pid) == baseline_threads, 10,
               f"the daemon's threads back to {baseline_threads} (now {thread_count(daemon.pid)})")
    # still a working session: a text turn gets its spoken reply
    client.subscribe("transcript.assistant")
    client.send_text("Are you still there")
    said = client.wait_for("transcript.assistant", lambda e: e.data.get("final"), timeout=30)
    assert said.data["text"] == "Simulator heard: Are you still there."
    print(f"\nserver killed {kills} times: kill -> reconnecting p50 {statistics.median(detect) * 1000:.0f} ms "
          f"(max {max(detect) * 1000:.0f}); server back -> session ready p50 {statistics.median(recover):.2f} s "
          f"(max {max(recover):.2f})")


def test_a_wifi_drop_is_found_dead_and_the_session_comes_back(tmp_path, start_daemon):
    # Quick: keepalive at 1 s + 1 s; long: the defaults (ping after 20 s of silence, dead 10 s later), a 40 s drop.
    drop_s, keepalive = (40, "") if SLOW else (10, "ping_interval_s = 1.0\nping_timeout_s = 1.0")
    with Simulator(dialect="ga", api_key=KEY, **FAST) as sim, FaultProxy(("127.0.0.1", sim.port)) as proxy:
        config = daemon_config(tmp_path, f"ws://127.0.0.1:{proxy.port}/v1/realtime",
                               session=f"{keepalive}\nconnect_timeout_s = 3.0\n{QUICK_RETRY}")
        daemon = start_daemon(config).ready()
        client = daemon.client()
        client.subscribe("state", "error")
        proxy.blackhole()
        dropped = time.monotonic()
        state_is(client, "reconnecting", timeout=drop_s + 30)
        detected = time.monotonic() - dropped
        told = client.wait_for("error", timeout=5)
        assert told.data["code"] == "dead_peer" and told.data["fatal"] is False
        time.sleep(max(0.0, drop_s - (time.monotonic() - dropped)))
        proxy.heal()
        healed = time.monotonic()
        state_is(client, "ready", timeout=30)
        back = time.monotonic() - healed
        daemon.assert_healthy()
        client.subscribe("transcript.assistant")
        client.send_text("Back online")
        assert client.wait_for("transcript.assistant", lambda e: e.data.get("final"), timeout=15)
        print(f"\n{drop_s} s blackhole: found dead after {detected:.1f} s, ready {back:.1f} s after the network came back")


@pytest.mark.parametrize("direction", ["up", "down"])
def test_a_half_open_connection_is_replaced(tmp_path, start_daemon, direction):
    """`up` held: the server hears nothing (no audio, no pongs) while the daemon's writes fill the buffers: the
    daemon's send-stall limit or the server's ping timeout ends it. `down` held: the daemon hears nothing: its
    keepalive ping goes unanswered."""
    with Simulator(dialect="ga", api_key=KEY, ping_interval=1.0, ping_timeout=1.0, **FAST) as sim, \
            FaultProxy(("127.0.0.1", sim.port), small_buffers=True) as proxy:
        config = daemon_config(tmp_path, f"ws://127.0.0.1:{proxy.port}/v1/realtime",
                               session=f"ping_interval_s = 1.0\nping_timeout_s = 1.0\n{QUICK_RETRY}")
        daemon = start_daemon(config).ready()
        client = daemon.client()
        client.subscribe("state")
        proxy.hold(direction)
        held = time.monotonic()
        state_is(client, "reconnecting", timeout=30)
        detected = time.monotonic() - held
        proxy.heal()
        state_is(client, "ready", timeout=30)
        daemon.assert_healthy()
        assert client.status()["counters"]["reconnects"] >= 1
        print(f"\nhalf-open ({direction} held): replaced after {detected:.1f} s")


def test_delay_and_jitter_do_not_break_the_session(tmp_path, start_daemon):
    with Simulator(dialect="ga", api_key=KEY, **FAST) as sim, FaultProxy(("127.0.0.1", sim.port)) as proxy:
        proxy.delay, proxy.jitter = 0.15, 0.15  # 150-300 ms each way, a bad mobile link
        daemon = start_daemon(daemon_config(tmp_path, f"ws://127.0.0.1:{proxy.port}/v1/realtime")).ready()
        client = daemon.client()
        client.subscribe("transcript.assistant")
        for text in ("First question", "Second question"):
            client.send_text(text)
            said = client.wait_for("transcript.assistant", lambda e: e.data.get("final"), timeout=30)
            assert said.data["text"] == f"Simulator heard: {text}."
        assert client.status()["counters"]["reconnects"] == 0
        daemon.assert_healthy()


RECOVERABLE = [1000, 1001, 1011, 1012, 1013]  # normal, going away, server error, restarting, try again later


def test_every_recoverable_close_code_is_recovered_from(tmp_path, start_daemon):
    with Simulator(dialect="ga", api_key=KEY, **FAST) as sim:
        daemon = start_daemon(daemon_config(tmp_path, sim.url, session=QUICK_RETRY)).ready()
        client = daemon.client()
        client.subscribe("state", "error")
        for n, code in enumerate(RECOVERABLE, start=1):
            wait_until(lambda: client.status()["connected"], 10, "connected")
            time.sleep(0.6)  # stable (QUICK_RETRY), so each retry starts at the first backoff step
            sim.drop_connections(code, "test")
            state_is(client, "reconnecting")
            told = client.wait_for("error", timeout=5)
            assert told.data["fatal"] is False and "retry_in_s" in told.data, told.data
            state_is(client, "ready")
            assert len(sim.sessions) == n + 1, f"close {code}: no new session"
        assert client.status()["counters"]["reconnects"] == len(RECOVERABLE)
        daemon.assert_healthy()


@pytest.mark.parametrize("code, what", [(3000, "authentication failed"), (4000, "refused the request")])
def test_a_fatal_close_code_stops_the_daemon_with_a_clear_status(tmp_path, start_daemon, code, what):
    with Simulator(dialect="ga", api_key=KEY, **FAST) as sim:
        daemon = start_daemon(daemon_config(tmp_path, sim.url)).ready()
        client = daemon.client()
        client.subscribe("state", "error")
        sim.drop_connections(code, "the reason the service gave")
        told = client.wait_for("error", lambda e: e.data["fatal"], timeout=10)
        assert str(code) in told.data["message"] and what in told.data["message"]
        assert state_is(client, "failed", timeout=10)
        assert daemon.proc.wait(10) == 78  # EX_CONFIG: systemd does not restart it (RestartPreventExitStatus=78)
        failed = daemon.notify.wait("STATUS=failed", 5)
        assert str(code) in failed and what in failed, failed
        assert len(sim.sessions) == 1  # never retried
        assert KEY not in daemon.log
