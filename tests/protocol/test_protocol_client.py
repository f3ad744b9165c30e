"""Client events: every builder, in both dialects, with all optional fields and with none, validates strictly
against the `openai` package's models; the dialect table's GA shapes; round trips; the append hot path."""

import base64
import json

import msgspec
import pytest
from openai_schemas import validate_client_event
from protohelpers import SEED_CLIENT_EVENTS, SESSION, client_builds, full_response_params, full_session

from rtaudiod import framing
from rtaudiod.protocol import (CLIENT_EVENT_TYPES, UNSET, ProtocolError, Reasoning, ResponseParams, SessionConfig,
                               TurnDetection, assistant_text, decode_client_event, decode_server_event,
                               encode_client_event, input_audio_append, prompt_reference, response_create,
                               retention_truncation, session_update, user_text)
from rtaudiod.protocol.dialect import server_event_to_wire

BUILDS = client_builds()


def wire(event, dialect):
    return json.loads(encode_client_event(event, dialect))


def test_the_nine_client_events_are_modelled_and_built():
    assert set(CLIENT_EVENT_TYPES) == set(SEED_CLIENT_EVENTS)
    assert {event.__struct_config__.tag for _, event in BUILDS} == set(SEED_CLIENT_EVENTS)


@pytest.mark.parametrize("dialect", ["beta", "ga"])
@pytest.mark.parametrize(("name", "event"), BUILDS, ids=[name for name, _ in BUILDS])
def test_builder_validates_strictly(name, event, dialect):
    body = wire(event, dialect)
    validate_client_event(body, dialect)
    assert body["type"] == event.__struct_config__.tag


@pytest.mark.parametrize("dialect", ["beta", "ga"])
@pytest.mark.parametrize(("name", "event"), BUILDS, ids=[name for name, _ in BUILDS])
def test_round_trip(name, event, dialect):
    """internal -> wire -> internal gives the event back (less what the dialect has no field for)."""
    back = decode_client_event(encode_client_event(event, dialect))
    expected = msgspec.to_builtins(event)
    got = msgspec.to_builtins(back)
    if dialect == "ga":  # GA has no temperature
        expected.get("session", {}).pop("temperature", None)
        expected.get("response", {}).pop("temperature", None)
    else:  # beta has no idle_timeout_ms, and a forced function choice is its bare name
        (expected.get("session", {}).get("turn_detection") or {}).pop("idle_timeout_ms", None)
        for obj in (expected.get("session", {}), expected.get("response", {})):
            if isinstance(obj.get("tool_choice"), dict):
                obj["tool_choice"] = obj["tool_choice"]["name"]
    assert got == expected


