"""The GA dialect (the current service): `session.type: "realtime"`, audio settings under `session.audio`,
format objects, `output_modalities`, `max_output_tokens`, `response.output_audio.delta`,
`conversation.item.added`/`.done`. Reference: `openai.types.realtime`."""

import base64
import binascii
import re
import secrets
import string as _string
from typing import Any

from . import events, mcp
from .beta import merge_turn_detection
from .validate import (SimError, anything, array, boolean, either, enum, integer, nullable, number, obj, string,
                       tagged)

FORMAT = obj({"type": enum("audio/pcm", "audio/pcmu", "audio/pcma"), "rate": enum(24000)}, required=("type",))
FORMAT_NAMES = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}
MODALITIES = array(enum("text", "audio"))
TOOL = mcp.tool_rule(obj({"type": enum("function"), "name": string(), "description": string(),
                          "parameters": anything()}, required=("name",)))
TOOL_CHOICE = either(enum("none", "auto", "required"),
                     obj({"type": enum("function"), "name": string()}, required=("type", "name")))
MAX_TOKENS = either(integer(1, 4096), enum("inf"))
_TD_COMMON = {"type": enum("server_vad", "semantic_vad"), "create_response": boolean(),
              "interrupt_response": boolean()}
# GA's `server_vad` and `semantic_vad` are two objects with their own fields (`openai.types.realtime.
# realtime_audio_input_turn_detection`: `ServerVad` has threshold, prefix_padding_ms, silence_duration_ms,
# idle_timeout_ms; `SemanticVad` has eagerness): a field of the other type is `unknown_parameter`, as the service
# refuses it (GA service capture, issue 7 brief), not silently dropped.
TURN_DETECTION = nullable(tagged("type", {
    "server_vad": obj({**_TD_COMMON, "threshold": number(0.0, 1.0), "prefix_padding_ms": integer(0),
                       "silence_duration_ms": integer(0), "idle_timeout_ms": nullable(integer(5000, 30000))}),
    "semantic_vad": obj({**_TD_COMMON, "eagerness": enum("low", "medium", "high", "auto")}),
}))
VOICE = enum(*events.VOICES_GA)
TRANSCRIPTION = nullable(obj({"model": string(), "language": string(), "prompt": string()}))
NOISE_REDUCTION = nullable(obj({"type": enum("near_field", "far_field")}))
# The session fields of GA's reasoning models and prompt templates (`openai.types.realtime.
# realtime_session_create_request_param`): accepted, not simulated, not echoed back.
REASONING = obj({"effort": enum("minimal", "low", "medium", "high", "xhigh")})
PROMPT = nullable(obj({"id": string(), "version": nullable(string()), "variables": nullable(anything())},
                      required=("id",)))
_RETENTION = obj({"type": enum("retention_ratio"), "retention_ratio": number(0.0, 1.0),
                  "token_limits": obj({"post_instructions": integer(0)})}, required=("type", "retention_ratio"))
_TRUNCATION_MODE = enum("auto", "disabled")


def _truncation(value: Any, path: str) -> Any:
    """`"auto"`, `"disabled"`, or a `retention_ratio` object (each refused with its own error)."""
    return (_RETENTION if isinstance(value, dict) else _TRUNCATION_MODE)(value, path)


TRUNCATION = _truncation


#: Transcription models that label speakers, and so send `...input_audio_transcription.segment` (openai
#: `AudioTranscription.model`: "Use `gpt-4o-transcribe-diarize` when you need diarization with speaker labels").
DIARIZING_MODELS = ("gpt-4o-transcribe-diarize",)

