"""Every member of the `openai` package's GA server-event union decodes into its own Struct, never `UnknownEvent`
(and every member of the beta union but the one named exception).

The members are enumerated from `openai.types.realtime.RealtimeServerEvent` (not listed here), so an event a new
openai release adds fails this test until rtaudiod types it. Each member gets two frames built from its pydantic
model: the smallest valid one (required fields only) and a full one (every optional field set, lists of one),
both validated strictly against the GA models first (`openai_schemas`), then fed to rtaudiod's decoder. The same
for every item type of the GA `ConversationItem` union, inside every event that carries an item.
"""

from __future__ import annotations

import json
import typing
from typing import Annotated, Any, Literal, Union

import msgspec
import pytest
from openai_schemas import validate_server_event
from pydantic import BaseModel

from rtaudiod.protocol import SERVER_EVENT_TYPES, Item, UnknownEvent, decode_server_event
from rtaudiod.protocol.dialect import server_name_from_wire


def members(union: Any) -> tuple:
    if typing.get_origin(union) is Annotated:
        union = typing.get_args(union)[0]
    return typing.get_args(union)


def ga_server_event_models() -> tuple[type[BaseModel], ...]:
    from openai.types.realtime import RealtimeServerEvent
    return members(RealtimeServerEvent)


def beta_server_event_models() -> tuple[type[BaseModel], ...]:
    from openai.types.beta.realtime import RealtimeServerEvent
    return members(RealtimeServerEvent)


def ga_item_models() -> tuple[type[BaseModel], ...]:
    from openai.types.realtime import ConversationItem
    return members(ConversationItem)


def wire_type(model: type[BaseModel]) -> str:
    return typing.get_args(model.model_fields["type"].annotation)[0]


