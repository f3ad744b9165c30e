"""The two wire dialects and the table between them and the internal model.

The internal model is the beta (seed) shape and names; `ga` differs only at the wire edge:

| internal (= beta wire)                          | GA wire                                                   |
| ----------------------------------------------- | --------------------------------------------------------- |
| header `OpenAI-Beta: realtime=v1`               | no `OpenAI-Beta` header                                   |
| `response.audio.delta` / `.done`                | `response.output_audio.delta` / `.done`                   |
| `response.audio_transcript.delta` / `.done`     | `response.output_audio_transcript.delta` / `.done`        |
| `response.text.delta` / `.done`                 | `response.output_text.delta` / `.done`                    |
| `conversation.item.created`                     | `conversation.item.added` (GA also lists `.created`)      |
| (none)                                          | `conversation.item.done`                                  |
| (none: GA-only events keep their GA name)       | `conversation.item.input_audio_transcription.segment`,    |
|                                                 | `input_audio_buffer.dtmf_event_received`,                 |
|                                                 | `input_audio_buffer.timeout_triggered`,                   |
|                                                 | `mcp_list_tools.*`, `response.mcp_call*`                  |
| session: flat fields                            | `type: "realtime"`; `audio.input.{format, transcription,  |
|                                                 | noise_reduction, turn_detection}`, `audio.output.{format, |
|                                                 | voice, speed}`                                            |
| `input_audio_format: "pcm16"`                   | `{"type": "audio/pcm", "rate": 24000}`                    |
| `"g711_ulaw"` / `"g711_alaw"`                   | `{"type": "audio/pcmu"}` / `{"type": "audio/pcma"}`       |
| `modalities: ["text", "audio"]` / `["text"]`    | `output_modalities: ["audio"]` / `["text"]`               |
| `max_response_output_tokens` (session,          | `max_output_tokens`                                       |
| `response.create`)                              |                                                           |
| response: `voice`, `output_audio_format`        | `audio.output.{voice, format}`                            |
| assistant item parts `text` / `audio`           | `output_text` / `output_audio` (the `content_part` events |
|                                                 | keep `text` / `audio`)                                    |
| `tool_choice: "name"` (a string only)           | `tool_choice: {"type": "function", "name": ...}`          |
| (none: refused in beta, `ProtocolError`)        | session `reasoning`, `prompt`, `truncation`               |

Fields with no counterpart are dropped when writing that dialect: GA has no `temperature` (session, response) and
no session `id` in its session object; beta has no `turn_detection.idle_timeout_ms`, and GA takes only the fields
of the chosen VAD type (`server_vad`: threshold, prefix_padding_ms, silence_duration_ms, idle_timeout_ms;
`semantic_vad`: eagerness) and needs its `type` (`server_vad` when unset). The GA-only session fields a device sets
on purpose (`reasoning`, `prompt`, `truncation`) are refused in beta instead (`codec.encode_client_event`), since
dropping them would run a session other than the one configured. Client event names are the same in both.

Reading is lenient: event names and shapes of either dialect are accepted whatever the configured dialect (the
`*_from_wire` functions work by key, not by dialect). The nested shapes are in `shapes.py`. Everything here works
on plain JSON values and never raises: a value of the wrong type is passed through for the typed conversion to
report.
"""

from __future__ import annotations

import enum
from typing import Any

from .shapes import (PART_FROM_GA, item_from_wire, item_to_wire, response_from_wire, response_params_from_wire,
                     response_params_to_wire, response_to_wire, session_from_wire, session_to_wire)

__all__ = [
    "BETA_HEADER", "Dialect", "GA_SERVER_NAMES", "as_dialect", "client_event_from_wire", "client_event_to_wire",
    "server_event_from_wire", "server_event_to_wire", "server_name_from_wire", "server_name_to_wire",
]

#: The header that selects the beta shape (sent only in the beta dialect).
BETA_HEADER = ("OpenAI-Beta", "realtime=v1")


class Dialect(enum.StrEnum):
    BETA = "beta"
    GA = "ga"


_DIALECTS = {d.value: d for d in Dialect}