AUDIO = obj({
    "input": obj({"format": FORMAT, "transcription": TRANSCRIPTION, "noise_reduction": NOISE_REDUCTION,
                  "turn_detection": TURN_DETECTION}),
    "output": obj({"format": FORMAT, "voice": VOICE, "speed": number(0.25, 1.5)}),
})
SESSION = obj({
    "type": enum("realtime"), "model": string(), "output_modalities": MODALITIES, "instructions": string(),
    "audio": AUDIO, "tools": array(TOOL), "tool_choice": TOOL_CHOICE, "max_output_tokens": MAX_TOKENS,
    # accepted and not simulated (not echoed back):
    "tracing": anything(), "include": anything(), "reasoning": REASONING, "prompt": PROMPT,
    "truncation": TRUNCATION, "parallel_tool_calls": boolean(),
}, required=("type",))

CONTENT = obj({"type": enum("input_text", "input_audio", "input_image", "output_text", "output_audio"),
               "text": string(), "audio": string(), "transcript": nullable(string()), "image_url": string(),
               "detail": enum("auto", "low", "high")})
ITEM = obj({"id": string(events.ITEM_ID_MAX), "type": enum("message", "function_call", "function_call_output",
                                                           "mcp_approval_response"),
            "approval_request_id": string(), "approve": anything(), "reason": nullable(string()),
            "object": enum("realtime.item"), "status": enum("completed", "incomplete", "in_progress"),
            "role": enum("user", "assistant", "system"), "content": array(CONTENT), "call_id": string(),
            "name": string(), "arguments": string(), "output": string()}, required=("type",))
ITEM_OR_REFERENCE = either(ITEM, obj({"type": enum("item_reference"), "id": string()}, required=("type", "id")))

RESPONSE = obj({
    "output_modalities": MODALITIES, "instructions": string(),
    "audio": obj({"output": obj({"format": FORMAT, "voice": VOICE})}),
    "tools": array(TOOL), "tool_choice": TOOL_CHOICE, "max_output_tokens": MAX_TOKENS,
    "conversation": enum("auto", "none"), "metadata": anything(), "input": array(ITEM_OR_REFERENCE),
    "prompt": anything(),
})

ASSISTANT_PARTS = {"output_text": "output_text", "output_audio": "output_audio"}
#: Deltas the GA service pads with an `obfuscation` string (a random-length filler against size side channels):
#: `response.output_audio_transcript.delta` (GA service capture in a public SIP gateway's notes, 2025-12:
#: `"delta":"The","obfuscation":"LBqdwEYsSEHbF"`), `response.output_audio.delta` (GA service capture, issue 7
#: brief), and `response.output_text.delta` (the same text-delta path; the Responses API pads its text deltas the
#: same way). Not in the `openai` models: `tests/openai_schemas.py` allows it by name.
OBFUSCATED = frozenset({"response.output_audio.delta", "response.output_audio_transcript.delta",
                        "response.output_text.delta"})
_ALPHABET = _string.ascii_letters + _string.digits