def value_of(annotation: Any, full: bool, depth: int = 0) -> Any:
    """A valid JSON value of a pydantic annotation: a string, 0, the first literal, the first union member..."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        return value_of(args[0], full, depth)
    if origin is Literal:
        return args[0]
    if origin in (Union, getattr(__import__("types"), "UnionType", Union)):
        chosen = [a for a in args if a is not type(None)]
        return value_of(chosen[0], full, depth) if chosen else None
    if origin in (list, typing.List):  # noqa: UP006
        return [value_of(args[0], full, depth + 1)] if full and depth < 4 else []
    if origin in (dict, typing.Dict):  # noqa: UP006
        return {"key": value_of(args[1], full, depth + 1)} if full and depth < 4 else {}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return instance_of(annotation, full, depth + 1)
    return {bool: True, int: 1, float: 0.5, str: "x1", object: {}}.get(annotation, "x1")


def instance_of(model: type[BaseModel], full: bool, depth: int = 0) -> dict[str, Any]:
    """The smallest valid JSON object of `model` (required fields), or with every optional field set too."""
    out = {}
    for name, field in model.model_fields.items():
        if field.is_required() or (full and depth < 5):
            out[field.alias or name] = value_of(field.annotation, full, depth)
    return out


EVENT_MODELS = ga_server_event_models()
ITEM_MODELS = ga_item_models()
FRAMES = [(f"{wire_type(m)}-{'full' if full else 'min'}", instance_of(m, full))
          for m in EVENT_MODELS for full in (False, True)]


def test_the_union_is_enumerated_from_the_package():
    """46 types in openai 3.57; rtaudiod's table covers every one of their internal names (a guard against an
    enumeration that silently finds nothing)."""
    assert len(EVENT_MODELS) >= 46
    internal = {server_name_from_wire(wire_type(m)) for m in EVENT_MODELS}
    assert internal <= set(SERVER_EVENT_TYPES), sorted(internal - set(SERVER_EVENT_TYPES))


@pytest.mark.parametrize("mode", ["beta", "ga"])
@pytest.mark.parametrize(("name", "frame"), FRAMES, ids=[n for n, _ in FRAMES])
def test_every_ga_server_event_decodes_into_its_struct(name, frame, mode):
    validate_server_event(frame, "ga")  # the frame is valid GA, as the service may send it
    event = decode_server_event(json.dumps(frame), mode)
    assert type(event) is not UnknownEvent, f"{frame['type']} is not typed by rtaudiod.protocol"
    assert type(event) is SERVER_EVENT_TYPES[server_name_from_wire(frame["type"])]
    assert event.event_id == frame.get("event_id", "")


#: Beta events rtaudiod does not model, and why (an event the beta union gains fails the test below).
BETA_NOT_MODELLED = {
    "transcription_session.updated": "sent only on a transcription session (`intent=transcription`), which rtaudiod "
                                     "never opens; it would arrive as an UnknownEvent, counted",
}
BETA_FRAMES = [(f"{wire_type(m)}-{'full' if full else 'min'}", instance_of(m, full))
               for m in beta_server_event_models() if wire_type(m) not in BETA_NOT_MODELLED for full in (False, True)]


def test_the_beta_union_is_modelled_but_for_the_named_exceptions():
    wire = {wire_type(m) for m in beta_server_event_models()}
    assert set(BETA_NOT_MODELLED) <= wire and len(wire) >= 34
    assert wire - set(BETA_NOT_MODELLED) <= set(SERVER_EVENT_TYPES)


@pytest.mark.parametrize(("name", "frame"), BETA_FRAMES, ids=[n for n, _ in BETA_FRAMES])
def test_every_beta_server_event_decodes_into_its_struct(name, frame):
    validate_server_event(frame, "beta")
    event = decode_server_event(json.dumps(frame), "beta")
    assert type(event) is SERVER_EVENT_TYPES[frame["type"]]


#: GA events that carry one conversation item, with the fields each needs beside it
ITEM_EVENTS = {
    "conversation.item.added": {"previous_item_id": None},
    "conversation.item.created": {"previous_item_id": "item_0"},
    "conversation.item.done": {},
    "conversation.item.retrieved": {},
    "response.output_item.added": {"response_id": "resp_1", "output_index": 0},
    "response.output_item.done": {"response_id": "resp_1", "output_index": 0},
}
ITEMS = [(f"{wire_type(m)}-{'full' if full else 'min'}", instance_of(m, full))
         for m in ITEM_MODELS for full in (False, True)]


def test_the_item_union_has_the_mcp_items():
    assert {"mcp_call", "mcp_list_tools", "mcp_approval_request", "mcp_approval_response"} <= \
        {wire_type(m) for m in ITEM_MODELS}


@pytest.mark.parametrize("event_type", sorted(ITEM_EVENTS))
@pytest.mark.parametrize(("name", "item"), ITEMS, ids=[n for n, _ in ITEMS])
def test_every_ga_item_type_decodes_with_its_fields(name, item, event_type):
    """Each item type of the GA union, in each event that carries an item: typed into `Item` with every field
    kept (the part types of messages are mapped to the internal names, so messages are compared by type only)."""
    frame = {"type": event_type, "event_id": "event_1", **ITEM_EVENTS[event_type], "item": item}
    validate_server_event(frame, "ga")
    event = decode_server_event(json.dumps(frame), "ga")
    assert type(event) is SERVER_EVENT_TYPES[server_name_from_wire(event_type)]
    assert isinstance(event.item, Item) and event.item.type == item["type"]
    if item["type"] != "message":
        assert msgspec.to_builtins(event.item) == item, "a field of the item was dropped"


def test_an_mcp_call_error_and_the_listed_tools_are_typed():
    from openai.types.realtime import RealtimeMcpListTools, RealtimeMcpToolCall
    call = instance_of(RealtimeMcpToolCall, full=True)
    call["error"] = {"type": "protocol_error", "code": -32600, "message": "Invalid Request"}
    listed = instance_of(RealtimeMcpListTools, full=True)
    for item in (call, listed):
        frame = {"type": "conversation.item.done", "event_id": "e", "item": item}
        validate_server_event(frame, "ga")
        decoded = decode_server_event(json.dumps(frame), "ga").item
        if item is call:
            assert decoded.error.type == "protocol_error" and decoded.error.code == -32600
            assert decoded.server_label == call["server_label"] and decoded.output == call["output"]
        else:
            assert decoded.tools[0].name == listed["tools"][0]["name"]
            assert decoded.tools[0].input_schema == listed["tools"][0]["input_schema"]
