"""Malformed frames raise only `ProtocolError`, never another exception and never a silent wrong event
(Hypothesis: random bytes, random JSON, known types with random or wrongly typed fields, missing fields). Every
frame also goes through the general path alone: the typed fast path must give its event, or its error."""

import copy
import json

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from protohelpers import GA_REQUIRED_EXTRAS, GA_WIRE_EXAMPLES, SERVER_EXAMPLES

from rtaudiod.protocol import (SERVER_EVENT_TYPES, ProtocolError, UnknownEvent, decode_client_event,
                               decode_server_event)
from rtaudiod.protocol.codec import _decode_general
from rtaudiod.protocol.dialect import GA_SERVER_NAMES, server_event_to_wire

MODES = ["beta", "ga"]
WIRE_NAMES = sorted(set(SERVER_EVENT_TYPES) | set(GA_SERVER_NAMES.values()))
FIELD_NAMES = sorted({key for e in SERVER_EXAMPLES + GA_WIRE_EXAMPLES for key in e} | {
    "session", "response", "item", "part", "audio", "format", "input", "output", "content"})
WIRE_EXAMPLES = ([(f"beta:{e['type']}", e) for e in SERVER_EXAMPLES]
                 + [(f"ga:{e['type']}", server_event_to_wire(e, "ga") | GA_REQUIRED_EXTRAS.get(e["type"], {}))
                    for e in SERVER_EXAMPLES] + [(f"ga-hand:{e['type']}", e) for e in GA_WIRE_EXAMPLES])

json_scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), inner, max_size=5),
                           max_leaves=20)


def decode_or_protocol_error(data, mode):
    """The decode result, or None when it raised ProtocolError (any other exception fails the test); either way
    what the general path alone gives for the frame (the same class and values, or the same error)."""
    try:
        event = decode_server_event(data, mode)
    except ProtocolError as e:
        assert str(e)
        with pytest.raises(ProtocolError) as general:
            _decode_general(data)
        assert (str(general.value), general.value.event_type, general.value.path) == (str(e), e.event_type, e.path)
        return None
    assert isinstance(event, UnknownEvent) or type(event) in SERVER_EVENT_TYPES.values()
    general = _decode_general(data)
    assert type(general) is type(event) and general == event
    return event


def paths(value, prefix=()):
    """Every (path, value) inside a JSON value."""
    out = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.append((prefix + (k,), v))
            out += paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.append((prefix + (i,), v))
            out += paths(v, prefix + (i,))
    return out


def replaced(event, path, value=None, delete=False):
    event = copy.deepcopy(event)
    node = event
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return event


@pytest.mark.parametrize("mode", MODES)
@given(data=st.binary(max_size=300))
def test_random_bytes(data, mode):
    decode_or_protocol_error(data, mode)


@pytest.mark.parametrize("mode", MODES)
@given(value=json_values)
def test_random_json(value, mode):
    decode_or_protocol_error(json.dumps(value), mode)


@pytest.mark.parametrize("mode", MODES)
@given(name=st.sampled_from(WIRE_NAMES), fields=st.dictionaries(st.sampled_from(FIELD_NAMES), json_values,
                                                                  max_size=6))
def test_known_types_with_random_fields(name, fields, mode):
    decode_or_protocol_error(json.dumps({**fields, "type": name}).encode(), mode)


OBFUSCATED = [e | {"obfuscation": "Vk1x2"} for _, e in WIRE_EXAMPLES if e["type"].endswith(".delta")]


@pytest.mark.parametrize("mode", MODES)
@given(data=st.data(), example=st.sampled_from([e for _, e in WIRE_EXAMPLES] + OBFUSCATED))
def test_mutated_examples(data, example, mode):
    """Any field of a valid frame replaced by any JSON value, or deleted: an event or a ProtocolError."""
    path, _ = data.draw(st.sampled_from([p for p in paths(example) if p[0] != ("type",)]))
    if data.draw(st.booleans()):
        mutated = replaced(example, path, delete=True)
    else:
        mutated = replaced(example, path, data.draw(json_values))
    decode_or_protocol_error(json.dumps(mutated), mode)


WRONG = {str: [5, [], {}, True], int: ["5", [], {}, 1.5], list: ["x", 5, {}], dict: ["x", 5, []]}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("name", "example"), WIRE_EXAMPLES, ids=[n for n, _ in WIRE_EXAMPLES])
def test_top_level_fields_wrong_type_or_missing(name, example, mode):
    """Each required top-level field: missing, or of a wrong type -> ProtocolError naming the event and the field."""
    cls = SERVER_EVENT_TYPES[decode_server_event(json.dumps(example), mode).__struct_config__.tag]
    required = {f.encode_name for f in msgspec.structs.fields(cls) if f.required}
    assert required <= set(example)
    for field in required:
        with pytest.raises(ProtocolError) as info:
            decode_server_event(json.dumps(replaced(example, (field,), delete=True)), mode)
        assert info.value.path == f"$.{field}" and example["type"] in str(info.value) and field in str(info.value)
        for bad in WRONG.get(type(example[field]), []):
            if type(example[field]) is int and isinstance(bad, bool):
                continue
            with pytest.raises(ProtocolError) as info:
                decode_server_event(json.dumps(replaced(example, (field,), bad)), mode)
            assert info.value.path.startswith(f"$.{field}") and info.value.event_type == example["type"]


@pytest.mark.parametrize("mode", MODES)
def test_lone_surrogates_and_deep_nesting(mode):
    decode_or_protocol_error('{"type": "error", "error": {"message": "\ud800"}}', mode)
    decode_or_protocol_error("\ud800", mode)
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(ProtocolError):
        decode_server_event(deep, mode)
    with pytest.raises(ProtocolError):
        decode_server_event('{"type":"error","error":' + deep + "}", mode)


@given(value=json_values, name=st.sampled_from(["session.update", "conversation.item.create", "response.create",
                                                "conversation.item.truncate", "nope"]))
def test_client_decoder_raises_only_protocol_errors(value, name):
    for frame in (json.dumps(value), json.dumps({"type": name, "session": value, "item": value, "response": value})):
        try:
            event = decode_client_event(frame)
        except ProtocolError:
            continue
        assert isinstance(event, msgspec.Struct)