def obfuscation() -> str:
    """Filler of random length (the captures show 8 to 13 characters), so no client can depend on its content."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(4 + secrets.randbelow(13)))


_DATA_URL = re.compile(r"data:(image/[a-z0-9.+-]+);base64,(.*)\Z", re.S)
#: What the service takes: "A base64 data URL with an image MIME type; use PNG or JPEG" (`input_image.image_url`).
IMAGE_TYPES = ("image/png", "image/jpeg")


def check_image_part(part: dict[str, Any], path: str) -> None:
    """An `input_image` part needs `image_url`, a base64 data URL of a PNG or JPEG whose bytes decode."""
    url = part.get("image_url")
    if url is None:
        raise SimError("missing_required_parameter", f"Missing required parameter: '{path}.image_url'.",
                       f"{path}.image_url")
    match = _DATA_URL.match(url)
    if match is None or match.group(1) not in IMAGE_TYPES:
        raise SimError("invalid_value", f"Invalid '{path}.image_url'. Expected a base64-encoded data URL with an "
                       "image MIME type (image/png or image/jpeg).", f"{path}.image_url")
    try:
        base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError):
        raise SimError("invalid_value", f"Invalid '{path}.image_url'. The image data is not valid base64.",
                       f"{path}.image_url") from None


def _audio_from_modalities(modalities: list[str], path: str) -> bool:
    """GA answers with exactly one modality: `["audio"]` (audio plus its transcript) or `["text"]`."""
    if modalities == ["audio"]:
        return True
    if modalities == ["text"]:
        return False
    raise SimError("invalid_value", f"Invalid modalities: {modalities}. Supported combinations are: ['text'] and "
                   "['audio'].", path)


def format_object(name: str) -> dict[str, Any]:
    """The GA format object of an internal format name."""
    return {"pcm16": {"type": "audio/pcm", "rate": 24000}, "g711_ulaw": {"type": "audio/pcmu"},
            "g711_alaw": {"type": "audio/pcma"}}[name]


def _tool_choice(choice: Any) -> Any:
    return choice if isinstance(choice, str) else {"type": "function", "name": choice["name"]}


class GADialect(events.Dialect):
    name = "ga"
    names = {
        "response.audio.delta": "response.output_audio.delta",
        "response.audio.done": "response.output_audio.done",
        "response.audio_transcript.delta": "response.output_audio_transcript.delta",
        "response.audio_transcript.done": "response.output_audio_transcript.done",
        "response.text.delta": "response.output_text.delta",
        "response.text.done": "response.output_text.done",
    }
    client_rules = events.client_rules(SESSION, ITEM, RESPONSE)

    def initial_settings(self, model: str) -> dict[str, Any]:
        settings = events.default_settings(model)
        settings.update(voice="marin", instructions="You are a helpful assistant.")
        return settings

    def apply_session(self, settings: dict[str, Any], session: dict[str, Any]) -> dict[str, Any]:
        new = dict(settings)
        for key in ("model", "instructions", "tools", "tool_choice", "max_output_tokens"):
            if key in session:
                new[key] = session[key]
        if "output_modalities" in session:
            new["audio"] = _audio_from_modalities(session["output_modalities"], "session.output_modalities")
        audio_in = session.get("audio", {}).get("input", {})
        audio_out = session.get("audio", {}).get("output", {})
        if "format" in audio_in:
            new["input_format"] = FORMAT_NAMES[audio_in["format"]["type"]]
        if "transcription" in audio_in:
            new["transcription"] = audio_in["transcription"]
        if "noise_reduction" in audio_in:
            new["noise_reduction"] = audio_in["noise_reduction"]
        if "turn_detection" in audio_in:
            new["turn_detection"] = merge_turn_detection(settings["turn_detection"], audio_in["turn_detection"])
        if "format" in audio_out:
            new["output_format"] = FORMAT_NAMES[audio_out["format"]["type"]]
        for key in ("voice", "speed"):
            if key in audio_out:
                new[key] = audio_out[key]
        return new

    def render_session(self, settings: dict[str, Any], session_id: str, expires_at: int) -> dict[str, Any]:
        td = settings["turn_detection"]
        return {
            # `object`, `id` and `expires_at` are sent by the service (GA service capture: `"type":"realtime",
            # "object":"realtime.session","id":"sess_...", ... "expires_at":1767233035`), though the `openai` model of
            # this event's session (`RealtimeSessionCreateRequest`) lacks them; `tests/openai_schemas.py` allows them
            "type": "realtime", "object": "realtime.session", "id": session_id, "expires_at": expires_at,
            "model": settings["model"],
            "output_modalities": ["audio"] if settings["audio"] else ["text"],
            "instructions": settings["instructions"],
            "audio": {
                "input": {"format": format_object(settings["input_format"]),
                          "transcription": settings["transcription"],
                          "noise_reduction": settings["noise_reduction"],
                          "turn_detection": ga_turn_detection(td)},
                "output": {"format": format_object(settings["output_format"]), "voice": settings["voice"],
                           "speed": settings["speed"]},
            },
            "tools": [mcp.render_tool(t) for t in settings["tools"]],
            "tool_choice": _tool_choice(settings["tool_choice"]),
            "max_output_tokens": settings["max_output_tokens"],
        }

    def parse_item(self, item: dict[str, Any]) -> dict[str, Any]:
        if item["type"] in mcp.MCP_ITEMS:
            return mcp.parse_item(item)
        for i, part in enumerate(item.get("content") or ()):
            if part.get("type") == "input_image":
                check_image_part(part, f"item.content[{i}]")
        return events.parse_item_common(item, ("input_text", "input_audio", "input_image"), ASSISTANT_PARTS)

    def render_item(self, item: dict[str, Any]) -> dict[str, Any]:
        # GA items come without `"object": "realtime.item"` (GA service capture: `response.output_item.added`,
        # `conversation.item.added`/`.done` and `response.done` items carry only id, type, status, role, content)
        if item["type"] in mcp.MCP_ITEMS:
            return mcp.render_item(item)
        out = events.render_item_common(item, {})
        del out["object"]
        return out

    def finish(self, event: dict[str, Any]) -> dict[str, Any]:
        if event["type"] in OBFUSCATED:
            event["obfuscation"] = obfuscation()
        return event

    def response_overrides(self, params: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("instructions", "tools", "tool_choice", "max_output_tokens", "conversation", "metadata"):
            if key in params:
                out[key] = params[key]
        if "output_modalities" in params:
            out["audio"] = _audio_from_modalities(params["output_modalities"], "response.output_modalities")
        audio_out = params.get("audio", {}).get("output", {})
        if "format" in audio_out:
            out["output_format"] = FORMAT_NAMES[audio_out["format"]["type"]]
        if "voice" in audio_out:
            out["voice"] = audio_out["voice"]
        if "input" in params:
            out["input"] = [i if i["type"] == "item_reference" else self.parse_item(i) for i in params["input"]]
        return out

    def render_response(self, r: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": r["id"], "object": "realtime.response", "status": r["status"],
            "status_details": r["status_details"], "output": [self.render_item(i) for i in r["output"]],
            "conversation_id": r["conversation_id"], "output_modalities": ["audio"] if r["audio"] else ["text"],
            "audio": {"output": {"format": format_object(r["output_format"]), "voice": r["voice"]}},
            "max_output_tokens": r["max_output_tokens"],
            "usage": events.usage_dict(r["usage"]) if r["usage"] else None, "metadata": r["metadata"],
        }

    def item_added(self, item: dict[str, Any], previous_item_id: str | None) -> list[dict[str, Any]]:
        return [{"type": "conversation.item.added", "previous_item_id": previous_item_id,
                 "item": self.render_item(item)}]

    def item_done(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"type": "conversation.item.done", "item": self.render_item(item)}]

    def transcription_segments(self, model: str, item_id: str, transcript: str,
                               ms: float) -> list[dict[str, Any]]:
        """A diarizing model labels who spoke: the simulator hears one speaker, `A`, for the whole item."""
        if model not in DIARIZING_MODELS:
            return []
        return [{"type": "conversation.item.input_audio_transcription.segment", "id": events.new_id("seg"),
                 "item_id": item_id, "content_index": 0, "text": transcript, "speaker": "A", "start": 0.0,
                 "end": round(ms / 1000, 3)}]


def ga_turn_detection(td: dict[str, Any] | None) -> dict[str, Any] | None:
    """Only the fields of the configured VAD type (GA's `server_vad` and `semantic_vad` objects differ)."""
    if td is None:
        return None
    if td["type"] == "semantic_vad":
        keys = ("type", "eagerness", "create_response", "interrupt_response")
    else:
        keys = ("type", "threshold", "prefix_padding_ms", "silence_duration_ms", "create_response",
                "interrupt_response", "idle_timeout_ms")
    out = {k: td.get(k) for k in keys if k in td or k == "idle_timeout_ms"}
    return out
