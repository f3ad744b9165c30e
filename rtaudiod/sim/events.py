"""What both dialects share: ids, the session's internal settings, and the interface a dialect implements.

The session logic (`session.py`) works on one internal model: settings as a plain dict (`default_settings()`), items
and responses as dicts in the shapes documented below. A dialect (`beta.py`, `ga.py`) validates client events and
renders server events in its own wire shape. Internal event names are the beta names; a dialect maps them.

Internal item: `{"id", "type": "message"|"function_call"|"function_call_output", "status", "role",
"content": [{"type": "input_text"|"input_audio"|"output_text"|"output_audio", "text"?, "transcript"?}],
"call_id", "name", "arguments", "output"}` (only the keys of its type).
"""

import secrets
import string as _string
from typing import Any

from .validate import Rule, SimError, integer, nullable, obj, string

_ALPHABET = _string.ascii_letters + _string.digits

#: Models the simulator accepts in the `model` query parameter (the service answers others with an error).
KNOWN_MODELS = (
    "gpt-realtime", "gpt-realtime-2025-08-28", "gpt-realtime-mini", "gpt-realtime-mini-2025-10-06",
    "gpt-4o-realtime-preview", "gpt-4o-realtime-preview-2024-10-01", "gpt-4o-realtime-preview-2024-12-17",
    "gpt-4o-realtime-preview-2025-06-03", "gpt-4o-mini-realtime-preview", "gpt-4o-mini-realtime-preview-2024-12-17",
)


#: Built-in voices. GA: `openai.types.realtime.realtime_audio_config_output` ("Supported built-in voices are
#: alloy, ash, ballad, coral, echo, sage, shimmer, verse, marin, and cedar"); beta:
#: `openai.types.beta.realtime.session` (the first eight only). Another name is refused with `invalid_value`.
#: (GA custom voice objects, `{"id": "voice_..."}`, are not simulated: they are refused as `invalid_type`.)
VOICES_BETA = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse")
VOICES_GA = VOICES_BETA + ("marin", "cedar")
#: Client-set item ids are at most 32 characters (GA service capture, issue 7 brief: a 36-character UUID is
#: refused with `string_above_max_length`); the service's own ids (`item_` + 21) are 26.
ITEM_ID_MAX = 32
#: A client event's `event_id` is at most 512 characters (the OpenAI API spec: `event_id` has `maxLength: 512`).
EVENT_ID_MAX = 512


def new_id(prefix: str) -> str:
    """An id shaped like the service's: `event_`, `item_`, `resp_`, `sess_`, `call_` + 21 letters/digits."""
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(21))


def default_settings(model: str) -> dict[str, Any]:
    """The service's session defaults, in the internal model shared by both dialects."""
    return {
        "model": model,
        "audio": True,                  # respond with audio + transcript (else text only)
        "instructions": "You are a helpful assistant.",
        "voice": "alloy",
        "input_format": "pcm16",
        "output_format": "pcm16",
        "transcription": None,          # {"model", "language"?, "prompt"?} or None
        "noise_reduction": None,
        "turn_detection": {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                           "silence_duration_ms": 500, "create_response": True, "interrupt_response": True},
        "tools": [],
        "tool_choice": "auto",
        "temperature": 0.8,
        "max_output_tokens": "inf",
        "speed": 1.0,
    }


