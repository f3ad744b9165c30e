"""The service's refusals: harmless ones (a cancel with no active response, a truncate past the audio it kept) are
counted and the session goes on; fatal ones (an unknown model, no quota left) end it with a message that says
what to fix, and no retry.

Everything runs against the real simulator. The cancel race is produced for real (the session's receive thread
is held at `response.created` until the simulator has finished the response, then the session cancels what it
still believes active: the service answers `response_cancel_not_active`). The truncate refusal and the quota error
are not things the simulator produces on its own, so they go out through its `send_raw` test hook, shaped as the
service sends them.
"""

from __future__ import annotations

import json
import threading

from rtaudiod.session import Session, State
from sessionhelpers import Recorder, config_for, null_engine, wait_until


def test_a_refused_cancel_is_counted_and_harmless(make_sim, make_session):
    sim = make_sim("ga")
    held, release = threading.Event(), threading.Event()
    events = Recorder()

    def on_event(topic, data):
        events(topic, data)
        if topic == "raw" and b'"response.done"' in bytes(data["frame"]) and not held.is_set():
            held.set()
            release.wait(30)  # the receive thread waits here: the session still believes the response active

    session, engine, mic, _ = make_session(sim)
    session.on_event = on_event
    try:
        session.send_text("Say something")
        assert held.wait(10)
        wait_until(lambda: [e for e in sim.sessions[0].sent_events if e["type"] == "response.done"], 10,
                   "the service to finish the response")
        assert session.cancel_response() is True  # sends response.cancel: the service has nothing active
    finally:
        release.set()
    error = events.wait("error", lambda d: d["code"] == "response_cancel_not_active")
    assert error["fatal"] is False and error["event_id"].startswith("rtad_cancel")
    assert session.stats.server_errors["response_cancel_not_active"] == 1
    assert session.state is not State.FAILED and session.error is None
    session.send_text("Are you still there?")  # and the session goes on
    events.wait("transcript.assistant", lambda d: d["final"] and d["text"] == "Simulator heard: Are you still there.", 15)
    assert session.stats.reconnects == 0


def test_a_refused_truncate_is_counted_and_harmless(make_sim, make_session):
    sim = make_sim("ga")
    session, engine, mic, events = make_session(sim)
    session.send_text("Tell me a long story about the sea, please")
    item_id = events.wait("transcript.assistant", lambda d: d["final"], timeout=15)["item_id"]
    wait_until(lambda: engine.truncate_point(item_id), 10, "some of the reply to have played")
    session.stop_playback()  # truncates the item at what was played
    truncate = wait_until(lambda: [e for e in sim.sessions[0].received_events
                                   if e["type"] == "conversation.item.truncate"], 5, "the truncate")[0]
    # the service's refusal when the audio it kept is shorter than audio_end_ms (as the simulator words it,
    # rtaudiod/sim/session.py on_conversation_item_truncate), naming the session's truncate
    sim.send_raw([json.dumps({"type": "error", "event_id": "event_raw1", "error": {
        "type": "invalid_request_error", "code": "invalid_value",
        "message": f"Audio content of 0ms is already shorter than {truncate['audio_end_ms']}ms",
        "param": "audio_end_ms", "event_id": truncate["event_id"]}})])
    error = events.wait("error", lambda d: d.get("event_id") == truncate["event_id"])
    assert error["fatal"] is False and error["code"] == "invalid_value"
    assert session.stats.server_errors["invalid_value"] == 1
    assert session.state is not State.FAILED and session.error is None
    session.send_text("Are you still there?")
    events.wait("transcript.assistant", lambda d: d["final"] and d["text"] == "Simulator heard: Are you still there.", 15)
    assert session.stats.reconnects == 0


def test_an_unknown_model_is_fatal_and_says_to_set_the_model(make_sim):
    sim = make_sim("ga")
    engine = null_engine()
    events = Recorder()
    session = Session(config_for(sim, model="gpt-no-such-model"), engine, on_event=events)
    try:
        session.start()
        assert session.wait_state(State.FAILED, timeout=10)
        error = session.error
        assert error.fatal and error.code == "model_not_found"
        assert "set model" in str(error) and "gpt-no-such-model" in str(error)
        assert [r["close_code"] for r in sim.rejected] == [4000]  # refused at the door, once: no retry
        assert sim.sessions == []
        assert events.wait("error", lambda d: d["fatal"])["code"] == "model_not_found"
        assert session.wait_ready(0.1) is False
    finally:
        session.stop()
        engine.close()


def test_no_quota_is_fatal_and_says_what_to_fix(make_sim, make_session):
    sim = make_sim("ga")
    session, engine, mic, events = make_session(sim)
    # the service's error when the account's quota is used up (type and code insufficient_quota)
    sim.send_raw([json.dumps({"type": "error", "event_id": "event_raw2", "error": {
        "type": "insufficient_quota", "code": "insufficient_quota",
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "param": None, "event_id": None}})])
    assert session.wait_state(State.FAILED, timeout=10)
    error = session.error
    assert error.fatal and error.code == "insufficient_quota"
    assert "check the plan and billing" in str(error)
    assert events.wait("error", lambda d: d["fatal"])["code"] == "insufficient_quota"
    assert session.stats.reconnects == 0 and len(sim.sessions) == 1
