"""Frames to events and events to frames (no I/O).

`decode_server_event` runs on the receive thread for every non-audio event, so it uses decoders built once. In the
beta dialect most events (deltas, input buffer, errors) take one typed msgspec decode straight into the tagged
union, since the internal model is the beta shape (~0.7 us for a transcript delta). Everything else, and every GA
frame, takes the general path: a plain JSON decode, the dialect table (names and nested shapes of either dialect),
then `msgspec.convert` into the event's Struct (~2.5 us). Only the general path decides between "unknown event"
and "malformed frame", so a frame the typed decode refuses is simply handed to it.
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
from .server_events import SERVER_EVENT_TYPES, ServerEvent, UnknownEvent

__all__ = ["Codec", "decode_client_event", "decode_server_event", "encode_client_event"]

#: events whose nested objects have another shape in GA (session, response, items, parts): the general path only
_SHAPED_SERVER = frozenset((
    "session.created", "session.updated", "response.created", "response.done", "conversation.item.created",
    "conversation.item.done", "conversation.item.retrieved", "response.output_item.added",
    "response.output_item.done", "response.content_part.added", "response.content_part.done"))
_raw_decoder = msgspec.json.Decoder()
#: the beta fast path: a typed decode of the events whose beta wire shape is the internal one, whatever the nesting
_beta_decoder = msgspec.json.Decoder(Union[tuple(cls for name, cls in SERVER_EVENT_TYPES.items()  # noqa: UP007
                                                 if name not in _SHAPED_SERVER)])
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


def _plain(frame: bytes | str) -> bytes | str:
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


def decode_server_event(frame: bytes | str, dialect: Dialect | str = Dialect.GA) -> ServerEvent | UnknownEvent:
    """One server frame as a `ServerEvent` Struct (internal names and shapes), or `UnknownEvent` for a type this
    layer does not know. Names and shapes of either dialect are accepted. Raises `ProtocolError` (and nothing
    else) for broken JSON, a non-object, a missing `type`, or a known event with missing or mistyped fields."""
    frame = _plain(frame)
    if as_dialect(dialect) is Dialect.BETA:
        try:
            return _beta_decoder.decode(frame)
        except (msgspec.ValidationError, msgspec.DecodeError, UnicodeError, RecursionError):
            pass  # a GA name, an unknown type or a malformed frame: the general path tells which
    return _decode_general(frame)


def encode_client_event(event: ClientEvent, dialect: Dialect | str = Dialect.GA) -> bytes:
    """The JSON frame of a client event in the dialect's wire shape (keys left unset are not sent)."""
    dialect = as_dialect(dialect)
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

    def decode(self, frame: bytes | str) -> ServerEvent | UnknownEvent:
        event = decode_server_event(frame, self.dialect)
        if type(event) is UnknownEvent:
            self.unknown[event.type] += 1
        return event

    def encode(self, event: ClientEvent) -> bytes:
        return encode_client_event(event, self.dialect)

    def __repr__(self) -> str:
        return f"Codec(dialect={self.dialect.value!r}, unknown={sum(self.unknown.values())})"
