"""Reconnect and renewal: a server killed mid-reply and started again, a dead peer (a blackhole), the service's
session cap, fatal errors that must not be retried, a retry budget that does not reset on instant failures."""

from __future__ import annotations

import logging
import time

import pytest

from sessionhelpers import REAL_TIME, config_for
from faultproxy import FaultProxy
from rtaudiod.session import Session, State
from sessionhelpers import Recorder, null_engine, wait_until

INSTRUCTIONS = "You are a kitchen assistant. Be brief."


def created_items(sim_session) -> list[dict]:
    return [e["item"] for e in sim_session.received_events if e["type"] == "conversation.item.create"]


def test_a_server_killed_mid_reply_comes_back_with_settings_tools_and_the_conversation(make_sim, make_session,
                                                                                    dialect):
    sim = make_sim(dialect, **REAL_TIME)
    session, engine, mic, events = make_session(sim, instructions=INSTRUCTIONS, history_turns=4)
    session.register_tool("get_time", lambda call: '{"time": "noon"}', "The local time")
    session.send_text("Remember the word pineapple")
    events.wait("transcript.assistant", lambda d: d["final"], timeout=15)
    session.send_text("And now a long answer please, about many things, one after the other, slowly")
    events.wait("response", lambda d: d["event"] == "created", timeout=10)
    port = sim.port
    sim.stop()  # mid-reply
    assert session.wait_state(State.RECONNECTING, timeout=5)
    sim2 = make_sim(dialect, port=port)
    assert session.wait_ready(15), session.error
    s2 = sim2.sessions[0]
    wait_until(lambda: len(created_items(s2)) >= 3, 5, "the replayed conversation to arrive")
    update = next(e for e in s2.received_events if e["type"] == "session.update")
    assert update["session"]["instructions"] == INSTRUCTIONS
    assert [t["name"] for t in update["session"]["tools"]] == ["get_time"]
    replayed = created_items(s2)
    texts = [(i["role"], i["content"][0]["text"]) for i in replayed]
    assert texts[0] == ("user", "Remember the word pineapple")
    assert texts[1] == ("assistant", "Simulator heard: Remember the word pineapple.")
    assert texts[2][0] == "user" and texts[2][1].startswith("And now a long answer")
    assert session.stats.reconnects == 1
    # and the session works: a new turn gets its reply
    session.send_text("Are you back?")
    said = events.wait("transcript.assistant", lambda d: d["final"] and d["text"] == "Simulator heard: Are you back.", 15)
    assert said["item_id"] in s2.audio_sent_ms


def test_a_silent_peer_is_found_dead_and_replaced(make_sim, make_session):
    sim = make_sim("ga")
    with FaultProxy(("127.0.0.1", sim.port)) as proxy:
        session, engine, mic, events = make_session(sim, base_url=f"ws://127.0.0.1:{proxy.port}/v1/realtime",
                                                    ping_interval_s=0.5, ping_timeout_s=0.5)
        proxy.blackhole()  # the Wi-Fi drops: nothing either way, no FIN, no RST
        assert session.wait_state(State.RECONNECTING, timeout=5)
        assert session.error.code == "dead_peer"
        proxy.heal()
        assert session.wait_ready(10)
        assert proxy.accepted >= 2
        session.send_text("Hello again")
        events.wait("transcript.assistant", lambda d: d["final"], timeout=15)


def test_the_session_is_renewed_at_a_quiet_moment_before_the_cap(make_sim, make_session):
    sim = make_sim("ga", max_session_seconds=6)
    session, engine, mic, events = make_session(sim, renew_after_s=1.5)
    session.send_text("Remember the word pineapple")
    first = events.wait("transcript.assistant", lambda d: d["final"], timeout=15)
    wait_until(lambda: len(sim.sessions) == 2, 10, "the renewal")
    assert session.wait_ready(5)
    wait_until(lambda: sim.sessions[0].close_code is not None, 5, "the simulator to see the first session's close")
    assert sim.sessions[0].close_code == 1000  # renewed by us, not expired by the service
    replayed = wait_until(lambda: created_items(sim.sessions[1])[1:] and created_items(sim.sessions[1]), 5,
                          "the replayed conversation to arrive")
    assert [i["content"][0]["text"] for i in replayed] == ["Remember the word pineapple", first["text"]]
    assert session.stats.renewals == 1 and session.stats.reconnects == 0
    session.send_text("Still there?")
    events.wait("transcript.assistant", lambda d: d["final"] and d["text"] == "Simulator heard: Still there.", 15)


def test_an_expired_session_is_renewed_at_once(make_sim, make_session):
    sim = make_sim("ga", max_session_seconds=1.5)
    session, engine, mic, events = make_session(sim, stable_after_s=1.0)  # it lived: a renewal, not a retry
    wait_until(lambda: len(sim.sessions) == 2, 10, "a new session after session_expired")
    assert session.wait_ready(5)
    wait_until(lambda: sim.sessions[0].close_code is not None, 5, "the simulator to see the first session's close")
    assert sim.sessions[0].close_code == 1001
    assert session.stats.renewals == 1 and session.state is not State.FAILED
    assert session.stats.server_errors["session_expired"] == 1