@pytest.mark.parametrize("dialect", ["beta", "ga"])
def test_unset_fields_are_never_sent(dialect):
    assert wire(session_update(SessionConfig()), dialect)["session"] == ({} if dialect == "beta" else
                                                                        {"type": "realtime"})
    assert wire(response_create(), dialect) == {"type": "response.create"}
    assert wire(user_text("hi"), dialect) == {"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}}
    # None is a value: sent as null (turn detection off = push-to-talk; insert at the start)
    ptt = wire(session_update(SessionConfig(turn_detection=None)), dialect)["session"]
    assert (ptt["turn_detection"] if dialect == "beta" else ptt["audio"]["input"]["turn_detection"]) is None
    assert wire(user_text("hi", previous_item_id=None), dialect)["previous_item_id"] is None


def test_beta_session_shape():
    s = wire(session_update(full_session()), "beta")["session"]
    assert s["input_audio_format"] == "g711_ulaw" and s["output_audio_format"] == "g711_alaw"
    assert s["max_response_output_tokens"] == 4096 and s["modalities"] == ["text", "audio"]
    assert s["voice"] == "alloy" and s["temperature"] == 0.8
    assert "idle_timeout_ms" not in s["turn_detection"]  # GA-only


def test_ga_session_shape():
    s = wire(session_update(full_session()), "ga")["session"]
    assert s["type"] == "realtime"
    assert s["output_modalities"] == ["audio"] and "modalities" not in s
    assert s["max_output_tokens"] == 4096 and "max_response_output_tokens" not in s
    assert "temperature" not in s and "voice" not in s
    assert s["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert s["audio"]["output"] == {"format": {"type": "audio/pcma"}, "voice": "alloy", "speed": 1.1}
    assert s["audio"]["input"]["turn_detection"]["idle_timeout_ms"] == 6000
    assert s["audio"]["input"]["transcription"] == {"model": "whisper-1", "language": "en",
                                                    "prompt": "kitchen, lights"}
    pcm = wire(session_update(SessionConfig(input_audio_format="pcm16", modalities=["text"])), "ga")["session"]
    assert pcm == {"type": "realtime", "output_modalities": ["text"],
                   "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000}}}}


def test_ga_turn_detection_keeps_only_its_type_fields():
    both = TurnDetection(threshold=0.5, eagerness="low", idle_timeout_ms=5000)
    td = wire(session_update(SessionConfig(turn_detection=both)), "ga")["session"]["audio"]["input"]["turn_detection"]
    assert td == {"type": "server_vad", "threshold": 0.5, "idle_timeout_ms": 5000}
    semantic = TurnDetection(type="semantic_vad", threshold=0.5, eagerness="low")
    td = wire(session_update(SessionConfig(turn_detection=semantic)), "ga")["session"]["audio"]["input"]
    assert td["turn_detection"] == {"type": "semantic_vad", "eagerness": "low"}


def test_response_create_shapes():
    beta = wire(response_create(full_response_params()), "beta")["response"]
    assert beta["tool_choice"] == "get_weather" and beta["max_response_output_tokens"] == 150
    assert beta["input"][1]["content"][0]["type"] == "text"
    ga = wire(response_create(full_response_params()), "ga")["response"]
    assert ga["tool_choice"] == {"type": "function", "name": "get_weather"}
    assert ga["audio"] == {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"}}
    assert ga["output_modalities"] == ["text"] and ga["max_output_tokens"] == 150 and "temperature" not in ga
    assert ga["input"][1]["content"][0]["type"] == "output_text"
    assert ga["conversation"] == "none" and ga["metadata"] == {"purpose": "test"}
    assert wire(response_create(ResponseParams(modalities=["audio", "text"])), "ga")["response"] == {
        "output_modalities": ["audio"]}


@pytest.mark.parametrize("event_id", [None, "event_456"])
@pytest.mark.parametrize("size", [0, 1, 2, 3, 480, 4800])
@pytest.mark.parametrize("dialect", ["beta", "ga"])
def test_append_builder_matches_the_hot_path(size, event_id, dialect):
    audio = bytes((i * 7) & 0xFF for i in range(size))
    frame = encode_client_event(input_audio_append(audio, event_id=event_id), dialect)
    assert frame == framing.encode_append(audio, event_id)
    assert base64.b64decode(json.loads(frame)["audio"]) == audio


def test_decode_client_event_rejects_what_is_not_a_client_event():
    with pytest.raises(ProtocolError, match="unknown client event type 'response.done'"):
        decode_client_event(b'{"type":"response.done"}')
    with pytest.raises(ProtocolError, match="conversation.item.truncate.*audio_end_ms") as info:
        decode_client_event(b'{"type":"conversation.item.truncate","item_id":"x","content_index":0}')
    assert info.value.path == "$.audio_end_ms"
    assert decode_client_event(b'{"type":"response.cancel"}').response_id is UNSET


@pytest.mark.parametrize("dialect", ["beta", "ga"])
def test_a_session_read_from_the_server_can_be_sent_back(dialect):
    wire_event = server_event_to_wire({"type": "session.updated", "event_id": "e", "session": SESSION}, dialect)
    session = decode_server_event(json.dumps(wire_event), dialect).session
    body = wire(session_update(session), dialect)
    validate_client_event(body, dialect)
    assert "id" not in body["session"]


ASSISTANT = [
    ("min", assistant_text("It is 18 degrees in Lyon.")),
    ("full", assistant_text("It is 18 degrees in Lyon.", item_id="msg_010", previous_item_id="msg_009",
                            event_id="event_348")),
    ("root", assistant_text("Hello.", previous_item_id=None)),
]


@pytest.mark.parametrize("dialect", ["beta", "ga"])
@pytest.mark.parametrize(("name", "event"), ASSISTANT, ids=[name for name, _ in ASSISTANT])
def test_assistant_text_validates_strictly_and_round_trips(name, event, dialect):
    """History replay: an assistant message with one text part, `text` in beta and `output_text` in GA."""
    body = wire(event, dialect)
    validate_client_event(body, dialect)
    part = {"type": "text" if dialect == "beta" else "output_text", "text": event.item.content[0].text}
    assert body["item"] == {"type": "message", "role": "assistant", "content": [part]} | (
        {"id": "msg_010"} if name == "full" else {})
    assert ("previous_item_id" in body) is (name != "min") and ("event_id" in body) is (name == "full")
    assert decode_client_event(encode_client_event(event, dialect)) == event


@pytest.mark.parametrize(("dialect", "other"), [("beta", "output_text"), ("ga", "text")])
def test_an_assistant_text_part_named_for_the_other_dialect_is_refused(dialect, other):
    """The openai models take only their own dialect's name for an assistant text part: the mapping is needed."""
    body = wire(assistant_text("Hi"), dialect)
    body["item"]["content"][0]["type"] = other
    with pytest.raises(ValueError, match=r"content\.0\.type"):
        validate_client_event(body, dialect)


# ---- the GA session fields a device sets: reasoning, prompt, truncation (GA only), speed (both) -----------------
GA_ONLY_SESSIONS = [
    ("reasoning", SessionConfig(reasoning=Reasoning(effort="low")), {"reasoning": {"effort": "low"}}),
    ("prompt", SessionConfig(prompt=prompt_reference("pmpt_123", "2", {"city": "Oslo"})),
     {"prompt": {"id": "pmpt_123", "version": "2", "variables": {"city": "Oslo"}}}),
    ("prompt-min", SessionConfig(prompt=prompt_reference("pmpt_123")), {"prompt": {"id": "pmpt_123"}}),
    ("truncation-ratio", SessionConfig(truncation=retention_truncation(0.8, 8000)),
     {"truncation": {"type": "retention_ratio", "retention_ratio": 0.8, "token_limits": {"post_instructions": 8000}}}),
    ("truncation-ratio-min", SessionConfig(truncation=retention_truncation(0.5)),
     {"truncation": {"type": "retention_ratio", "retention_ratio": 0.5}}),
    ("truncation-auto", SessionConfig(truncation="auto"), {"truncation": "auto"}),
    ("truncation-disabled", SessionConfig(truncation="disabled"), {"truncation": "disabled"}),
]


@pytest.mark.parametrize(("name", "session", "expected"), GA_ONLY_SESSIONS, ids=[n for n, _, _ in GA_ONLY_SESSIONS])
def test_ga_only_session_fields_are_sent_in_ga_and_refused_in_beta(name, session, expected):
    body = wire(session_update(session), "ga")
    validate_client_event(body, "ga")
    assert body["session"] == {"type": "realtime", **expected}
    assert decode_client_event(json.dumps(body)) == session_update(session)  # and read back
    key = next(iter(expected))
    with pytest.raises(ProtocolError, match=f"session.{key} exists only in the GA dialect") as info:
        encode_client_event(session_update(session), "beta")
    assert info.value.path == f"$.session.{key}" and info.value.event_type == "session.update"


@pytest.mark.parametrize("dialect", ["beta", "ga"])
def test_speed_is_in_both_dialects(dialect):
    """openai 3.57: beta `session_update_event.Session.speed` and GA `audio.output.speed`, 0.25-1.5."""
    body = wire(session_update(SessionConfig(speed=1.25)), dialect)
    validate_client_event(body, dialect)
    assert (body["session"]["speed"] if dialect == "beta" else body["session"]["audio"]["output"]["speed"]) == 1.25


def test_the_ga_only_fields_are_what_the_beta_models_lack():
    """The refusal list is the package's: fields of the GA session object the beta session.update has not."""
    from openai.types.beta.realtime.session_update_event import Session as BetaSession
    from openai.types.realtime import RealtimeSessionCreateRequest
    for key in ("reasoning", "prompt", "truncation"):
        assert key in RealtimeSessionCreateRequest.model_fields and key not in BetaSession.model_fields
    assert "speed" in BetaSession.model_fields
