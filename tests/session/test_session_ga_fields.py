"""The GA session fields of the config reach the simulator in the session's session.update and are accepted there;
the GA-only server events are decoded (published on `raw`, never counted unknown or reported as bad input)."""

from __future__ import annotations

import json

import pytest

from sessionhelpers import wait_until

GA_FIELDS = {"speed": 1.2, "reasoning_effort": "low", "truncation": {"retention_ratio": 0.8},
             "prompt": {"id": "pmpt_123", "variables": {"city": "Oslo"}}}


def test_the_ga_fields_go_out_and_the_simulator_takes_them(make_sim, make_session):
    sim = make_sim("ga")
    session, engine, mic, events = make_session(sim, **GA_FIELDS)
    wait_until(lambda: any(e["type"] == "session.updated" for e in sim.sessions[0].sent_events), 10,
               "session.updated")
    update = next(e for e in sim.sessions[0].received_events if e["type"] == "session.update")["session"]
    assert update["reasoning"] == {"effort": "low"} and update["audio"]["output"]["speed"] == 1.2
    assert update["truncation"] == {"type": "retention_ratio", "retention_ratio": 0.8}
    assert update["prompt"] == {"id": "pmpt_123", "variables": {"city": "Oslo"}}
    assert not [e for e in sim.sessions[0].sent_events if e["type"] == "error"]
    updated = [e for e in sim.sessions[0].sent_events if e["type"] == "session.updated"][-1]
    assert updated["session"]["audio"]["output"]["speed"] == 1.2


def test_ga_only_server_events_are_decoded_not_unknown(make_sim, make_session):
    sim = make_sim("ga")
    session, engine, mic, events = make_session(sim)
    mcp = {"item_id": "mcp_1", "output_index": 0}
    new = [
        {"type": "conversation.item.input_audio_transcription.segment", "id": "seg_1", "item_id": "item_1",
         "content_index": 0, "text": "Hello", "speaker": "A", "start": 0.0, "end": 0.8},
        {"type": "input_audio_buffer.dtmf_event_received", "event": "5", "received_at": 1767225600},
        *({"type": f"mcp_list_tools.{s}", "item_id": "mcpl_1"} for s in ("in_progress", "completed", "failed")),
        *({"type": f"response.mcp_call.{s}", **mcp} for s in ("in_progress", "completed", "failed")),
        {"type": "response.mcp_call_arguments.delta", "response_id": "resp_1", "delta": "{", **mcp},
        {"type": "response.mcp_call_arguments.done", "response_id": "resp_1", "arguments": "{}", **mcp},
        {"type": "conversation.item.done", "item": {"id": "mcp_1", "type": "mcp_call", "server_label": "wiki",
                                                    "name": "ask", "arguments": "{}", "output": "42"}},
    ]
    frames = [json.dumps({"event_id": f"event_{i}", **e}) for i, e in enumerate(new)]
    frames += [json.dumps({"type": "response.brand_new_event", "event_id": "e_new"})]
    sim.send_raw(frames)
    wait_until(lambda: session.status()["counters"]["unknown_events"] == {"response.brand_new_event": 1}, 10,
               "the one unknown event")
    raw = {json.loads(e["frame"])["type"] for e in events.of("raw")}
    assert {json.loads(f)["type"] for f in frames} <= raw
    assert not [e for e in events.of("error") if e.get("code") == "bad_event"]


def test_the_ga_fields_change_live(make_sim, make_session, dialect):
    """A running session changes them (a reload goes through update_settings): the service takes them at any time.
    In beta only `speed` exists; the others are refused before anything is sent."""
    sim = make_sim(dialect)
    session, engine, mic, events = make_session(sim, speed=1.0)
    s = sim.sessions[0]

    def updates():
        return [e["session"] for e in s.received_events if e["type"] == "session.update"]

    session.update_settings(speed=1.3)
    wait_until(lambda: len(updates()) == 2, 10, "the live update")
    speed = updates()[-1]["audio"]["output"]["speed"] if dialect == "ga" else updates()[-1]["speed"]
    assert speed == 1.3
    if dialect == "beta":
        with pytest.raises(ValueError, match="reasoning_effort exists only in the GA dialect"):
            session.update_settings(reasoning_effort="high")
        assert len(updates()) == 2 and session.config.reasoning_effort is None
        return
    session.update_settings(reasoning_effort="high", truncation={"retention_ratio": 0.5},
                            prompt={"id": "pmpt_456", "version": "3"})
    wait_until(lambda: len(updates()) == 3, 10, "the second live update")
    update = updates()[-1]
    assert update["reasoning"] == {"effort": "high"} and update["prompt"] == {"id": "pmpt_456", "version": "3"}
    assert update["truncation"] == {"type": "retention_ratio", "retention_ratio": 0.5}
    wait_until(lambda: len([e for e in s.sent_events if e["type"] == "session.updated"]) == 3, 10, "its answer")
    assert not [e for e in s.sent_events if e["type"] == "error"]
    assert session.config.reasoning_effort == "high" and session.config.truncation.retention_ratio == 0.5