def test_a_bad_key_fails_fast_with_a_clear_message_and_no_retry(make_sim, caplog):
    sim = make_sim("ga")
    bad = "sk-wrong-key-98765qXzJ"  # its last four never occur in a log line by chance (ports, ids)
    engine = null_engine()
    events = Recorder()
    caplog.set_level(logging.DEBUG)
    session = Session(config_for(sim, api_key=bad), engine, on_event=events)
    try:
        session.start()
        assert session.wait_state(State.FAILED, timeout=5)
        time.sleep(1.0)  # a retry loop would show up here
        assert len(sim.sessions) + len(sim.rejected) == 1
        error = session.error
        assert error.fatal and error.code == "invalid_api_key"
        assert "check api_key" in str(error)
        assert session.wait_ready(0.1) is False
        shown = caplog.text + str(error) + repr(session) + repr(session.config) + str(session.status()) + \
            str(events.events)
        for secret in (bad, bad[-4:], bad[3:10]):  # the service quotes a refused key as "sk-****qXzJ"
            assert secret not in shown
        assert "sk-wro" not in shown  # not even the service's masked quote of the key
    finally:
        session.stop()
        engine.close()


@pytest.mark.parametrize("dialect,server,code", [("beta", "ga", "beta_api_shape_disabled"),
                                                 ("ga", "beta", "missing_beta_header")])
def test_a_dialect_mismatch_is_fatal_and_says_what_to_change(make_sim, dialect, server, code):
    sim = make_sim(server)
    engine = null_engine()
    session = Session(config_for(sim, dialect=dialect, model="gpt-realtime"), engine)
    try:
        session.start()
        assert session.wait_state(State.FAILED, timeout=5)
        assert session.error.code == code and session.error.fatal
        assert f'set dialect = "{server}"' in str(session.error)
    finally:
        session.stop()
        engine.close()


def test_the_retry_budget_does_not_reset_after_instant_failures(make_sim):
    sim = make_sim("ga")
    engine = null_engine()
    session = Session(config_for(sim, reconnect_attempts=3, stable_after_s=30), engine)
    stop = False

    def drop_every_connection() -> None:
        seen = 0
        while not stop:
            if len(sim.sessions) > seen and sim.sessions[-1].received_events:  # configured: drop it at once
                seen = len(sim.sessions)
                sim.drop_connections(1011)
            time.sleep(0.01)

    import threading

    dropper = threading.Thread(target=drop_every_connection, daemon=True)
    dropper.start()
    try:
        session.start()
        assert session.wait_state(State.FAILED, timeout=20)
        assert session.error.code == "retries_exhausted"
        assert len(sim.sessions) == 4  # the first connection and three retries, no more
        assert session.stats.reconnects == 3
    finally:
        stop = True
        session.stop()
        engine.close()


def test_stop_during_a_handshake_that_hangs_returns_at_once_and_stays_stopped(make_sim):
    """The server accepts the TCP connection and never answers the upgrade (a blackholed proxy): stop() ends the
    handshake instead of waiting out connect_timeout_s, and nothing comes back to life when that would have ended."""
    sim = make_sim("ga")
    with FaultProxy(("127.0.0.1", sim.port)) as proxy:
        proxy.blackhole()
        engine = null_engine()
        events = Recorder()
        session = Session(config_for(sim, base_url=f"ws://127.0.0.1:{proxy.port}/v1/realtime",
                                     connect_timeout_s=3), engine, on_event=events)
        try:
            session.start()
            wait_until(lambda: proxy.accepted == 1, 5, "the connection")
            time.sleep(0.3)  # the upgrade request is out; its answer never comes
            started = time.monotonic()
            session.stop(timeout=1.0)
            assert time.monotonic() - started < 1.0
            assert not session._supervisor.is_alive()
            assert session.state is State.STOPPED
            time.sleep(3.5)  # past the connect timeout
            assert session.state is State.STOPPED
            assert [d["state"] for d in events.of("state")] == ["connecting", "stopped"]
            assert not events.of("error")
        finally:
            session.stop()
            engine.close()


def test_a_connection_that_ended_is_let_go(make_sim, make_session):
    """The timers armed for a connection (configured in time, renewed before the cap: most of an hour away) are
    cancelled when it ends: nothing holds the dead link, its socket and its outbox, and none of them fires on it."""
    import gc
    import weakref

    sim = make_sim("ga")
    session, engine, mic, events = make_session(sim)
    first = weakref.ref(session.link)
    sim.drop_connections(1011)
    wait_until(lambda: session.link is not None and session.link is not first(), 10, "a new connection")
    assert session.wait_ready(10), session.error
    gc.collect()
    assert first() is None, [type(r).__name__ for r in gc.get_referrers(first())]
    assert len(session.actor.timers()) <= 2  # the new link's two at most: configured in time (may have fired), renewal
