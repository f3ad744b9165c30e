"""Barge-in at real-time pace with the service's latencies (a cancel can only race a reply that takes its time):
flush, cancel, and a truncate the simulator accepts at the millisecond the engine really played."""

from __future__ import annotations

import time

import pytest

from sessionhelpers import REAL_TIME
from rtaudiod.session import State
from sessionhelpers import speech, wait_until

LONG = ("Please repeat this long sentence about the weather in the mountains, the rivers, the lakes and the "
        "forests, the birds in the trees and the fish in the water, slowly and clearly, word after word")
FRAME_MS = 20  # ±1 frame: the engine's played figure is read one device callback apart from the flush


def played_once(engine, item, ms):
    return wait_until(lambda: (engine.played_ms(item) or 0) >= ms, 15, f"{ms} ms of the reply to play")


def long_reply_playing(session, engine, events, ms):
    """Ask for the long reply and wait until `ms` of it has played; returns (response_id, item_id)."""
    session.send_text(LONG)
    response_id = events.wait("response", lambda d: d["event"] == "created", timeout=10)["response_id"]
    item = events.wait("transcript.assistant", timeout=10)["item_id"]
    played_once(engine, item, ms)
    return response_id, item


def check_truncated_at_played(sim, engine, item, events):
    s = sim.sessions[0]
    truncate = wait_until(lambda: next((e for e in s.received_events if e["type"] == "conversation.item.truncate"),
                                       None), 5, "the truncate")
    assert truncate["item_id"] == item and truncate["content_index"] == 0
    wait_until(lambda: any(e["type"] == "conversation.item.truncated" for e in s.sent_events), 5,
               "the service to accept the truncate")
    refused = [e for e in s.sent_events if e["type"] == "error" and e["error"]["event_id"] == truncate["event_id"]]
    assert not refused, refused
    time.sleep(0.3)  # the flush was served; whatever played after it would show here
    played = engine.played_ms(item)
    assert abs(truncate["audio_end_ms"] - played) <= FRAME_MS, (truncate["audio_end_ms"], played)
    assert truncate["audio_end_ms"] <= s.audio_sent_ms[item]
    return truncate


@pytest.mark.parametrize("fmt", ["pcm16", "g711_ulaw"])
def test_local_barge_in_cancels_and_truncates_at_what_was_played(make_sim, make_session, dialect, fmt):
    sim = make_sim(dialect, **REAL_TIME)
    session, engine, mic, events = make_session(sim, fmt=fmt, turn_detection={"type": "none"})
    response_id, item = long_reply_playing(session, engine, events, 1000)
    session.turn_start()  # push-to-talk pressed while the reply plays
    total_before = engine.ledger.played_total
    s = sim.sessions[0]
    cancel = wait_until(lambda: next((e for e in s.received_events if e["type"] == "response.cancel"), None), 5,
                        "the cancel")
    truncate = check_truncated_at_played(sim, engine, item, events)
    done = events.wait("response", lambda d: d["event"] == "done" and d["response_id"] == response_id)
    assert done["status"] == "cancelled"
    types = [e["type"] for e in s.received_events]
    assert types.index("response.cancel") < types.index("conversation.item.truncate")
    assert cancel["event_id"].startswith("rtad_cancel")
    # no audio of the cancelled response plays after the flush: at most the period in flight and its fade-out (the
    # issue's budget, one period + 10 ms; the Python callbacks under load hand over the one they had computed)
    time.sleep(0.5)
    budget_ms = engine.config.mode.playout_period_ms + 10
    assert engine.ledger.played_total - total_before <= budget_ms * 2 * engine.config.session_rate // 1000
    assert engine.played_ms(item) <= truncate["audio_end_ms"] + FRAME_MS
    assert session.stats.barge_ins == 1
    # the interrupted words are cut from the history as the service cut its copy
    assert len(session.history.turns()[-1].text) < len("Simulator heard: " + LONG)
    # and the conversation goes on: the next reply plays in full
    session.turn_cancel()
    session.send_text("Short one")
    said = events.wait("transcript.assistant", lambda d: d["final"] and d["text"] == "Simulator heard: Short one.", 15)
    wait_until(lambda: engine.played_ms(said["item_id"]) == pytest.approx(s.audio_sent_ms[said["item_id"]], abs=1),
               15, "the next reply to play in full")


