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
| session: flat fields                            | `type: "realtime"`, `audio.input.{format, transcription, noise_reduction, turn_detection}`, `audio.output.{format, voice, speed}` |
| `input_audio_format: "pcm16"`                   | `{"type": "audio/pcm", "rate": 24000}`                    |
| `"g711_ulaw"` / `"g711_alaw"`                   | `{"type": "audio/pcmu"}` / `{"type": "audio/pcma"}`       |
| `modalities: ["text", "audio"]` / `["text"]`    | `output_modalities: ["audio"]` / `["text"]`               |
| `max_response_output_tokens` (session, response.create) | `max_output_tokens`                               |
| response: `voice`, `output_audio_format`        | `audio.output.{voice, format}`                            |
| assistant item parts `text` / `audio`           | `output_text` / `output_audio` (content_part events keep `text` / `audio`) |
| `tool_choice: "name"` (a string only)           | `tool_choice: {"type": "function", "name": ...}`          |

Fields with no counterpart are dropped when writing that dialect: GA has no `temperature` (session, response) and
no session `id` in its session object; beta has no `turn_detection.idle_timeout_ms`, and GA takes only the fields
of the chosen VAD type (`server_vad`: threshold, prefix_padding_ms, silence_duration_ms, idle_timeout_ms;
`semantic_vad`: eagerness) and needs its `type` (`server_vad` when unset). Client event names are the same in both.

Reading is lenient: event names and shapes of either dialect are accepted whatever the configured dialect (the
`*_from_wire` functions work by key, not by dialect). They work on plain JSON values and never raise: a value of
the wrong type is passed through for the typed conversion to report.
"""

from __future__ import annotations

import enum
from typing import Any

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

_FORMAT_TO_GA: dict[str, dict[str, Any]] = {
    "pcm16": {"type": "audio/pcm", "rate": 24000}, "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
_FORMAT_FROM_GA = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}
_PART_TO_GA = {"text": "output_text", "audio": "output_audio"}
_PART_FROM_GA = {ga: internal for internal, ga in _PART_TO_GA.items()}
_SERVER_VAD_KEYS = ("type", "threshold", "prefix_padding_ms", "silence_duration_ms", "create_response",
                    "interrupt_response", "idle_timeout_ms")
_SEMANTIC_VAD_KEYS = ("type", "eagerness", "create_response", "interrupt_response")


# ---- event names ---------------------------------------------------------------------------------------------
def server_name_to_wire(internal: str, dialect: Dialect | str) -> str:
    return GA_SERVER_NAMES.get(internal, internal) if dialect == Dialect.GA else internal


def server_name_from_wire(wire: str) -> str:
    """The internal name of a wire name of either dialect (unknown names come back unchanged)."""
    return _FROM_GA_NAMES.get(wire, wire)


# ---- small values --------------------------------------------------------------------------------------------
def _format_to_ga(name: Any) -> Any:
    fmt = _FORMAT_TO_GA.get(name) if isinstance(name, str) else None
    return dict(fmt) if fmt else name


def _format_from_wire(fmt: Any) -> Any:
    if isinstance(fmt, dict):
        kind = fmt.get("type")
        return _FORMAT_FROM_GA.get(kind, kind) if isinstance(kind, str) else fmt
    return fmt


def _modalities_to_ga(modalities: Any) -> Any:
    if isinstance(modalities, list):
        return ["audio"] if "audio" in modalities else ["text"]
    return modalities


def _modalities_from_ga(modalities: Any) -> Any:
    if isinstance(modalities, list) and "audio" in modalities:
        return ["text", "audio"]
    return modalities


def _tool_choice_to_wire(choice: Any, dialect: Dialect | str) -> Any:
    if isinstance(choice, dict) and "name" in choice:
        return {"type": "function", "name": choice["name"]} if dialect == Dialect.GA else choice["name"]
    return choice


def _tool_choice_from_wire(choice: Any) -> Any:
    """`{"type": "function", "name": n}` -> `{"name": n}`; another GA choice object (e.g. `mcp`) -> its type
    string (this layer does not model it, and must not fail a `session.updated` because of it)."""
    if isinstance(choice, dict):
        if choice.get("type") == "function" and "name" in choice:
            return {"name": choice["name"]}
        if isinstance(choice.get("type"), str):
            return choice["type"]
    return choice


def _voice_from_wire(voice: Any) -> Any:
    return voice.get("id", voice) if isinstance(voice, dict) else voice


def _turn_detection_to_wire(td: Any, dialect: Dialect | str) -> Any:
    if not isinstance(td, dict):
        return td
    if dialect != Dialect.GA:
        return {k: v for k, v in td.items() if k != "idle_timeout_ms"}
    td = {"type": "server_vad", **td}
    keys = _SEMANTIC_VAD_KEYS if td["type"] == "semantic_vad" else _SERVER_VAD_KEYS
    return {k: td[k] for k in keys if k in td}


def _rename(d: dict[str, Any], old: str, new: str) -> None:
    if old in d:
        d[new] = d.pop(old)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# ---- items ---------------------------------------------------------------------------------------------------
def _map_parts(item: Any, names: dict[str, str]) -> Any:
    if not isinstance(item, dict) or not isinstance(item.get("content"), list):
        return item
    content = [dict(p, type=names.get(p["type"], p["type"])) if isinstance(p, dict) and isinstance(p.get("type"), str)
               else p for p in item["content"]]
    return {**item, "content": content}


def item_to_wire(item: Any, dialect: Dialect | str) -> Any:
    return _map_parts(item, _PART_TO_GA) if dialect == Dialect.GA else item


def item_from_wire(item: Any) -> Any:
    return _map_parts(item, _PART_FROM_GA)


def _items_to_wire(items: Any, dialect: Dialect | str) -> Any:
    return [item_to_wire(i, dialect) for i in items] if isinstance(items, list) else items


def _items_from_wire(items: Any) -> Any:
    return [item_from_wire(i) for i in items] if isinstance(items, list) else items


# ---- session -------------------------------------------------------------------------------------------------
def session_to_wire(session: dict[str, Any], dialect: Dialect | str) -> dict[str, Any]:
    """An internal (flat) session object in the dialect's shape."""
    if dialect != Dialect.GA:
        out = dict(session)
        if "turn_detection" in out:
            out["turn_detection"] = _turn_detection_to_wire(out["turn_detection"], dialect)
        if "tool_choice" in out:
            out["tool_choice"] = _tool_choice_to_wire(out["tool_choice"], dialect)
        return out
    out: dict[str, Any] = {"type": "realtime"}
    for key in ("model", "instructions", "tools"):
        if key in session:
            out[key] = session[key]
    if "modalities" in session:
        out["output_modalities"] = _modalities_to_ga(session["modalities"])
    if "tool_choice" in session:
        out["tool_choice"] = _tool_choice_to_wire(session["tool_choice"], dialect)
    if "max_response_output_tokens" in session:
        out["max_output_tokens"] = session["max_response_output_tokens"]
    audio_in: dict[str, Any] = {}
    if "input_audio_format" in session:
        audio_in["format"] = _format_to_ga(session["input_audio_format"])
    if "input_audio_transcription" in session:
        audio_in["transcription"] = session["input_audio_transcription"]
    if "input_audio_noise_reduction" in session:
        audio_in["noise_reduction"] = session["input_audio_noise_reduction"]
    if "turn_detection" in session:
        audio_in["turn_detection"] = _turn_detection_to_wire(session["turn_detection"], dialect)
    audio_out: dict[str, Any] = {}
    if "output_audio_format" in session:
        audio_out["format"] = _format_to_ga(session["output_audio_format"])
    for key in ("voice", "speed"):
        if key in session:
            audio_out[key] = session[key]
    audio = {k: v for k, v in (("input", audio_in), ("output", audio_out)) if v}
    if audio:
        out["audio"] = audio
    return out


