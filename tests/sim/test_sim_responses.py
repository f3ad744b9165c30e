"""Responses: the full event sequence, text modality, function calls, cancel, truncate/delete, limits.

Cancel, barge-in and truncate race the stream, so those tests run at real-time pace with the service's latencies
(`REAL_TIME`); the others check shapes and sequences only (the fixture's `FAST`)."""

import base64
import json

import pytest

from simhelpers import REAL_TIME, append_chunked, silence, tone

N = {  # internal (beta) name -> name per dialect
    "beta": lambda n: n,
    "ga": lambda n: {"response.audio.delta": "response.output_audio.delta",
                     "response.audio.done": "response.output_audio.done",
                     "response.audio_transcript.delta": "response.output_audio_transcript.delta",
                     "response.audio_transcript.done": "response.output_audio_transcript.done",
                     "response.text.delta": "response.output_text.delta",
                     "response.text.done": "response.output_text.done"}.get(n, n),
}
TEXT_ONLY = {"beta": {"modalities": ["text"]}, "ga": {"type": "realtime", "output_modalities": ["text"]}}
TEXT_ONLY_RESPONSE = {"beta": {"modalities": ["text"]}, "ga": {"output_modalities": ["text"]}}
PTT = {"beta": {"turn_detection": None}, "ga": {"type": "realtime", "audio": {"input": {"turn_detection": None}}}}
WEATHER = {"type": "function", "name": "get_weather", "description": "Weather for a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                          "required": ["city"]}}


def say(client, text):
    client.send({"type": "conversation.item.create",
                 "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}})


def update(client, session):
    client.send({"type": "session.update", "session": session})
    assert client.recv()["type"] == "session.updated"


def collapse(types):
    """The event type sequence with runs of deltas collapsed to one."""
    out = []
    for t in types:
        if not (out and out[-1] == t and t.endswith(".delta")):
            out.append(t)
    return out


def test_audio_response_full_sequence(connect, dialect):
    n = N[dialect]
    sim, client = connect(dialect)
    say(client, "What time is it?")
    client.send({"type": "response.create", "event_id": "r1"})
    events = client.until("rate_limits.updated")
    types = [e["type"] for e in events if e["type"] not in (n("response.audio.delta"),
                                                             n("response.audio_transcript.delta"))]
    item_added = ["conversation.item.created"] if dialect == "beta" else ["conversation.item.added",
                                                                          "conversation.item.done"]
    assert types[:len(item_added)] == item_added  # the user's text item
    tail = types[len(item_added):]
    expected = ["response.created", "response.output_item.added", item_added[0], "response.content_part.added",
                n("response.audio.done"), n("response.audio_transcript.done"), "response.content_part.done"] + \
               (["conversation.item.done"] if dialect == "ga" else []) + \
               ["response.output_item.done", "response.done", "rate_limits.updated"]  # GA: as the live service
    assert tail == expected
    transcript = "".join(e["delta"] for e in events if e["type"] == n("response.audio_transcript.delta"))
    assert transcript == "Simulator heard: What time is it."
    done = events[-2]["response"]
    assert done["status"] == "completed" and done["usage"]["output_tokens"] > 0
    assert done["usage"]["total_tokens"] == done["usage"]["input_tokens"] + done["usage"]["output_tokens"]
    assert done["output"][0]["content"][0]["transcript"] == transcript
    item_id = done["output"][0]["id"]
    audio = b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == n("response.audio.delta"))
    assert all(e["item_id"] == item_id and e["response_id"] == done["id"] for e in events
               if e["type"] == n("response.audio.delta"))
    assert len(audio) > 48000 * 0.5 and len(audio) % 2 == 0
    assert sim.sessions[0].audio_sent_ms[item_id] == pytest.approx(len(audio) / 48)


def test_text_response_sequence(connect, dialect):
    n = N[dialect]
    sim, client = connect(dialect)
    update(client, TEXT_ONLY[dialect])
    say(client, "hello")
    client.send({"type": "response.create"})
    events = client.until("response.done")
    types = collapse(e["type"] for e in events)
    assert n("response.text.delta") in types and not any("audio" in t for t in types)
    assert types.index("response.content_part.added") < types.index(n("response.text.delta")) \
        < types.index(n("response.text.done")) < types.index("response.content_part.done")
    text_done = next(e for e in events if e["type"] == n("response.text.done"))
    assert text_done["text"] == "Simulator heard: hello." == "".join(
        e["delta"] for e in events if e["type"] == n("response.text.delta"))


def test_response_without_input_greets(connect, dialect):
    sim, client = connect(dialect)
    update(client, TEXT_ONLY[dialect])
    client.send({"type": "response.create"})
    done = client.until("response.done")[-1]["response"]
    assert done["output"][0]["content"][0]["text"] == "Hello! How can I help you today?"


def test_response_create_overrides_modalities(connect, dialect):
    sim, client = connect(dialect)
    say(client, "hi")
    client.send({"type": "response.create", "response": {"modalities": ["text"]} if dialect == "beta"
                 else {"output_modalities": ["text"]}})
    events = client.until("response.done")
    assert not any("audio" in e["type"] for e in events)


def test_function_call_then_output_continues_with_speech(connect, dialect):
    n = N[dialect]
    sim, client = connect(dialect)
    update(client, {"tools": [WEATHER]} if dialect == "beta" else {"type": "realtime", "tools": [WEATHER]})
    say(client, "What's the weather in Paris? Use get weather.")
    client.send({"type": "response.create"})
    events = client.until("response.done")
    deltas = [e for e in events if e["type"] == "response.function_call_arguments.delta"]
    args_done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert len(deltas) > 1 and "".join(d["delta"] for d in deltas) == args_done["arguments"]
    assert json.loads(args_done["arguments"]) == {"city": "What's the weather in Paris? Use get weather.", "days": 1}
    item = events[-1]["response"]["output"][0]
    assert item["type"] == "function_call" and item["name"] == "get_weather"
    assert item["call_id"] == args_done["call_id"] and item["arguments"] == args_done["arguments"]
    assert not any("audio" in e["type"] for e in events)
    client.send({"type": "conversation.item.create", "item": {"type": "function_call_output",
                                                              "call_id": item["call_id"], "output": "sunny, 21 C"}})
    client.send({"type": "response.create"})
    events = client.until("response.done")
    transcript = next(e for e in events if e["type"] == n("response.audio_transcript.done"))["transcript"]
    assert transcript == "The get_weather tool returned sunny, 21 C."


def test_tool_choice_none_answers_instead(connect, dialect):
    sim, client = connect(dialect)
    session = {"tools": [WEATHER], "tool_choice": "none"}
    update(client, session if dialect == "beta" else {"type": "realtime", **session})
    say(client, "get_weather please")
    client.send({"type": "response.create"})
    assert client.until("response.done")[-1]["response"]["output"][0]["type"] == "message"


LONG = "Tell me a long story about the sea and the wind and the stars above."


def received_ms(client, n, item_id=None):
    """Milliseconds of pcm16 audio the client has received (of one item, or all)."""
    return sum(len(base64.b64decode(e["delta"])) for e in client.events
               if e["type"] == n("response.audio.delta") and item_id in (None, e["item_id"])) / 48


def audio_until(client, n, ms):
    """Read until at least `ms` of audio has arrived; the id of the item it belongs to."""
    for _ in range(1000):
        event = client.recv()
        if event["type"] == n("response.audio.delta") and received_ms(client, n) >= ms:
            return event["item_id"]
    raise AssertionError(f"not {ms} ms of audio")


def test_cancel_lands_mid_audio_at_real_time_and_truncation_races_what_was_sent(connect, dialect):
    """At real-time pace with the service's latencies: a cancel half a second into the reply stops it there;
    `audio_sent_ms` is what reached the client; truncating beyond it is refused, at or below it accepted."""
    n = N[dialect]
    sim, client = connect(dialect, **REAL_TIME)
    say(client, LONG)
    client.send({"type": "response.create"})
    item_id = audio_until(client, n, 500)
    client.send({"type": "response.cancel", "event_id": "cx"})
    events = client.until("response.done")
    done = events[-1]["response"]
    assert done["status"] == "cancelled" and done["status_details"]["reason"] == "client_cancelled"
    assert done["output"][0]["status"] == "incomplete" and done["output"][0]["id"] == item_id
    assert not any(e["type"] == "error" for e in events)
    sent_ms = sim.sessions[0].audio_sent_ms[item_id]
    assert sent_ms == pytest.approx(received_ms(client, n))  # every delta sent reached the client
    assert 500 <= sent_ms < 2500  # the reply is ~5 s long: the cancel landed mid-audio
    # nothing is active any more
    client.send({"type": "response.cancel", "event_id": "again"})
    error = client.until("error")[-1]["error"]
    assert error["code"] == "response_cancel_not_active" and error["event_id"] == "again"

    def truncate(ms, event_id):
        client.send({"type": "conversation.item.truncate", "event_id": event_id, "item_id": item_id,
                     "content_index": 0, "audio_end_ms": ms})
        return client.recv()

    beyond = truncate(int(sent_ms) + 1, "t_beyond")
    assert beyond["type"] == "error"
    assert (beyond["error"]["code"], beyond["error"]["param"], beyond["error"]["event_id"]) == \
        ("invalid_value", "audio_end_ms", "t_beyond")
    assert f"{int(sent_ms) + 1}ms" in beyond["error"]["message"]
    assert truncate(int(sent_ms), "t_at")["type"] == "conversation.item.truncated"  # exactly what was sent
    played = int(sent_ms) - 150  # what a client with a 150 ms playout buffer had played
    truncated = truncate(played, "t_played")
    assert (truncated["type"], truncated["audio_end_ms"]) == ("conversation.item.truncated", played)
    assert truncate(played + 1, "t_again")["type"] == "error"  # the audio is that short now
    assert sim.sessions[0].audio_sent_ms[item_id] == played


def test_barge_in_at_real_time_stops_the_audio_at_once(connect, dialect):
    """Server VAD hears speech while a reply plays at real-time pace: `speech_started`, then not one more audio
    delta of that reply; it ends `cancelled` / `turn_detected`, and its audio is truncatable up to what was sent."""
    n = N[dialect]
    sim, client = connect(dialect, **REAL_TIME)
    say(client, LONG)
    client.send({"type": "response.create"})
    item_id = audio_until(client, n, 300)
    append_chunked(client, silence(100) + tone(400))
    events = client.until("response.done")
    types = [e["type"] for e in events]
    started = types.index("input_audio_buffer.speech_started")
    assert n("response.audio.delta") not in types[started:]
    done = events[-1]["response"]
    assert done["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
    sent_ms = sim.sessions[0].audio_sent_ms[item_id]
    assert sent_ms == pytest.approx(received_ms(client, n, item_id)) and sent_ms < 2500
    client.send({"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0,
                 "audio_end_ms": int(sent_ms)})
    assert client.until("conversation.item.truncated")[-1]["audio_end_ms"] == int(sent_ms)


def test_cancel_during_the_response_latency(connect, dialect):
    """A cancel before `response.created` (the service takes ~0.3 s): the response is still created, then done
    `cancelled` with no output; the conversation is unchanged and a new response can start."""
    sim, client = connect(dialect, **REAL_TIME)
    say(client, "hello")
    client.until("conversation.item.created" if dialect == "beta" else "conversation.item.done")
    client.send({"type": "response.create"})
    client.send({"type": "response.cancel"})
    events = client.until("response.done")
    assert [e["type"] for e in events] == ["response.created", "response.done"]
    done = events[-1]["response"]
    assert (done["status"], done["status_details"]["reason"], done["output"]) == ("cancelled", "client_cancelled",
                                                                               [])
    assert len(sim.sessions[0].items) == 1
    client.send({"type": "response.create", "response": TEXT_ONLY_RESPONSE[dialect]})
    assert client.until("response.done")[-1]["response"]["status"] == "completed"


def test_cancel_before_the_first_audio(connect, dialect):
    """Created, not yet speaking (the first audio comes later than `response.created`): a cancel then leaves an
    incomplete item with no audio at all, and no truncation beyond 0 ms."""
    n = N[dialect]
    sim, client = connect(dialect, **{**REAL_TIME, "first_audio_latency": 1.5})  # a wide window for the cancel
    say(client, "hello")
    client.send({"type": "response.create"})
    client.until("response.content_part.added")
    client.send({"type": "response.cancel"})
    events = client.until("response.done")
    item = events[-1]["response"]["output"][0]
    assert events[-1]["response"]["status"] == "cancelled" and item["status"] == "incomplete"
    assert not any(e["type"] in (n("response.audio.delta"), n("response.audio_transcript.delta")) for e in events)
    assert sim.sessions[0].audio_sent_ms[item["id"]] == 0
    client.send({"type": "conversation.item.truncate", "item_id": item["id"], "content_index": 0,
                 "audio_end_ms": 1})
    assert client.until("error")[-1]["error"]["param"] == "audio_end_ms"


def test_response_latency_is_the_services(connect):
    """`response.created` ~0.3 s after `response.create`, the first audio ~0.5 s after it (lower bounds only: they
    are waits, not work)."""
    import time

    sim, client = connect("ga", **REAL_TIME)
    say(client, "hi")
    client.until("conversation.item.done")
    start = time.monotonic()
    client.send({"type": "response.create"})
    client.until("response.created")
    created = time.monotonic() - start
    client.until("response.output_audio.delta")
    first_audio = time.monotonic() - start
    assert created >= 0.29 and first_audio >= 0.49
    assert created < first_audio - 0.15


def test_response_create_during_active_response_is_refused(connect, dialect):
    sim, client = connect(dialect, **REAL_TIME)
    say(client, "one")
    client.send({"type": "response.create"})
    client.send({"type": "response.create", "event_id": "second"})
    events = client.until("response.done")
    errors = [e["error"] for e in events if e["type"] == "error"]
    assert [(e["code"], e["event_id"]) for e in errors] == [("conversation_already_has_active_response", "second")]
    assert events[-1]["response"]["status"] == "completed"
    assert sum(e["type"] == "response.created" for e in events) == 1


def test_truncate_delete_retrieve(connect, dialect):
    sim, client = connect(dialect, **REAL_TIME)
    say(client, "hi")
    client.send({"type": "response.create"})
    events = client.until("response.done")
    user_id = next(e for e in events if e["type"].startswith("conversation.item."))["item"]["id"]
    item_id = events[-1]["response"]["output"][0]["id"]
    sent = sim.sessions[0].audio_sent_ms[item_id]
    client.send({"type": "conversation.item.truncate", "event_id": "t1", "item_id": item_id, "content_index": 0,
                 "audio_end_ms": int(sent) + 500})
    error = client.until("error")[-1]["error"]
    assert error["event_id"] == "t1" and error["param"] == "audio_end_ms"
    client.send({"type": "conversation.item.truncate", "event_id": "t2", "item_id": user_id, "content_index": 0,
                 "audio_end_ms": 0})
    assert client.expect_error()["code"] == "item_truncate_invalid_item_id"
    client.send({"type": "conversation.item.truncate", "item_id": "item_nope", "content_index": 0, "audio_end_ms": 0})
    assert client.expect_error()["code"] == "item_truncate_invalid_item_id"
    client.send({"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0, "audio_end_ms": 300})
    truncated = client.recv()
    assert truncated == {**truncated, "type": "conversation.item.truncated", "item_id": item_id, "audio_end_ms": 300}
    client.send({"type": "conversation.item.retrieve", "item_id": item_id})
    retrieved = client.recv()
    assert retrieved["type"] == "conversation.item.retrieved" and retrieved["item"]["content"][0]["transcript"] == ""
    client.send({"type": "conversation.item.delete", "item_id": item_id})
    assert client.recv() == {**client.events[-1], "type": "conversation.item.deleted", "item_id": item_id}
    client.send({"type": "conversation.item.delete", "event_id": "d2", "item_id": item_id})
    error = client.expect_error()
    assert error["code"] == "item_delete_invalid_item_id" and error["event_id"] == "d2"


def test_max_output_tokens_makes_an_incomplete_response(connect, dialect):
    sim, client = connect(dialect)
    update(client, {**TEXT_ONLY[dialect], **({"max_response_output_tokens": 2} if dialect == "beta"
                                              else {"max_output_tokens": 2})})
    say(client, "a rather long sentence to echo back")
    client.send({"type": "response.create"})
    done = client.until("response.done")[-1]["response"]
    assert done["status"] == "incomplete" and done["status_details"]["reason"] == "max_output_tokens"
    assert done["output"][0]["content"][0]["text"] == "Simulato"  # the first 2 tokens, 4 characters each


def test_out_of_band_response_stays_out_of_the_conversation(connect, dialect):
    sim, client = connect(dialect)
    update(client, TEXT_ONLY[dialect])
    say(client, "hi")
    client.until("conversation.item.created" if dialect == "beta" else "conversation.item.done")
    client.send({"type": "response.create", "response": {"conversation": "none"}})
    events = client.until("response.done")
    assert not any(e["type"].startswith("conversation.item") for e in events)
    assert events[-1]["response"]["conversation_id"] is None
    assert len(sim.sessions[0].items) == 1


def test_barge_in_cancels_with_turn_detected(connect, dialect):
    """Server VAD hears speech while a response plays: the response ends `cancelled` / `turn_detected`."""
    n = N[dialect]
    sim, client = connect(dialect, **REAL_TIME)
    say(client, "Tell me a long story about the sea and the wind and the stars above.")
    client.send({"type": "response.create"})
    for _ in range(200):
        if client.recv()["type"] == n("response.audio.delta"):
            break
    append_chunked(client, silence(100) + tone(300))
    events = client.until("response.done")
    assert "input_audio_buffer.speech_started" in [e["type"] for e in events]
    assert events[-1]["response"]["status_details"] == {"type": "cancelled", "reason": "turn_detected"}


def test_voice_is_fixed_once_the_model_has_spoken(connect, dialect):
    sim, client = connect(dialect)
    voice = (lambda v: {"voice": v}) if dialect == "beta" else \
        (lambda v: {"type": "realtime", "audio": {"output": {"voice": v}}})
    update(client, voice("echo"))  # before any audio: allowed
    say(client, "hi")
    client.send({"type": "response.create"})
    client.until("response.done")
    client.send({"type": "session.update", "event_id": "v2", "session": voice("shimmer")})
    error = client.until("error")[-1]["error"]
    assert error["code"] == "cannot_update_voice" and error["event_id"] == "v2"
    update(client, voice("echo"))  # the same voice again is fine


def test_speed_changes_the_spoken_duration(connect):
    sim, client = connect("ga")
    durations = []
    for speed in (1.0, 1.5):
        update(client, {"type": "realtime", "audio": {"output": {"speed": speed}}})
        say(client, "The quick brown fox jumps over the lazy dog")
        client.send({"type": "response.create"})
        events = client.until("rate_limits.updated")
        durations.append(sum(len(base64.b64decode(e["delta"])) for e in events
                             if e["type"] == "response.output_audio.delta") / 48000)
    assert durations[1] < durations[0] * 0.8


def test_item_create_positions(connect, dialect):
    sim, client = connect(dialect)
    added = "conversation.item.created" if dialect == "beta" else "conversation.item.added"

    def create(item_id, **extra):
        client.send({"type": "conversation.item.create", "event_id": "c_" + item_id, **extra, "item": {
            "id": item_id, "type": "message", "role": "user", "content": [{"type": "input_text", "text": item_id}]}})

    create("a")
    create("b")
    create("c", previous_item_id="root")
    create("d", previous_item_id="a")
    create("e", previous_item_id="nope")
    error = client.until("error")[-1]["error"]
    assert error["event_id"] == "c_e" and error["param"] == "previous_item_id"
    previous = [e["previous_item_id"] for e in client.events if e["type"] == added]
    assert previous == [None, "a", None, "a"]
    assert [i["id"] for i in sim.sessions[0].items] == ["c", "a", "d", "b"]
    create("a")
    assert client.until("error")[-1]["error"]["param"] == "item.id"


def test_out_of_band_response_on_referenced_input(connect):
    sim, client = connect("ga")
    update(client, TEXT_ONLY["ga"])
    say(client, "first")
    first_id = client.until("conversation.item.done")[-1]["item"]["id"]
    say(client, "second")
    client.until("conversation.item.done")
    client.send({"type": "response.create", "response": {
        "conversation": "none", "input": [{"type": "item_reference", "id": first_id}]}})
    done = client.until("response.done")[-1]["response"]
    assert done["output"][0]["content"][0]["text"] == "Simulator heard: first."
    client.send({"type": "response.create", "event_id": "ref", "response": {
        "input": [{"type": "item_reference", "id": "item_missing"}]}})
    error = client.until("error")[-1]["error"]
    assert error["event_id"] == "ref" and error["param"] == "response.input"


def test_forced_tool_choice(connect):
    sim, client = connect("ga")
    other = {"type": "function", "name": "set_timer", "parameters": {
        "type": "object", "properties": {"unit": {"type": "string", "enum": ["s", "min"]}, "on": {"type": "boolean"}}}}
    update(client, {"type": "realtime", "tools": [WEATHER, other],
                    "tool_choice": {"type": "function", "name": "set_timer"}})
    say(client, "nothing to do with tools")
    client.send({"type": "response.create"})
    item = client.until("response.done")[-1]["response"]["output"][0]
    assert item["name"] == "set_timer" and json.loads(item["arguments"]) == {"unit": "s", "on": True}


def test_sessions_are_independent(make_sim):
    from simhelpers import Client, headers_for, url_for

    sim = make_sim("ga")
    one, two = (Client(url_for(sim), headers_for("ga")) for _ in range(2))
    try:
        for client in (one, two):
            assert client.recv()["type"] == "session.created"
        update(one, TEXT_ONLY["ga"])
        say(one, "only here")
        one.until("conversation.item.done")
        two.send({"type": "response.create"})
        done = two.until("response.done")[-1]["response"]
        assert done["output_modalities"] == ["audio"]
        assert done["output"][0]["content"][0]["transcript"] == "Hello! How can I help you today?"
        assert [len(s.items) for s in sim.sessions] == [1, 1]
        assert sim.sessions[0].id != sim.sessions[1].id
    finally:
        one.close()
        two.close()
