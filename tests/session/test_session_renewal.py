"""Renewal and expiry: a server that expires every session young must not be reconnected to forever (an expiry
resets the retry budget only after a stable link), and audio captured or injected while a planned renewal switches
to the new session goes up to that session."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from rtaudiod.session import Session, State
from sessionhelpers import config_for, null_engine, wait_until


def test_a_server_expiring_every_session_young_exhausts_the_retry_budget(make_sim, dialect):
    sim = make_sim(dialect, max_session_seconds=0.4)
    engine = null_engine()
    session = Session(config_for(sim, reconnect_attempts=3, stable_after_s=30), engine)
    try:
        session.start()
        assert session.wait_state(State.FAILED, timeout=20), f"still {session.state} after {len(sim.sessions)} sessions"
        assert session.error.code == "retries_exhausted"
        assert len(sim.sessions) == 4  # the first session and three retries, no more
        assert session.stats.renewals == 0 and session.stats.reconnects == 3
        # The simulator records a close once its side of the handshake is over, which can be after the session
        # read the close and gave up (under load the last one was still None).
        wait_until(lambda: all(s.close_code is not None for s in sim.sessions), 5, "the simulator to see each close")
        assert [s.close_code for s in sim.sessions] == [1001] * 4  # each one expired by the server
    finally:
        session.stop()
        engine.close()


def appended_audio(sim_session) -> bytes:
    return b"".join(base64.b64decode(e["audio"]) for e in list(sim_session.received_events)
                    if e["type"] == "input_audio_buffer.append")


@pytest.mark.parametrize("source", ["microphone", "injected"])
def test_audio_captured_during_a_planned_renewal_goes_to_the_new_session(make_sim, dialect, source):
    """Audio arriving while the session switches to its renewal (written when the supervisor starts the new
    connection, before that session exists) is sent to the new session once it is configured. Quiet audio (about
    -70 dBFS), so server VAD hears no speech and the renewals keep coming at quiet moments."""
    sim = make_sim(dialect)
    engine = null_engine()
    # a retry budget of one and renewals far younger than stable_after_s: renewals must not spend it
    session = Session(config_for(sim, renew_after_s=1.0, stable_after_s=30, reconnect_attempts=1), engine)
    marks = [np.random.default_rng(n).integers(-20, 21, 4800).astype("<i2").tobytes() for n in range(3)]  # 200 ms

    def on_state(new: State, old: State) -> None:
        if new is State.RECONNECTING and marks:  # the supervisor opens the renewal's connection next
            mark = marks.pop(0)
            if source == "microphone":
                engine.capture_ring.write(mark)  # the only producer: there is no Mic in this test
            else:
                session.inject_audio(mark)

    session.subscribe({"state"}, lambda _, d: on_state(State(d["state"]), State(d["previous"])))
    expected = list(marks)
    try:
        session.start()
        wait_until(lambda: len(sim.sessions) >= 4, 20, "three renewals")
        assert session.state is not State.FAILED and session.stats.reconnects == 0
        assert session.stats.renewals >= 3
        for n, mark in enumerate(expected, start=1):  # each renewal's session got exactly its switch's audio
            wait_until(lambda: len(appended_audio(sim.sessions[n])) >= len(mark) or sim.sessions[n].close_code,
                       10, "the audio of the switch")
            assert appended_audio(sim.sessions[n]) == mark
        assert appended_audio(sim.sessions[0]) == b""
    finally:
        session.stop()
        engine.close()


@pytest.mark.parametrize("uplink", ["prompt", "late"])
def test_audio_injected_the_moment_the_session_is_ready_goes_up(make_sim, monkeypatch, uplink):
    """Injected from the state event of the first `ready` (on the receive thread, just after the session was
    configured): the uplink thread wakes later, and its drop of audio injected for an old connection must not take
    this audio (it did, every run; under load a test's first piece injected after wait_ready was lost). `late`: the
    uplink thread starts its wait only after the session is ready, as a loaded machine may schedule it."""
    if uplink == "late":
        from rtaudiod.session.uplink import UplinkGate

        wait_configured = UplinkGate._wait_configured

        def late(self, link):
            assert link.configured.wait(5)
            return wait_configured(self, link)

        monkeypatch.setattr(UplinkGate, "_wait_configured", late)
    sim = make_sim("ga")
    engine = null_engine()
    session = Session(config_for(sim), engine)
    piece = np.random.default_rng(3).integers(-20, 21, 4800).astype("<i2").tobytes()

    def on_state(_, d) -> None:
        if d["state"] == State.READY.value and d["previous"] != State.READY.value:
            session.inject_audio(piece)

    session.subscribe({"state"}, on_state)
    try:
        session.start()
        wait_until(lambda: sim.sessions and len(appended_audio(sim.sessions[0])) >= len(piece), 5,
                   "the injected audio")
        assert appended_audio(sim.sessions[0]) == piece  # no microphone in this engine: only the injected audio
    finally:
        session.stop()
        engine.close()
