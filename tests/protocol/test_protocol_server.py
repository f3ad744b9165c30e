"""Server events: the examples validate strictly against the openai models of each dialect (beta as written, GA
through the dialect table), decode into the right Struct in both dialects, and round-trip; GA frames written by
hand from `openai.types.realtime`; unknown events."""

import json

import msgspec
import pytest
from openai_schemas import validate_server_event
from protohelpers import (GA_ONLY_EXAMPLES, GA_REQUIRED_EXTRAS, GA_WIRE_EXAMPLES, SEED_SERVER_EVENTS,
                          SERVER_EXAMPLES, without)

from rtaudiod.protocol import (SERVER_EVENT_TYPES, UNSET, Codec, ConversationItemCreated, ConversationItemDone,
                               ProtocolError, ResponseAudioDelta, ResponseAudioTranscriptDelta,
                               ResponseContentPartDone, ResponseDone, ResponseFunctionCallArgumentsDone,
                               ResponseTextDone, SessionUpdated, ToolChoiceFunction, UnknownEvent,
                               decode_client_event, decode_server_event)
from rtaudiod.protocol import codec
from rtaudiod.protocol.dialect import server_event_to_wire

IDS = [f"{e['type']}-{e['event_id']}" for e in SERVER_EXAMPLES]
GA_LOSSY = ("session.temperature", "session.id", "response.temperature")


def ga_wire(example):
    out = server_event_to_wire(example, "ga")
    out.update(GA_REQUIRED_EXTRAS.get(example["type"], {}))
    return out


def frame(event) -> bytes:
    return json.dumps(event).encode()


def test_every_seed_server_event_has_a_struct_and_an_example():
    assert set(SEED_SERVER_EVENTS) <= set(SERVER_EVENT_TYPES)
    assert set(SEED_SERVER_EVENTS) <= {e["type"] for e in SERVER_EXAMPLES}
    assert len(SEED_SERVER_EVENTS) == 28


@pytest.mark.parametrize("example", SERVER_EXAMPLES, ids=IDS)
def test_beta_example_is_valid_beta(example):
    validate_server_event(example, "beta")


@pytest.mark.parametrize("example", SERVER_EXAMPLES + GA_ONLY_EXAMPLES,
                         ids=IDS + [e["type"] for e in GA_ONLY_EXAMPLES])
def test_ga_rendering_is_valid_ga(example):
    """The dialect table's GA shapes, checked against the GA models (the spec of that dialect)."""
    validate_server_event(ga_wire(example), "ga")


@pytest.mark.parametrize("mode", ["beta", "ga"])
@pytest.mark.parametrize("example", SERVER_EXAMPLES, ids=IDS)
def test_beta_frame_decodes(example, mode):
    event = decode_server_event(frame(example), mode)
    assert type(event) is SERVER_EVENT_TYPES[example["type"]]
    assert msgspec.to_builtins(event) == example
    assert event.event_id == example["event_id"]


@pytest.mark.parametrize("mode", ["beta", "ga"])
@pytest.mark.parametrize("example", SERVER_EXAMPLES + GA_ONLY_EXAMPLES,
                         ids=IDS + [e["type"] for e in GA_ONLY_EXAMPLES])
def test_ga_frame_decodes_to_the_same_event(example, mode):
    """internal -> GA wire -> internal: the same Struct, less what GA has no field for."""
    event = decode_server_event(frame(ga_wire(example)), mode)
    assert type(event) is SERVER_EVENT_TYPES[example["type"]]
    expected = without(example, *GA_LOSSY)
    expected.update(GA_REQUIRED_EXTRAS.get(example["type"], {}))
    assert msgspec.to_builtins(event) == expected


@pytest.mark.parametrize("example", SERVER_EXAMPLES, ids=IDS)
def test_round_trip_through_both_dialects(example):
    """internal -> beta -> internal -> GA -> internal -> beta: each step the same event."""
    beta = decode_server_event(frame(server_event_to_wire(example, "beta")), "beta")
    ga = decode_server_event(frame(ga_wire(msgspec.to_builtins(beta))), "ga")
    again = decode_server_event(frame(server_event_to_wire(msgspec.to_builtins(ga), "beta")), "beta")
    assert msgspec.to_builtins(beta) == example
    assert msgspec.to_builtins(ga) == without(example, *GA_LOSSY) | GA_REQUIRED_EXTRAS.get(example["type"], {})
    assert msgspec.to_builtins(again) == without(example, *GA_LOSSY)


@pytest.mark.parametrize("example", GA_WIRE_EXAMPLES, ids=[e["type"] for e in GA_WIRE_EXAMPLES])
def test_hand_written_ga_frames_are_valid_ga(example):
    validate_server_event(example, "ga")


