"""A server that sends what it should not: broken JSON, a broken audio delta, an unknown event type, a known event
with a missing field. Each is skipped, counted and reported; the session goes on serving the next turn."""

from __future__ import annotations

import asyncio

from rtaudiod.session import State
from sessionhelpers import wait_until

BAD_FRAMES = [
    '{"type": "response.output_audio_transcript.delta", "delta": "no ids"',  # broken JSON
    '{"type":"response.output_audio.delta","response_id":"r","item_id":"i","delta":"@@@notbase64"}',
    '{"type": "response.brand_new_event", "event_id": "e1"}',  # unknown: counted, not an error
    '{"type": "input_audio_buffer.speech_started", "event_id": "e2"}',  # missing audio_start_ms, item_id
    "[1, 2, 3]",
    b"\xff\xfe binary garbage",
]


def server_send(sim, frame) -> None:
    ws = sim.sessions[0].ws
    asyncio.run_coroutine_threadsafe(ws.send(frame), sim._loop).result(5)


def test_bad_server_frames_are_skipped_counted_and_reported(make_sim, make_session):
    sim = make_sim("ga")
    session, engine, mic, events = make_session(sim)
    for frame in BAD_FRAMES:
        server_send(sim, frame)
    # the event goes out just after the count: wait for both (under load the check fell between them)
    wait_until(lambda: session.stats.bad_events == 5 and len([d for d in events.of("error")
                                                              if d["code"] == "bad_event"]) == 5,
               5, "five frames counted as bad and reported")
    assert session.status()["unknown_events"] == {"response.brand_new_event": 1}
    errors = [d for d in events.of("error") if d["code"] == "bad_event"]
    assert len(errors) == 5 and not any(d["fatal"] for d in errors)
    assert any("speech_started" in d["message"] for d in errors)  # the message says which event was broken
    assert session.state is State.READY and session.stats.reconnects == 0
    session.send_text("Still fine?")
    said = events.wait("transcript.assistant", lambda d: d["final"], timeout=15)
    assert said["text"] == "Simulator heard: Still fine."


def test_a_flood_of_bad_frames_is_logged_once_and_each_is_still_reported(make_sim, make_session, caplog):
    """A broken server sends one bad frame per delta: the journal gets one warning, the counter and the `error`
    topic get every frame (a flood once filled a device's journal at 50 lines a second)."""
    sim = make_sim("ga")
    session, engine, mic, events = make_session(sim)
    caplog.set_level("WARNING", logger="rtaudiod.session")
    for _ in range(40):
        server_send(sim, BAD_FRAMES[1])
    wait_until(lambda: session.stats.bad_events == 40 and len([d for d in events.of("error")
                                                               if d["code"] == "bad_event"]) == 40,
               5, "forty bad frames counted and reported")
    warnings = [r for r in caplog.records if r.name == "rtaudiod.session" and "skipped" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "audio delta" in warnings[0].getMessage()
    assert session.state is State.READY
