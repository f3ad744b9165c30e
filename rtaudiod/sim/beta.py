"""The beta dialect (`OpenAI-Beta: realtime=v1`, the seeds): flat session fields, `g711_ulaw`-style format
names, `response.audio.delta`, `conversation.item.created`. Reference: `openai.types.beta.realtime`."""

from typing import Any

from . import events
from .validate import SimError, anything, array, boolean, either, enum, integer, nullable, number, obj, string

FORMAT = enum("pcm16", "g711_ulaw", "g711_alaw")
MODALITIES = array(enum("text", "audio"))
TOOL = obj({"type": enum("function"), "name": string(), "description": string(), "parameters": anything()},
           required=("name",))
MAX_TOKENS = either(integer(1, 4096), enum("inf"))
# The VAD ranges are the seeds' (001_9524aca5fab4315f.txt, "语音检测参数表": threshold 0.0-1.0, prefix_padding_ms
# 0-5000, silence_duration_ms 100-10000); a value outside is refused and the session.update dropped whole.
TURN_DETECTION = nullable(obj({
    "type": enum("server_vad", "semantic_vad"), "threshold": number(0.0, 1.0), "prefix_padding_ms": integer(0, 5000),
    "silence_duration_ms": integer(100, 10000), "create_response": boolean(), "interrupt_response": boolean(),
    "eagerness": enum("low", "medium", "high", "auto")}))

VOICE = enum(*events.VOICES_BETA)
SESSION = obj({
    "model": string(), "modalities": MODALITIES, "instructions": string(), "voice": VOICE,
    "input_audio_format": FORMAT, "output_audio_format": FORMAT,
    "input_audio_transcription": nullable(obj({"model": string(), "language": string(), "prompt": string()})),
    "input_audio_noise_reduction": nullable(obj({"type": enum("near_field", "far_field")})),
    "turn_detection": TURN_DETECTION, "tools": array(TOOL), "tool_choice": string(),
    "temperature": number(0.6, 1.2), "max_response_output_tokens": MAX_TOKENS, "speed": number(0.25, 1.5),
    "tracing": anything(),
})

CONTENT = obj({"type": enum("input_text", "input_audio", "item_reference", "text", "audio"), "text": string(),
               "audio": string(), "transcript": nullable(string()), "id": string()})
ITEM = obj({"id": string(events.ITEM_ID_MAX), "type": enum("message", "function_call", "function_call_output"),
            "object": enum("realtime.item"), "status": enum("completed", "incomplete", "in_progress"),
            "role": enum("user", "assistant", "system"), "content": array(CONTENT), "call_id": string(),
            "name": string(), "arguments": string(), "output": string()}, required=("type",))

RESPONSE = obj({
    "modalities": MODALITIES, "instructions": string(), "voice": VOICE, "output_audio_format": FORMAT,
    "tools": array(TOOL), "tool_choice": string(), "temperature": number(0.6, 1.2),
    "max_response_output_tokens": MAX_TOKENS, "conversation": enum("auto", "none"),
    "metadata": anything(), "input": array(ITEM),
})

#: assistant content part names on the wire -> internal
ASSISTANT_PARTS = {"text": "output_text", "audio": "output_audio"}
CONTENT_NAMES = {"output_text": "text", "output_audio": "audio"}


def _audio_from_modalities(modalities: list[str], path: str) -> bool:
    """Beta accepts `["text"]` and `["text", "audio"]` (in either order); audio always comes with its transcript."""
    if sorted(set(modalities)) == ["text"]:
        return False
    if sorted(set(modalities)) == ["audio", "text"]:
        return True
    raise SimError("invalid_value", f"Invalid modalities: {modalities}. Supported combinations are: ['text'] and "
                   "['audio', 'text'].", path)