@pytest.mark.parametrize("mode", ["beta", "ga"])
def test_hand_written_ga_frames_decode(mode):
    by_id = {e["event_id"]: decode_server_event(frame(e), mode) for e in GA_WIRE_EXAMPLES}

    s = by_id["event_8001"]
    assert isinstance(s, SessionUpdated)
    assert s.session.input_audio_format == "g711_ulaw" and s.session.output_audio_format == "g711_alaw"
    assert s.session.modalities == ["text", "audio"] and s.session.voice == "marin" and s.session.speed == 1.25
    assert s.session.turn_detection.type == "semantic_vad" and s.session.turn_detection.eagerness == "high"
    assert s.session.input_audio_transcription is None and s.session.input_audio_noise_reduction.type == "near_field"
    assert s.session.tool_choice == ToolChoiceFunction(name="get_weather")
    assert s.session.max_response_output_tokens == 200 and s.session.temperature is UNSET
    assert s.session.reasoning.effort == "high" and s.session.truncation.retention_ratio == 0.75
    assert s.session.prompt.id == "pmpt_1" and s.session.prompt.variables["greeting"]["text"] == "Hei"

    d = by_id["event_8002"]
    assert isinstance(d, ResponseAudioTranscriptDelta) and d.delta == "Hi" and d.item_id == "msg_008"
    assert isinstance(by_id["event_8003"], ResponseTextDone) and by_id["event_8003"].text == "Hi there."

    added = by_id["event_8004"]
    assert isinstance(added, ConversationItemCreated) and added.previous_item_id is None
    assert added.item.content[0].type == "audio" and added.item.status == "in_progress"

    done = by_id["event_8005"]
    assert isinstance(done, ResponseDone)
    r = done.response
    assert r.status == "incomplete" and r.status_details.reason == "max_output_tokens"
    assert r.modalities == ["text"] and r.output_audio_format == "pcm16" and r.voice == "cedar"
    assert r.max_output_tokens == 5 and r.output[0].content[0].type == "text"
    assert r.usage.output_token_details.audio_tokens == 20

    call = by_id["event_8006"]
    assert isinstance(call, ResponseFunctionCallArgumentsDone) and call.name == "get_weather"


@pytest.mark.parametrize("mode", ["beta", "ga"])
def test_either_dialects_names_are_accepted(mode):
    ids = {"response_id": "r", "item_id": "i", "output_index": 0, "content_index": 0, "delta": "AAA="}
    for name in ("response.audio.delta", "response.output_audio.delta"):
        event = decode_server_event(frame({"type": name, "event_id": "e", **ids}), mode)
        assert type(event) is ResponseAudioDelta and event.delta == "AAA="
    item = {"id": "x", "type": "message", "role": "user", "content": []}
    for name in ("conversation.item.created", "conversation.item.added"):
        assert type(decode_server_event(frame({"type": name, "item": item}), mode)) is ConversationItemCreated
    assert type(decode_server_event(frame({"type": "conversation.item.done", "item": item}), mode)) is \
        ConversationItemDone


@pytest.mark.parametrize("mode", ["beta", "ga"])
def test_unknown_events_are_kept_not_raised(mode):
    raw = {"type": "response.future_tool_call.in_progress", "event_id": "e1", "item_id": "x", "output_index": 0}
    event = decode_server_event(frame(raw), mode)
    assert isinstance(event, UnknownEvent) and event.type == raw["type"] and event.raw == raw
    codec = Codec(mode)
    for _ in range(3):
        codec.decode(frame(raw))
    codec.decode(frame({"type": "something.new"}))
    codec.decode(frame(SERVER_EXAMPLES[0]))
    assert codec.unknown == {"response.future_tool_call.in_progress": 3, "something.new": 1}
    assert "unknown=4" in repr(codec)


@pytest.mark.parametrize("mode", ["beta", "ga"])
def test_servers_may_add_fields(mode):
    event = decode_server_event(frame({"type": "input_audio_buffer.cleared", "event_id": "e", "new": [1]}), mode)
    assert event.event_id == "e"
    # event_id is optional on input
    assert decode_server_event(b'{"type":"input_audio_buffer.cleared"}', mode).event_id == ""


