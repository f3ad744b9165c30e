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


@pytest.mark.parametrize("voice, ok", [("marin", True), ("verse", True), ("nova", False), ("Alloy", False)])
def test_voice_names_are_checked_per_dialect(connect, dialect, voice, ok):
    """The built-in voices of each dialect's models (beta has no marin/cedar); another name is refused with
    `invalid_value` naming the param."""
    sim, client = connect(dialect)
    ok = ok and not (dialect == "beta" and voice == "marin")
    client.send({"type": "session.update", "event_id": "v", "session": {"voice": voice} if dialect == "beta" else
                 {"type": "realtime", "audio": {"output": {"voice": voice}}}})
    event = client.recv()
    if ok:
        assert event["type"] == "session.updated"
        return
    assert event["type"] == "error"
    assert (event["error"]["code"], event["error"]["param"]) == (
        "invalid_value", "session.voice" if dialect == "beta" else "session.audio.output.voice")
    client.send({"type": "response.create", "event_id": "r", "response": {"voice": voice} if dialect == "beta" else
                 {"audio": {"output": {"voice": voice}}}})
    error = client.expect_error()
    assert (error["param"], error["event_id"]) == (
        "response.voice" if dialect == "beta" else "response.audio.output.voice", "r")


@pytest.mark.parametrize("td, param", [
    ({"type": "server_vad", "eagerness": "high"}, "eagerness"),
    ({"type": "semantic_vad", "threshold": 0.6}, "threshold"),
    ({"type": "semantic_vad", "silence_duration_ms": 400}, "silence_duration_ms"),
    ({"type": "semantic_vad", "prefix_padding_ms": 100}, "prefix_padding_ms"),
])
def test_ga_turn_detection_fields_of_the_other_vad_type_are_refused(connect, td, param):
    sim, client = connect("ga")
    client.send({"type": "session.update", "event_id": "td",
                 "session": {"type": "realtime", "audio": {"input": {"turn_detection": td}}}})
    error = client.expect_error()
    assert (error["code"], error["param"], error["event_id"]) == (
        "unknown_parameter", f"session.audio.input.turn_detection.{param}", "td")


def test_beta_turn_detection_is_one_object(connect):
    """The beta models have one turn-detection object with every field: no refusal by type there."""
    sim, client = connect("beta")
    client.send({"type": "session.update", "session": {"turn_detection": {"type": "semantic_vad", "threshold": 0.6,
                                                                          "eagerness": "low"}}})
    assert client.recv()["session"]["turn_detection"]["eagerness"] == "low"


def test_a_refused_session_update_is_dropped_whole(connect, dialect):
    """A bad voice beside new instructions and tools: the error, and none of it applied (the next session.updated
    and the simulator's state still hold the old instructions and no tools)."""
    sim, client = connect(dialect)
    tool = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}
    bad = {"instructions": "Speak like a pirate.", "tools": [tool]}
    bad.update({"voice": "nova"} if dialect == "beta" else {"type": "realtime", "audio": {"output": {"voice": "nova"}}})
    client.send({"type": "session.update", "event_id": "bad", "session": bad})
    assert client.expect_error()["event_id"] == "bad"
    settings = sim.sessions[0].settings
    assert (settings["instructions"], settings["tools"], settings["voice"]) == (
        "You are a helpful assistant.", [], "alloy" if dialect == "beta" else "marin")
    client.send({"type": "session.update", "session": {} if dialect == "beta" else {"type": "realtime"}})
    session = client.recv()["session"]
    assert session["instructions"] == "You are a helpful assistant." and session["tools"] == []
    # the same fields with a good voice are applied together
    bad.update({"voice": "echo"} if dialect == "beta" else {"audio": {"output": {"voice": "echo"}}})
    client.send({"type": "session.update", "session": bad})
    session = client.recv()["session"]
    assert session["instructions"] == "Speak like a pirate."
    assert [t["name"] for t in session["tools"]] == ["get_weather"]


def test_item_and_event_id_lengths(connect, dialect):
    """Client item ids: at most 32 characters; event ids: at most 512 (`string_above_max_length`)."""
    sim, client = connect(dialect)

    def create(item_id, event_id="e"):
        client.send({"type": "conversation.item.create", "event_id": event_id, "item": {
            "id": item_id, "type": "message", "role": "user", "content": [{"type": "input_text", "text": "x"}]}})
        event = client.recv()
        if event["type"] == "conversation.item.added":
            assert client.recv()["type"] == "conversation.item.done"
        return event

    uuid = "123e4567-e89b-12d3-a456-426614174000"
    error = create(uuid)["error"]
    assert (error["code"], error["param"]) == ("string_above_max_length", "item.id")
    assert "maximum length 32, but got a string with length 36" in error["message"]
    assert create("i" * 32)["type"] == ("conversation.item.created" if dialect == "beta" else "conversation.item.added")
    error = create("j", event_id="e" * 513)["error"]
    assert (error["code"], error["param"]) == ("string_above_max_length", "event_id")
    assert create("k", event_id="e" * 512)["type"] != "error"


def test_assistant_audio_items_cannot_be_created(connect, dialect):
    sim, client = connect(dialect)
    part = {"type": "audio", "transcript": "hi"} if dialect == "beta" else {"type": "output_audio", "transcript": "hi"}
    client.send({"type": "conversation.item.create", "item": {"type": "message", "role": "assistant",
                                                              "content": [part]}})
    error = client.expect_error()
    assert (error["code"], error["param"]) == ("invalid_value", "item.content[0].type")
    assert sim.sessions[0].items == []