class BetaDialect(events.Dialect):
    name = "beta"
    names = {}  # the internal names are the beta names
    client_rules = events.client_rules(SESSION, ITEM, RESPONSE)

    def apply_session(self, settings: dict[str, Any], session: dict[str, Any]) -> dict[str, Any]:
        new = dict(settings)
        simple = {"model": "model", "instructions": "instructions", "voice": "voice",
                  "input_audio_format": "input_format", "output_audio_format": "output_format",
                  "input_audio_transcription": "transcription", "input_audio_noise_reduction": "noise_reduction",
                  "tools": "tools", "tool_choice": "tool_choice", "temperature": "temperature",
                  "max_response_output_tokens": "max_output_tokens", "speed": "speed"}
        for wire, internal in simple.items():
            if wire in session:
                new[internal] = session[wire]
        if "modalities" in session:
            new["audio"] = _audio_from_modalities(session["modalities"], "session.modalities")
        if "turn_detection" in session:
            new["turn_detection"] = merge_turn_detection(settings["turn_detection"], session["turn_detection"])
        return new

    def render_session(self, settings: dict[str, Any], session_id: str, expires_at: int) -> dict[str, Any]:
        return {
            # `object` and `expires_at` as the beta service sent them (openai/openai-realtime-api-beta#23, a
            # session.created of 2024-10: `id`, `object: 'realtime.session'`, `model`, `expires_at`, ...); the beta
            # `openai` model has only `id`, `tests/openai_schemas.py` allows the other two by name
            "id": session_id, "object": "realtime.session", "expires_at": expires_at, "model": settings["model"],
            "modalities": ["text", "audio"] if settings["audio"] else ["text"],
            "instructions": settings["instructions"], "voice": settings["voice"],
            "input_audio_format": settings["input_format"], "output_audio_format": settings["output_format"],
            "input_audio_transcription": settings["transcription"],
            "input_audio_noise_reduction": settings["noise_reduction"],
            "turn_detection": beta_turn_detection(settings["turn_detection"]),
            "tools": [dict(t, type="function") for t in settings["tools"]],
            "tool_choice": settings["tool_choice"], "temperature": settings["temperature"],
            "max_response_output_tokens": settings["max_output_tokens"], "speed": settings["speed"],
        }

    def parse_item(self, item: dict[str, Any]) -> dict[str, Any]:
        return events.parse_item_common(item, ("input_text", "input_audio", "item_reference"), ASSISTANT_PARTS)

    def render_item(self, item: dict[str, Any]) -> dict[str, Any]:
        return events.render_item_common(item, CONTENT_NAMES)

    def response_overrides(self, params: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for wire, internal in {"instructions": "instructions", "voice": "voice", "output_audio_format": "output_format",
                               "tools": "tools", "tool_choice": "tool_choice", "temperature": "temperature",
                               "max_response_output_tokens": "max_output_tokens", "conversation": "conversation",
                               "metadata": "metadata"}.items():
            if wire in params:
                out[internal] = params[wire]
        if "modalities" in params:
            out["audio"] = _audio_from_modalities(params["modalities"], "response.modalities")
        if "input" in params:
            out["input"] = [self.parse_item(i) for i in params["input"]]
        return out

    def render_response(self, r: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": r["id"], "object": "realtime.response", "status": r["status"],
            "status_details": r["status_details"], "output": [self.render_item(i) for i in r["output"]],
            "conversation_id": r["conversation_id"], "modalities": ["text", "audio"] if r["audio"] else ["text"],
            "voice": r["voice"], "output_audio_format": r["output_format"], "temperature": r["temperature"],
            "max_output_tokens": r["max_output_tokens"],
            "usage": events.usage_dict(r["usage"]) if r["usage"] else None, "metadata": r["metadata"],
        }

    def item_added(self, item: dict[str, Any], previous_item_id: str | None) -> list[dict[str, Any]]:
        return [{"type": "conversation.item.created", "previous_item_id": previous_item_id,
                 "item": self.render_item(item)}]

    def item_done(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        return []


def merge_turn_detection(current: dict[str, Any] | None, update: dict[str, Any] | None) -> dict[str, Any] | None:
    """`null` turns VAD off; an object updates the current one (or the defaults when VAD was off)."""
    if update is None:
        return None
    base = current or events.default_settings("")["turn_detection"]
    if update.get("type", base["type"]) != base["type"]:
        base = dict(events.default_settings("")["turn_detection"], type=update["type"])
    return {**base, **update}


def beta_turn_detection(td: dict[str, Any] | None) -> dict[str, Any] | None:
    """The turn detection object without GA-only fields."""
    if td is None:
        return None
    return {k: v for k, v in td.items() if k != "idle_timeout_ms"}