@pytest.mark.parametrize("mode", ["beta", "ga"])
@pytest.mark.parametrize(("body", "event_type", "path"), [
    ({"type": "response.audio.delta", "response_id": "r", "item_id": "i", "output_index": "0", "content_index": 0,
      "delta": ""}, "response.audio.delta", "$.output_index"),
    ({"type": "response.output_audio_transcript.delta", "response_id": "r", "item_id": "i", "output_index": 0,
      "content_index": 0}, "response.output_audio_transcript.delta", "$.delta"),
    ({"type": "session.updated", "session": {"input_audio_format": "opus"}}, "session.updated",
     "$.session.input_audio_format"),
    ({"type": "session.updated", "session": {"type": "realtime", "audio": {"input": {"format": {"type": "x"}}}}},
     "session.updated", "$.session.input_audio_format"),
    ({"type": "response.done", "response": {"output": [{"content": [{"text": 5}]}]}}, "response.done",
     "$.response.output[0].content[0].text"),
    ({"type": "rate_limits.updated", "rate_limits": {"name": "requests"}}, "rate_limits.updated", "$.rate_limits"),
    ({"type": "error"}, "error", "$.error"),
])
def test_malformed_known_event_names_type_and_field(body, event_type, path, mode):
    with pytest.raises(ProtocolError) as info:
        decode_server_event(frame(body), mode)
    assert info.value.event_type == event_type and info.value.path == path
    assert event_type in str(info.value) and path.rsplit(".", 1)[-1].split("[")[0] in str(info.value)


@pytest.mark.parametrize("mode", ["beta", "ga"])
@pytest.mark.parametrize(("data", "message"), [
    (b"", "not valid JSON"), (b"{", "not valid JSON"), (b"\xff\xfe", "not valid JSON"),
    (b"[1, 2]", "not a JSON object"), (b'"response.done"', "not a JSON object"), (b"null", "not a JSON object"),
    (b"{}", "no string 'type'"), (b'{"type": 5}', "no string 'type'"),
])
def test_broken_frames(data, message, mode):
    with pytest.raises(ProtocolError, match=message):
        decode_server_event(data, mode)
    with pytest.raises(ValueError):  # ProtocolError is a ValueError
        decode_server_event(data.decode("latin-1"), mode)


def test_ga_choices_this_layer_does_not_model_never_fail_a_session_event():
    body = {"type": "session.updated", "session": {
        "type": "realtime", "tool_choice": {"type": "mcp", "server_label": "deepwiki"},
        "tools": [{"type": "mcp", "server_label": "deepwiki", "server_url": "https://example.invalid/mcp"}],
        "audio": {"output": {"voice": {"id": "voice_1234"}}}}}
    event = decode_server_event(frame(body), "ga")
    assert event.session.tool_choice == "mcp" and event.session.tools[0].type == "mcp"
    assert event.session.voice == "voice_1234"


class Text(str):
    """A str subclass (msgspec's decoders refuse them; the framing layer takes them)."""


GA_DELTA = (b'{"type":"response.output_audio_transcript.delta","event_id":"e","response_id":"r","item_id":"i",'
            b'"output_index":0,"content_index":0,"delta":"Hi","obfuscation":"x7Q"}')


@pytest.mark.parametrize("mode", ["beta", "ga"])
def test_frames_of_any_text_or_bytes_like_type_decode(mode):
    """websocket-client hands the session bytes or str (skip_utf8_validation=True); both paths take all of them."""
    for body in (b'{"type":"input_audio_buffer.cleared","event_id":"e"}', GA_DELTA, frame(GA_WIRE_EXAMPLES[0])):
        expected = decode_server_event(body, mode)
        for data in (body, body.decode(), Text(body.decode()), bytearray(body), memoryview(body)):
            event = decode_server_event(data, mode)
            assert type(event) is type(expected) and event == expected and event.event_id != ""
    assert isinstance(decode_server_event(Text('{"type":"something.new"}'), mode), UnknownEvent)
    with pytest.raises(ProtocolError, match="not valid JSON"):
        decode_server_event(Text("{"), mode)
    assert decode_client_event(Text('{"type":"input_audio_buffer.clear"}')).event_id is UNSET


def nested_paths(value, path=()):
    """The path of every key inside the event's nested objects (lists included), depth first."""
    if isinstance(value, dict):
        for key, item in value.items():
            if path or key not in ("type", "event_id"):
                yield (*path, key)
            yield from nested_paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from nested_paths(item, (*path, i))


def with_null(event, path):
    out = json.loads(json.dumps(event))
    target = out
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = None
    return out


# metadata values are free-form strings the user set, not optional fields
NESTED_NULLS = [(e, p) for e in SERVER_EXAMPLES for p in nested_paths(e) if len(p) > 1 and "metadata" not in p[:-1]]