def test_speech_during_the_reply_interrupts_it(make_sim, make_session, dialect):
    sim = make_sim(dialect, **REAL_TIME)
    session, engine, mic, events = make_session(sim)
    response_id, item = long_reply_playing(session, engine, events, 800)
    mic.say(speech("Stop, stop, that is enough."))
    events.wait("vad", lambda d: d["event"] == "speech_started", timeout=10)
    check_truncated_at_played(sim, engine, item, events)
    # interrupt_response (the default): the service cancelled the response itself; no response.cancel of ours
    done = events.wait("response", lambda d: d["event"] == "done" and d["response_id"] == response_id)
    assert done["status"] == "cancelled"
    assert not [e for e in sim.sessions[0].received_events if e["type"] == "response.cancel"]
    assert session.wait_state(State.LISTENING, State.THINKING, State.SPEAKING, timeout=2)
    # the user's words get their own reply
    said = events.wait("transcript.assistant", lambda d: d["final"] and d["text"].startswith("Simulator heard "), 20)
    assert said["item_id"] != item
    assert session.stats.barge_ins == 1
    errors = [d for d in events.of("error") if d.get("fatal")]
    assert not errors


def test_speech_does_not_interrupt_the_reply_when_interrupt_response_is_off(make_sim, make_session, dialect):
    """With `interrupt_response: false` the user wants the reply to finish: server VAD's speech_started silences
    nothing and cancels or cuts nothing (the service goes on too). A local turn_start still interrupts."""
    sim = make_sim(dialect, **REAL_TIME)
    session, engine, mic, events = make_session(sim, turn_detection={"type": "server_vad",
                                                                     "interrupt_response": False})
    response_id, item = long_reply_playing(session, engine, events, 800)
    mic.say(speech("Mm-hm, yes, I see."))
    events.wait("vad", lambda d: d["event"] == "speech_started", timeout=10)
    # the handler ran before the vad event was emitted: an interruption would show already
    assert session.stats.barge_ins == 0 and not events.of("response")[1:]
    heard = engine.played_ms(item)
    played_once(engine, item, heard + 500)  # the reply plays on, past the speech's start
    s = sim.sessions[0]
    sent = [e["type"] for e in s.received_events]
    assert not {"response.cancel", "conversation.item.truncate", "conversation.item.delete"} & set(sent)
    assert not [d for d in events.of("response") if d["event"] == "done"]
    # a local turn_start still interrupts: flush, cancel, truncate
    session.turn_start()
    wait_until(lambda: any(e["type"] == "response.cancel" for e in s.received_events), 5, "the cancel")
    check_truncated_at_played(sim, engine, item, events)
    done = events.wait("response", lambda d: d["event"] == "done" and d["response_id"] == response_id)
    assert done["status"] == "cancelled" and session.stats.barge_ins == 1
    session.turn_cancel()


def test_cancel_before_any_audio_deletes_the_unheard_item(make_sim, make_session):
    # the service's 0.2 s between response.created and the first audio is a narrow window on a loaded machine
    sim = make_sim("ga", **{**REAL_TIME, "first_audio_latency": 1.5})
    session, engine, mic, events = make_session(sim)
    session.send_text(LONG)
    events.wait("response", lambda d: d["event"] == "created", timeout=10)
    item = wait_until(lambda: session.conversation.responses.items[:1], 5, "the reply's item")[0]
    assert session.cancel_response() is True  # before the first audio
    s = sim.sessions[0]
    wait_until(lambda: any(e["type"] == "conversation.item.deleted" for e in s.sent_events), 5, "the delete")
    delete = next(e for e in s.received_events if e["type"] == "conversation.item.delete")
    assert delete["item_id"] == item
    assert engine.played_ms(item) in (None, 0.0)
    time.sleep(0.8)  # deltas already in flight are dropped, not played
    assert not engine.is_playing and (engine.played_ms(item) or 0) == 0


def test_a_cancel_before_the_response_is_created_stops_it(make_sim, make_session, dialect):
    """cancel_response() in the ~0.3 s between asking for a response and its response.created: the service has it
    already, so it is cancelled, and none of it plays."""
    sim = make_sim(dialect, **{**REAL_TIME, "response_latency": 1.0, "first_audio_latency": 1.2})
    session, engine, mic, events = make_session(sim)
    session.send_text(LONG)
    assert not events.of("response")  # asked for, not created yet (a second to go)
    assert session.cancel_response() is True
    done = events.wait("response", lambda d: d["event"] == "done", timeout=10)
    assert done["status"] == "cancelled"
    s = sim.sessions[0]
    sent = [e["type"] for e in s.received_events if e["type"] != "input_audio_buffer.append"]
    assert sent[-2:] == ["response.create", "response.cancel"]
    time.sleep(1.0)  # the first audio would have come 1.2 s after the request
    assert engine.ledger.played_total == 0 and not engine.is_playing
    assert not [e for e in s.sent_events if e["type"] == "error"]
    assert session.wait_state(State.READY, timeout=2)