class Dialect:
    """Wire shapes of one dialect. Subclasses fill in the tables and the renderers."""

    name = ""
    #: internal (beta) server event name -> wire name
    names: dict[str, str] = {}
    #: client event type -> rule validating the whole event
    client_rules: dict[str, Rule] = {}

    def wire(self, internal_name: str) -> str:
        return self.names.get(internal_name, internal_name)

    def initial_settings(self, model: str) -> dict[str, Any]:
        return default_settings(model)

    def apply_session(self, settings: dict[str, Any], session: dict[str, Any]) -> dict[str, Any]:
        """Merge a validated `session.update` payload into a copy of `settings`."""
        raise NotImplementedError

    def render_session(self, settings: dict[str, Any], session_id: str, expires_at: int) -> dict[str, Any]:
        raise NotImplementedError

    def finish(self, event: dict[str, Any]) -> dict[str, Any]:
        """Last touch on an outgoing event in the wire shape (keys the service adds; GA: `obfuscation`)."""
        return event

    def parse_item(self, item: dict[str, Any]) -> dict[str, Any]:
        """A validated client item (from `conversation.item.create`) in the internal shape."""
        raise NotImplementedError

    def render_item(self, item: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def response_overrides(self, params: dict[str, Any]) -> dict[str, Any]:
        """Settings a validated `response.create` `response` object overrides for one response."""
        raise NotImplementedError

    def render_response(self, response: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def item_added(self, item: dict[str, Any], previous_item_id: str | None) -> list[dict[str, Any]]:
        """Events announcing a new conversation item (beta `created`; GA `added`)."""
        raise NotImplementedError

    def item_done(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        """Events for an item that is complete (GA `conversation.item.done`; nothing in beta)."""
        raise NotImplementedError

    def transcription_segments(self, model: str, item_id: str, transcript: str,
                               ms: float) -> list[dict[str, Any]]:
        """Events labelling the speakers of a transcript, sent before its `.completed` (GA's diarizing models;
        beta has no such event)."""
        return []


def render_message_content(part: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """One content part on the wire; `names` maps the internal output part types to the dialect's."""
    kind = part["type"]
    out: dict[str, Any] = {"type": names.get(kind, kind)}
    if kind in ("input_text", "output_text"):
        out["text"] = part.get("text", "")
    elif kind == "input_image":
        out["image_url"] = part.get("image_url", "")
    else:
        out["transcript"] = part.get("transcript")
    return out


def render_item_common(item: dict[str, Any], content_names: dict[str, str]) -> dict[str, Any]:
    """The item fields both dialects share (they differ only in assistant content part names)."""
    out: dict[str, Any] = {"id": item["id"], "object": "realtime.item", "type": item["type"],
                           "status": item["status"]}
    if item["type"] == "message":
        out["role"] = item["role"]
        out["content"] = [render_message_content(p, content_names) for p in item["content"]]
    elif item["type"] == "function_call":
        out.update(call_id=item["call_id"], name=item["name"], arguments=item["arguments"])
    else:
        out.update(call_id=item["call_id"], output=item["output"])
    return out


def usage_dict(usage: dict[str, int]) -> dict[str, Any]:
    """Usage in the service's shape from internal counts (text_in, audio_in, text_out, audio_out)."""
    tin, ain, tout, aout = usage["text_in"], usage["audio_in"], usage["text_out"], usage["audio_out"]
    return {
        "total_tokens": tin + ain + tout + aout,
        "input_tokens": tin + ain,
        "output_tokens": tout + aout,
        "input_token_details": {"text_tokens": tin, "audio_tokens": ain, "cached_tokens": 0},
        "output_token_details": {"text_tokens": tout, "audio_tokens": aout},
    }


def client_rules(session: Rule, item: Rule, response: Rule) -> dict[str, Rule]:
    """Rules for every client event the simulator serves over WebSocket, given the dialect's own parts."""
    base = {"type": string(), "event_id": string(EVENT_ID_MAX)}
    return {
        "session.update": obj({**base, "session": session}, required=("session",)),
        "input_audio_buffer.append": obj({**base, "audio": string()}, required=("audio",)),
        "input_audio_buffer.commit": obj(base),
        "input_audio_buffer.clear": obj(base),
        "conversation.item.create": obj({**base, "previous_item_id": nullable(string()), "item": item},
                                        required=("item",)),
        "conversation.item.retrieve": obj({**base, "item_id": string()}, required=("item_id",)),
        "conversation.item.delete": obj({**base, "item_id": string()}, required=("item_id",)),
        "conversation.item.truncate": obj({**base, "item_id": string(), "content_index": integer(0),
                                           "audio_end_ms": integer(0)},
                                          required=("item_id", "content_index", "audio_end_ms")),
        "response.create": obj({**base, "response": response}),
        "response.cancel": obj({**base, "response_id": string()}),
    }


def parse_item_common(item: dict[str, Any], user_parts: tuple[str, ...], assistant_parts: dict[str, str],
                      path: str = "item") -> dict[str, Any]:
    """Check an item's semantics and convert it to the internal shape.

    `assistant_parts` maps the dialect's assistant part names to the internal ones."""
    kind = item["type"]
    out: dict[str, Any] = {"id": item.get("id") or new_id("item"), "type": kind, "status": "completed"}

    def need(field: str) -> Any:
        if field not in item:
            raise SimError("missing_required_parameter", f"Missing required parameter: '{path}.{field}'.",
                           f"{path}.{field}")
        return item[field]

    if kind == "message":
        role = need("role")
        content = need("content")
        allowed = {"user": user_parts, "system": ("input_text",), "assistant": tuple(assistant_parts)}[role]
        parts = []
        for i, part in enumerate(content):
            ptype = part.get("type")
            if ptype not in allowed:
                raise SimError("invalid_value",
                               f"Invalid value: {ptype!r}. Supported values for a {role} message are: "
                               + ", ".join(repr(a) for a in allowed) + ".", f"{path}.content[{i}].type")
            internal = assistant_parts.get(ptype, ptype) if role == "assistant" else ptype
            if internal == "output_audio":
                # "it cannot populate assistant audio messages" (`conversation.item.create` in both dialects'
                # openai models)
                raise SimError("invalid_value", f"Invalid value: {ptype!r}. conversation.item.create cannot "
                               "populate assistant audio messages; use a text part.", f"{path}.content[{i}].type")
            parts.append({"type": internal, "text": part.get("text", ""),
                          "transcript": part.get("transcript"), "audio": part.get("audio"),
                          "image_url": part.get("image_url")})
        out.update(role=role, content=parts)
    elif kind == "function_call":
        out.update(name=need("name"), arguments=need("arguments"), call_id=item.get("call_id") or new_id("call"))
    else:
        out.update(call_id=need("call_id"), output=need("output"))
    return out