def session_from_wire(session: Any) -> Any:
    """A session object of either dialect in the internal (flat) shape."""
    if not isinstance(session, dict):
        return session
    out = dict(session)
    if "output_modalities" in out:
        out["modalities"] = _modalities_from_ga(out.pop("output_modalities"))
    _rename(out, "max_output_tokens", "max_response_output_tokens")
    if "tool_choice" in out:
        out["tool_choice"] = _tool_choice_from_wire(out["tool_choice"])
    if "voice" in out:
        out["voice"] = _voice_from_wire(out["voice"])
    audio = out.pop("audio", None)
    if isinstance(audio, dict):
        audio_in, audio_out = _dict(audio.get("input")), _dict(audio.get("output"))
        if "format" in audio_in:
            out["input_audio_format"] = _format_from_wire(audio_in["format"])
        for ga, internal in (("transcription", "input_audio_transcription"),
                             ("noise_reduction", "input_audio_noise_reduction"), ("turn_detection", "turn_detection")):
            if ga in audio_in:
                out[internal] = audio_in[ga]
        if "format" in audio_out:
            out["output_audio_format"] = _format_from_wire(audio_out["format"])
        if "voice" in audio_out:
            out["voice"] = _voice_from_wire(audio_out["voice"])
        if "speed" in audio_out:
            out["speed"] = audio_out["speed"]
    elif audio is not None:
        out["audio"] = audio  # not an object: leave it for the typed check (ignored as an unknown key)
    for key in ("input_audio_format", "output_audio_format"):
        if key in out:
            out[key] = _format_from_wire(out[key])
    return out


