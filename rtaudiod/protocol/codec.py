"""Frames to events and events to frames (no I/O).

`decode_server_event` runs on the receive thread for every non-audio event, so it uses decoders built once. Events
whose wire shape is the internal one in both dialects (deltas, input buffer, transcription, function calls,
content parts, output buffer, errors, rate limits) take one typed msgspec decode straight into the tagged union,
under the names of either dialect, whatever the configured one (a transcript delta: 0.7 us GA, 0.6 us beta,
against 1.8 us on the general path; best runs of benchmarks/bench_protocol.py on the 2-core VM).
A msgspec class has one tag, so each GA name (`response.output_audio_transcript.delta`) is in the union as a
decode-only subclass of the internal class (`ResponseAudioTranscriptDelta`), with no fields of its own, and the
decoded event gets the internal class back by `event.__class__ = ...` (same layout, so CPython allows it; ~0.05 us;
the event ends up GC-tracked). Measured alternatives on a GA transcript delta: rewriting the frame's leading type to
the beta name first costs ~0.5 us more (slice, lookup and copy of the frame); copying the fields into a new
internal struct (`msgspec.convert(from_attributes=True)`, or keywords) ~1.3 us more, about the general path's cost.
A content-part event whose part is typed by its GA item name (`output_text`) goes to the general path, which maps it.

Everything else takes the general path: a plain JSON decode, the dialect table (names and nested shapes of either
dialect), then `msgspec.convert` into the event's Struct. These are the session, response and item events (their
nested objects have another shape in GA) and unknown types, each after a refused typed decode (~1 us: a
`response.done` takes 8.2 us against 7.2 us on the general path alone; a few such events per response, against
dozens of deltas). Only the general path decides between "unknown event" and "malformed frame", so a frame the
typed decode refuses is simply handed to it; the two paths give equal events (tests/protocol check it).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Union

import msgspec

from . import dialect as _dialect
from .client_events import CLIENT_EVENT_TYPES, ClientEvent, ConversationItemCreate, ResponseCreate, SessionUpdate
from .dialect import Dialect, as_dialect
from .errors import ProtocolError
from .server_events import (SERVER_EVENT_TYPES, ResponseContentPartAdded, ResponseContentPartDone, ServerEvent,
                            UnknownEvent)
from .shapes import GA_ONLY_SESSION_FIELDS, PART_FROM_GA

__all__ = ["Codec", "decode_client_event", "decode_server_event", "encode_client_event"]

#: events whose nested objects have another shape in GA (session, response, items): the general path only
_SHAPED_SERVER = frozenset((
    "session.created", "session.updated", "response.created", "response.done", "conversation.item.created",
    "conversation.item.done", "conversation.item.retrieved", "response.output_item.added",
    "response.output_item.done"))
#: same shape in both dialects unless a part is typed by its GA item name (`output_text`: the general path maps it)
_PART_EVENTS = (ResponseContentPartAdded, ResponseContentPartDone)
_raw_decoder = msgspec.json.Decoder()


def _ga_named(internal: str) -> type:
    """The decode-only subclass of an internal class under its GA name (no fields of its own: same layout)."""
    cls = SERVER_EVENT_TYPES[internal]
    return msgspec.defstruct(cls.__name__, (), bases=(cls,), tag=_dialect.GA_SERVER_NAMES[internal],
                             module=__name__)


_TYPED = [cls for name, cls in SERVER_EVENT_TYPES.items() if name not in _SHAPED_SERVER]
#: GA-named subclass -> the internal class the decoded event is switched back to
_INTERNAL_OF = {_ga_named(name): cls for name, cls in SERVER_EVENT_TYPES.items()
                if name in _dialect.GA_SERVER_NAMES and name not in _SHAPED_SERVER}
#: the fast path: a typed decode of every event whose wire shape is the internal one, under the names of both dialects
_typed_decoder = msgspec.json.Decoder(Union[tuple(_TYPED + list(_INTERNAL_OF))])  # noqa: UP007
_encoder = msgspec.json.Encoder()
#: client events whose nested objects differ between the dialects (the others encode as they are)
_SHAPED_CLIENT = (SessionUpdate, ConversationItemCreate, ResponseCreate)
_AT = re.compile(r" - at `(\$[^`]*)`$")
_MISSING = re.compile(r"missing required field `([^`]*)`")


def _fail(message: str, event_type: str | None = None, path: str | None = None) -> ProtocolError:
    return ProtocolError(message, event_type=event_type, path=path)


def _validation_error(kind: str, error: msgspec.ValidationError) -> ProtocolError:
    text = str(error)
    at = _AT.search(text)
    path = at.group(1) if at else "$"
    missing = _MISSING.search(text)
    if missing:
        path = f"{path}.{missing.group(1)}"
    return _fail(f"malformed {kind} event: {text}", kind, path)


def _plain(frame: bytes | bytearray | memoryview | str) -> bytes | bytearray | memoryview | str:
    """msgspec decodes str and bytes-like objects but refuses str subclasses: those become plain str."""
    return str(frame) if type(frame) is not str and isinstance(frame, str) else frame


def _load(frame: bytes | str, what: str) -> dict[str, Any]:
    """The frame as a JSON object with a string `type`, or ProtocolError."""
    frame = _plain(frame)
    try:
        obj = _raw_decoder.decode(frame)
    except (msgspec.DecodeError, UnicodeError, RecursionError) as e:
        raise _fail(f"{what} frame is not valid JSON: {e}") from None
    if not isinstance(obj, dict):
        raise _fail(f"{what} frame is not a JSON object (got {type(obj).__name__})")
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise _fail(f"{what} event has no string 'type' field", path="$.type")
    return obj


def _decode_general(frame: bytes | str) -> Any:
    obj = _load(frame, "server")
    wire_type = obj["type"]
    cls = SERVER_EVENT_TYPES.get(_dialect.server_name_from_wire(wire_type))
    if cls is None:
        return UnknownEvent(type=wire_type, raw=obj)
    try:
        internal = _dialect.server_event_from_wire(obj)
    except (TypeError, AttributeError, KeyError) as e:  # a mapping bug must not kill the receive thread
        raise _fail(f"cannot map {wire_type} event: {e!r}", wire_type) from e
    try:
        return msgspec.convert(internal, cls)
    except msgspec.ValidationError as e:
        raise _validation_error(wire_type, e) from None


def decode_server_event(frame: bytes | bytearray | memoryview | str,
                        dialect: Dialect | str = Dialect.GA) -> ServerEvent | UnknownEvent:
    """One server frame as a `ServerEvent` Struct (internal names and shapes), or `UnknownEvent` for a type this
    layer does not know. Names and shapes of either dialect are accepted whatever `dialect` says (it is only
    checked). Raises `ProtocolError` (and nothing else) for broken JSON, a non-object, a missing `type`, or a known
    event with missing or mistyped fields."""
    as_dialect(dialect)
    frame = _plain(frame)
    try:
        event = _typed_decoder.decode(frame)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeError, RecursionError):
        return _decode_general(frame)  # shaped or unknown type, or a malformed frame: the general path tells which
    internal = _INTERNAL_OF.get(type(event))
    if internal is not None:
        event.__class__ = internal
    elif type(event) in _PART_EVENTS and event.part.type in PART_FROM_GA:
        return _decode_general(frame)
    return event


def _refuse_ga_only(event: SessionUpdate) -> None:
    """A beta `session.update` setting a field only GA has: refused, not silently dropped (the device asked for
    it; without it the session would behave otherwise than configured)."""
    for key in GA_ONLY_SESSION_FIELDS:
        if getattr(event.session, key) is not msgspec.UNSET:
            raise _fail(f"session.{key} exists only in the GA dialect (the beta session has no such field): "
                        f"leave it unset or use dialect 'ga'", "session.update", f"$.session.{key}")
    for i, tool in enumerate(event.session.tools or ()):
        if tool.type == "mcp":
            raise _fail("MCP tools exist only in the GA dialect (the beta session has function tools only)",
                        "session.update", f"$.session.tools[{i}].type")


def _refuse_ga_only_parts(event: ConversationItemCreate) -> None:
    """A beta item with what only GA has: an image part, or an MCP item (the beta item has neither)."""
    item = event.item
    if isinstance(item.type, str) and item.type.startswith("mcp_"):
        raise _fail(f"{item.type} items exist only in the GA dialect", "conversation.item.create", "$.item.type")
    for i, part in enumerate(item.content or ()):
        if part.type == "input_image":
            raise _fail("input_image exists only in the GA dialect (the beta session takes no images)",
                        "conversation.item.create", f"$.item.content[{i}].type")


def encode_client_event(event: ClientEvent, dialect: Dialect | str = Dialect.GA) -> bytes:
    """The JSON frame of a client event in the dialect's wire shape (keys left unset are not sent). Raises
    `ProtocolError` for a beta `session.update` that sets a GA-only field (`reasoning`, `prompt`, `truncation`,
    an MCP tool) and a beta `conversation.item.create` of an image or an MCP item."""
    dialect = as_dialect(dialect)
    if dialect is Dialect.BETA and type(event) is SessionUpdate:
        _refuse_ga_only(event)
    elif dialect is Dialect.BETA and type(event) is ConversationItemCreate:
        _refuse_ga_only_parts(event)
    if isinstance(event, _SHAPED_CLIENT):
        return _encoder.encode(_dialect.client_event_to_wire(msgspec.to_builtins(event), dialect))
    return _encoder.encode(event)


def decode_client_event(frame: bytes | str) -> ClientEvent:
    """A client frame of either dialect back into its Struct (round trips, recordings); `ProtocolError` for
    anything that is not one of the 9 client events."""
    obj = _load(frame, "client")
    kind = obj["type"]
    cls = CLIENT_EVENT_TYPES.get(kind)
    if cls is None:
        raise _fail(f"unknown client event type {kind!r}", kind, "$.type")
    try:
        internal = _dialect.client_event_from_wire(obj)
    except (TypeError, AttributeError, KeyError) as e:
        raise _fail(f"cannot map {kind} event: {e!r}", kind) from e
    try:
        return msgspec.convert(internal, cls)
    except msgspec.ValidationError as e:
        raise _validation_error(kind, e) from None


class Codec:
    """One connection's codec: the dialect, and counts of the unknown server event types seen (the caller logs
    them; `unknown` is a Counter by wire type)."""

    def __init__(self, dialect: Dialect | str) -> None:
        self.dialect = Dialect(dialect)
        self.unknown: Counter[str] = Counter()

    def decode(self, frame: bytes | bytearray | memoryview | str) -> ServerEvent | UnknownEvent:
        event = decode_server_event(frame, self.dialect)
        if type(event) is UnknownEvent:
            self.unknown[event.type] += 1
        return event

    def encode(self, event: ClientEvent) -> bytes:
        return encode_client_event(event, self.dialect)

    def __repr__(self) -> str:
        return f"Codec(dialect={self.dialect.value!r}, unknown={sum(self.unknown.values())})"
