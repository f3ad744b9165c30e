"""session.created / session.update in both dialects, and the errors for invalid client events."""

import pytest

UPDATE = {
    "beta": {"modalities": ["text"], "voice": "echo", "input_audio_format": "g711_ulaw",
             "output_audio_format": "g711_alaw", "turn_detection": None, "max_response_output_tokens": 300,
             "input_audio_transcription": {"model": "whisper-1"}, "instructions": "Be brief."},
    "ga": {"type": "realtime", "output_modalities": ["text"], "max_output_tokens": 300, "instructions": "Be brief.",
           "audio": {"input": {"format": {"type": "audio/pcmu"}, "turn_detection": None,
                               "transcription": {"model": "whisper-1"}},
                     "output": {"format": {"type": "audio/pcma"}, "voice": "echo"}}},
}


def test_session_created_has_the_dialect_shape(connect, dialect):
    sim, client = connect(dialect)
    session = client.events[0]["session"]
    if dialect == "beta":
        assert session["input_audio_format"] == "pcm16" and session["modalities"] == ["text", "audio"]
        assert session["turn_detection"]["type"] == "server_vad" and "audio" not in session
    else:
        assert session["type"] == "realtime" and session["output_modalities"] == ["audio"]
        assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
        assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
        assert "modalities" not in session and "input_audio_format" not in session


def test_session_update_returns_the_merged_session(connect, dialect):
    sim, client = connect(dialect)
    client.send({"type": "session.update", "event_id": "evt_1", "session": UPDATE[dialect]})
    updated = client.recv()
    assert updated["type"] == "session.updated"
    session = updated["session"]
    assert session["instructions"] == "Be brief."
    if dialect == "beta":
        assert session["modalities"] == ["text"] and session["voice"] == "echo"
        assert (session["input_audio_format"], session["output_audio_format"]) == ("g711_ulaw", "g711_alaw")
        assert session["turn_detection"] is None and session["max_response_output_tokens"] == 300
        assert session["temperature"] == 0.8  # untouched fields keep their values
    else:
        assert session["output_modalities"] == ["text"] and session["max_output_tokens"] == 300
        assert session["audio"]["input"]["format"] == {"type": "audio/pcmu"}
        assert session["audio"]["output"] == {"format": {"type": "audio/pcma"}, "voice": "echo", "speed": 1.0}
        assert session["audio"]["input"]["turn_detection"] is None
    # a partial turn_detection update merges into the defaults
    td = {"type": "server_vad", "silence_duration_ms": 700}
    client.send({"type": "session.update", "session": {"turn_detection": td} if dialect == "beta" else
                 {"type": "realtime", "audio": {"input": {"turn_detection": td}}}})
    session = client.recv()["session"]
    merged = session["turn_detection"] if dialect == "beta" else session["audio"]["input"]["turn_detection"]
    assert merged["silence_duration_ms"] == 700 and merged["threshold"] == 0.5
    assert sim.sessions[0].received_events[0]["event_id"] == "evt_1"


@pytest.mark.parametrize("case", ["unknown_field", "bad_value", "bad_type", "other_dialect_field", "range"])
def test_invalid_session_fields_are_invalid_request_errors(connect, dialect, case):
    sim, client = connect(dialect)
    ga = dialect == "ga"
    session, param, code = {
        "unknown_field": ({"turn_detecton": None}, "session.turn_detecton", "unknown_parameter"),
        "bad_value": ({"audio": {"input": {"format": {"type": "audio/mp3"}}}} if ga else
                      {"input_audio_format": "mp3"},
                      "session.audio.input.format.type" if ga else "session.input_audio_format", "invalid_value"),
        "bad_type": ({"instructions": 5}, "session.instructions", "invalid_type"),
        "other_dialect_field": ({"modalities": ["text"]} if ga else {"output_modalities": ["text"]},
                                "session.modalities" if ga else "session.output_modalities", "unknown_parameter"),
        "range": ({"max_output_tokens": 0} if ga else {"max_response_output_tokens": 0},
                  "session.max_output_tokens" if ga else "session.max_response_output_tokens", None),
    }[case]
    if ga:
        session = {"type": "realtime", **session}
    client.send({"type": "session.update", "event_id": "evt_bad", "session": session})
    error = client.expect_error()
    assert error["type"] == "invalid_request_error" and error["event_id"] == "evt_bad"
    assert error["param"] == param
    if code:
        assert error["code"] == code
    # the session is unchanged and the connection still serves
    client.send({"type": "input_audio_buffer.clear"})
    assert client.recv()["type"] == "input_audio_buffer.cleared"


def test_ga_session_update_needs_session_type(connect):
    sim, client = connect("ga")
    client.send({"type": "session.update", "event_id": "e7", "session": {"instructions": "x"}})
    error = client.expect_error()
    assert (error["code"], error["param"], error["event_id"]) == ("missing_required_parameter", "session.type", "e7")


@pytest.mark.parametrize("raw, code, event_id", [
    ('{"type": "no.such.event", "event_id": "e1"}', "invalid_value", "e1"),
    ("{not json", "invalid_json", None),
    ('["a list"]', "invalid_type", None),
    ('{"event_id": "e2"}', "missing_required_parameter", "e2"),
    ('{"type": "conversation.item.delete", "event_id": "e3"}', "missing_required_parameter", "e3"),
    ('{"type": "input_audio_buffer.append", "event_id": "e4", "audio": "***"}', "invalid_value", "e4"),
    ('{"type": "input_audio_buffer.commit", "event_id": "e5", "extra": 1}', "unknown_parameter", "e5"),
])
def test_invalid_events_get_errors_and_the_connection_stays_open(connect, dialect, raw, code, event_id):
    sim, client = connect(dialect)
    client.send(raw)
    error = client.expect_error()
    assert error["code"] == code and error["event_id"] == event_id
    client.send({"type": "input_audio_buffer.clear", "event_id": "ok"})
    assert client.recv()["type"] == "input_audio_buffer.cleared"
    assert sim.sessions[0].close_code is None


def test_received_events_are_recorded(connect):
    sim, client = connect("ga")
    client.send({"type": "input_audio_buffer.clear", "event_id": "a"})
    client.send("{broken")
    client.recv(), client.recv()
    session = sim.sessions[0]
    assert session.received_events == [{"type": "input_audio_buffer.clear", "event_id": "a"}]
    assert session.invalid_messages == ["{broken"]