# ---- responses -----------------------------------------------------------------------------------------------
def response_params_to_wire(params: dict[str, Any], dialect: Dialect | str) -> dict[str, Any]:
    """`response.create`'s `response` object (internal shape) in the dialect's shape."""
    out = dict(params)
    if "tool_choice" in out:
        out["tool_choice"] = _tool_choice_to_wire(out["tool_choice"], dialect)
    if "input" in out:
        out["input"] = _items_to_wire(out["input"], dialect)
    if dialect != Dialect.GA:
        return out
    out.pop("temperature", None)
    _rename(out, "modalities", "output_modalities")
    if "output_modalities" in out:
        out["output_modalities"] = _modalities_to_ga(out["output_modalities"])
    _rename(out, "max_response_output_tokens", "max_output_tokens")
    audio_out: dict[str, Any] = {}
    if "output_audio_format" in out:
        audio_out["format"] = _format_to_ga(out.pop("output_audio_format"))
    if "voice" in out:
        audio_out["voice"] = out.pop("voice")
    if audio_out:
        out["audio"] = {"output": audio_out}
    return out


def _response_audio_from_wire(out: dict[str, Any]) -> None:
    audio = out.pop("audio", None)
    if isinstance(audio, dict):
        audio_out = _dict(audio.get("output"))
        if "format" in audio_out:
            out["output_audio_format"] = _format_from_wire(audio_out["format"])
        if "voice" in audio_out:
            out["voice"] = _voice_from_wire(audio_out["voice"])
    if "output_modalities" in out:
        out["modalities"] = _modalities_from_ga(out.pop("output_modalities"))
    if "output_audio_format" in out:
        out["output_audio_format"] = _format_from_wire(out["output_audio_format"])


def response_params_from_wire(params: Any) -> Any:
    if not isinstance(params, dict):
        return params
    out = dict(params)
    _response_audio_from_wire(out)
    _rename(out, "max_output_tokens", "max_response_output_tokens")
    if "tool_choice" in out:
        out["tool_choice"] = _tool_choice_from_wire(out["tool_choice"])
    if "input" in out:
        out["input"] = _items_from_wire(out["input"])
    return out


def response_to_wire(response: dict[str, Any], dialect: Dialect | str) -> dict[str, Any]:
    """A server response object (`response.created` / `.done`) in the dialect's shape."""
    out = dict(response)
    if "output" in out:
        out["output"] = _items_to_wire(out["output"], dialect)
    if dialect != Dialect.GA:
        return out
    out.pop("temperature", None)
    if "modalities" in out:
        out["output_modalities"] = _modalities_to_ga(out.pop("modalities"))
    audio_out: dict[str, Any] = {}
    if "output_audio_format" in out:
        audio_out["format"] = _format_to_ga(out.pop("output_audio_format"))
    if "voice" in out:
        audio_out["voice"] = out.pop("voice")
    if audio_out:
        out["audio"] = {"output": audio_out}
    return out


def response_from_wire(response: Any) -> Any:
    if not isinstance(response, dict):
        return response
    out = dict(response)
    _response_audio_from_wire(out)
    if "output" in out:
        out["output"] = _items_from_wire(out["output"])
    return out


# ---- whole events --------------------------------------------------------------------------------------------
_ITEM_EVENTS = ("conversation.item.created", "conversation.item.done", "conversation.item.retrieved",
                "response.output_item.added", "response.output_item.done")


def server_event_to_wire(event: dict[str, Any], dialect: Dialect | str) -> dict[str, Any]:
    """An internal server event (as builtins) in the dialect's wire shape (for tests, recordings, proxies)."""
    dialect = as_dialect(dialect)
    kind = event["type"]
    out = dict(event, type=server_name_to_wire(kind, dialect))
    if kind in ("session.created", "session.updated"):
        out["session"] = session_to_wire(event["session"], dialect)
        if dialect == Dialect.GA:
            out["session"].pop("id", None)
    elif kind in ("response.created", "response.done"):
        out["response"] = response_to_wire(event["response"], dialect)
    elif kind in _ITEM_EVENTS:
        out["item"] = item_to_wire(event["item"], dialect)
    if dialect != Dialect.GA and kind == "response.function_call_arguments.done":
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
        if isinstance(part, dict) and isinstance(part.get("type"), str) and part["type"] in _PART_FROM_GA:
            out["part"] = dict(part, type=_PART_FROM_GA[part["type"]])
    return out


def client_event_to_wire(event: dict[str, Any], dialect: Dialect | str) -> dict[str, Any]:
    """An internal client event (as builtins) in the dialect's wire shape."""
    dialect = as_dialect(dialect)
    kind = event["type"]
    if kind == "session.update":
        return dict(event, session=session_to_wire(event["session"], dialect))
    if kind == "conversation.item.create":
        return dict(event, item=item_to_wire(event["item"], dialect))
    if kind == "response.create" and "response" in event:
        return dict(event, response=response_params_to_wire(event["response"], dialect))
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