def as_dialect(dialect: Dialect | str) -> Dialect:
    """`dialect` as a `Dialect` ("beta" or "ga"); ValueError for anything else (never a silent default)."""
    try:
        return _DIALECTS[dialect]
    except (KeyError, TypeError):
        raise ValueError(f"dialect must be 'beta' or 'ga', not {dialect!r}") from None


#: internal server event name -> GA wire name (names not listed are the same in both dialects)
GA_SERVER_NAMES: dict[str, str] = {
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
    "conversation.item.created": "conversation.item.added",
}
_FROM_GA_NAMES = {wire: internal for internal, wire in GA_SERVER_NAMES.items()}

# ---- event names ---------------------------------------------------------------------------------------------
def server_name_to_wire(internal: str, dialect: Dialect | str) -> str:
    """The wire name of an internal server event name in `dialect` (ValueError for a misspelt dialect)."""
    return GA_SERVER_NAMES.get(internal, internal) if as_dialect(dialect) is Dialect.GA else internal


def server_name_from_wire(wire: str) -> str:
    """The internal name of a wire name of either dialect (unknown names come back unchanged)."""
    return _FROM_GA_NAMES.get(wire, wire)


# ---- whole events --------------------------------------------------------------------------------------------
_ITEM_EVENTS = ("conversation.item.created", "conversation.item.done", "conversation.item.retrieved",
                "response.output_item.added", "response.output_item.done")


def server_event_to_wire(event: dict[str, Any], dialect: Dialect | str) -> dict[str, Any]:
    """An internal server event (as builtins) in the dialect's wire shape (for tests, recordings, proxies)."""
    dialect = as_dialect(dialect)
    ga = dialect is Dialect.GA
    kind = event["type"]
    out = dict(event, type=server_name_to_wire(kind, dialect))
    if kind in ("session.created", "session.updated"):
        out["session"] = session_to_wire(event["session"], ga)
        if ga:
            out["session"].pop("id", None)
    elif kind in ("response.created", "response.done"):
        out["response"] = response_to_wire(event["response"], ga)
    elif kind in _ITEM_EVENTS:
        out["item"] = item_to_wire(event["item"], ga)
    if not ga and kind == "response.function_call_arguments.done":
        out.pop("name", None)
    return out


def server_event_from_wire(event: dict[str, Any]) -> dict[str, Any]:
    """A server event of either dialect (decoded JSON) in the internal shape, `type` included."""
    kind = server_name_from_wire(event["type"])
    out = dict(event, type=kind)
    if kind in ("session.created", "session.updated"):
        if "session" in out:
            out["session"] = session_from_wire(out["session"])
    elif kind in ("response.created", "response.done"):
        if "response" in out:
            out["response"] = response_from_wire(out["response"])
    elif kind in _ITEM_EVENTS:
        if "item" in out:
            out["item"] = item_from_wire(out["item"])
    elif kind in ("response.content_part.added", "response.content_part.done"):
        part = out.get("part")
        if isinstance(part, dict) and isinstance(part.get("type"), str) and part["type"] in PART_FROM_GA:
            out["part"] = dict(part, type=PART_FROM_GA[part["type"]])
    return out


def client_event_to_wire(event: dict[str, Any], dialect: Dialect | str) -> dict[str, Any]:
    """An internal client event (as builtins) in the dialect's wire shape."""
    ga = as_dialect(dialect) is Dialect.GA
    kind = event["type"]
    if kind == "session.update":  # a session read back from the server may be sent again: its `id` is not
        session = {k: v for k, v in event["session"].items() if k != "id"}
        return dict(event, session=session_to_wire(session, ga))
    if kind == "conversation.item.create":
        return dict(event, item=item_to_wire(event["item"], ga))
    if kind == "response.create" and "response" in event:
        return dict(event, response=response_params_to_wire(event["response"], ga))
    return event


def client_event_from_wire(event: dict[str, Any]) -> dict[str, Any]:
    """A client event of either dialect (decoded JSON) in the internal shape."""
    kind = event.get("type")
    if kind == "session.update" and "session" in event:
        session = session_from_wire(event["session"])
        if isinstance(session, dict):
            session.pop("type", None)
        return dict(event, session=session)
    if kind == "conversation.item.create" and "item" in event:
        return dict(event, item=item_from_wire(event["item"]))
    if kind == "response.create" and "response" in event:
        return dict(event, response=response_params_from_wire(event["response"]))
    return event