@pytest.mark.parametrize("mode", ["beta", "ga"])
@pytest.mark.parametrize(("example", "path"), NESTED_NULLS,
                         ids=[f"{e['type']}:{'.'.join(map(str, p))}" for e, p in NESTED_NULLS])
def test_an_explicit_null_in_a_nested_object_is_read_not_refused(example, path, mode):
    """The openai models let servers send null for almost every optional nested field (item status, part text,
    session instructions, rate-limit values...): such an event is read, with the field None, never lost."""
    event = decode_server_event(frame(with_null(example, path)), mode)
    assert type(event) is SERVER_EVENT_TYPES[example["type"]]
    value = msgspec.to_builtins(event)
    for step in path:
        value = value[step]
    assert value is None


# ---- the typed fast path -------------------------------------------------------------------------------------
#: the internal events whose nested objects have another shape in GA: only these take the general path
SHAPED = {"session.created", "session.updated", "response.created", "response.done", "conversation.item.created",
          "conversation.item.done", "conversation.item.retrieved", "response.output_item.added",
          "response.output_item.done"}
DELTAS = {"response.audio.delta", "response.audio_transcript.delta", "response.text.delta",
          "response.function_call_arguments.delta", "conversation.item.input_audio_transcription.delta"}


def with_obfuscation(event):
    """The service adds `obfuscation` (random padding) to GA delta events; it must be ignored, not refused."""
    internal = decode_server_event(frame(event)).__struct_config__.tag
    return {**event, "obfuscation": "Vk1x2"} if internal in DELTAS else event


WIRE_FRAMES = ([(f"beta:{e['type']}-{e['event_id']}", e) for e in SERVER_EXAMPLES]
               + [(f"ga:{e['type']}-{e.get('event_id', '')}", ga_wire(e)) for e in SERVER_EXAMPLES + GA_ONLY_EXAMPLES]
               + [(f"ga-hand:{e['type']}-{e['event_id']}", e) for e in GA_WIRE_EXAMPLES])
WIRE_FRAMES += [(f"{name}+obfuscation", with_obfuscation(e)) for name, e in WIRE_FRAMES
                if with_obfuscation(e) is not e]


@pytest.mark.parametrize("mode", ["beta", "ga"])
@pytest.mark.parametrize(("name", "event"), WIRE_FRAMES, ids=[n for n, _ in WIRE_FRAMES])
def test_decode_gives_what_the_general_path_gives(name, event, mode):
    """Every example frame of either dialect: the very class and the field values of the general path."""
    data = frame(event)
    general = codec._decode_general(data)
    got = decode_server_event(data, mode)
    assert type(got) is type(general) and type(got) in SERVER_EVENT_TYPES.values()
    assert got == general and msgspec.to_builtins(got) == msgspec.to_builtins(general)


@pytest.mark.parametrize("mode", ["beta", "ga"])
@pytest.mark.parametrize(("name", "event"), WIRE_FRAMES, ids=[n for n, _ in WIRE_FRAMES])
def test_events_of_the_internal_shape_take_one_typed_decode(name, event, mode, monkeypatch):
    """Under the names of both dialects, everything but the shaped events decodes without the general path."""
    expected = decode_server_event(frame(event), mode)
    internal = expected.__struct_config__.tag

    def general(data):
        raise AssertionError(f"{event['type']} took the general path")

    monkeypatch.setattr(codec, "_decode_general", general)
    if internal in SHAPED:
        with pytest.raises(AssertionError, match="general path"):
            decode_server_event(frame(event), mode)
    else:
        got = decode_server_event(frame(event), mode)
        assert type(got) is type(expected) and got == expected


def test_the_fast_events_are_the_unshaped_ones():
    assert SHAPED <= set(SERVER_EVENT_TYPES)
    assert {"response.audio_transcript.delta", "response.text.delta", "response.audio.done",
            "input_audio_buffer.speech_started", "response.content_part.added", "error",
            "rate_limits.updated"}.isdisjoint(SHAPED)


@pytest.mark.parametrize("mode", ["beta", "ga"])
@pytest.mark.parametrize("part_type", ["output_text", "output_audio"])
def test_a_content_part_typed_by_its_ga_item_name_is_mapped(part_type, mode):
    """Content-part events keep `text` / `audio` in both dialects; a part typed like an item part is mapped by the
    general path, as before."""
    body = {"type": "response.content_part.done", "event_id": "e", "response_id": "r", "item_id": "i",
            "output_index": 0, "content_index": 0, "part": {"type": part_type, "text": "Hi"}}
    event = decode_server_event(frame(body), mode)
    assert type(event) is ResponseContentPartDone and event.part.type == part_type.removeprefix("output_")
    assert event == codec._decode_general(frame(body))
