"""The nested objects of the dialect table (`dialect.py` has the table itself): sessions, response parameters,
responses and conversation items, between the internal (beta) shape and the wire. `*_to_wire(x, ga)` writes
beta (`ga=False`: only GA-only fields dropped) or GA; `*_from_wire(x)` reads either shape by its keys.

They work on plain JSON values and never raise: a value of the wrong type is passed through unchanged for the
typed conversion to report.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "GA_ONLY_SESSION_FIELDS", "PART_FROM_GA", "item_from_wire", "item_to_wire", "response_from_wire",
    "response_params_from_wire", "response_params_to_wire", "response_to_wire", "session_from_wire", "session_to_wire",
]

_FORMAT_TO_GA: dict[str, dict[str, Any]] = {
    "pcm16": {"type": "audio/pcm", "rate": 24000}, "g711_ulaw": {"type": "audio/pcmu"},
    "g711_alaw": {"type": "audio/pcma"},
}
_FORMAT_FROM_GA = {"audio/pcm": "pcm16", "audio/pcmu": "g711_ulaw", "audio/pcma": "g711_alaw"}
_PART_TO_GA = {"text": "output_text", "audio": "output_audio"}
PART_FROM_GA = {ga: internal for internal, ga in _PART_TO_GA.items()}
_SERVER_VAD_KEYS = ("type", "threshold", "prefix_padding_ms", "silence_duration_ms", "create_response",
                    "interrupt_response", "idle_timeout_ms")
_SEMANTIC_VAD_KEYS = ("type", "eagerness", "create_response", "interrupt_response")
#: Session fields only GA has, under the same name at the top of its session object (beta has no counterpart:
#: `codec.encode_client_event` refuses them there rather than drop them).
GA_ONLY_SESSION_FIELDS = ("reasoning", "prompt", "truncation")


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


def _tool_choice_to_wire(choice: Any, ga: bool) -> Any:
    if isinstance(choice, dict) and "name" in choice:
        return {"type": "function", "name": choice["name"]} if ga else choice["name"]
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


def _turn_detection_to_wire(td: Any, ga: bool) -> Any:
    if not isinstance(td, dict):
        return td
    if not ga:
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


def item_to_wire(item: Any, ga: bool) -> Any:
    return _map_parts(item, _PART_TO_GA) if ga else item


def item_from_wire(item: Any) -> Any:
    return _map_parts(item, PART_FROM_GA)


def _items_to_wire(items: Any, ga: bool) -> Any:
    return [item_to_wire(i, ga) for i in items] if isinstance(items, list) else items


def _items_from_wire(items: Any) -> Any:
    return [item_from_wire(i) for i in items] if isinstance(items, list) else items


# ---- session -------------------------------------------------------------------------------------------------
def session_to_wire(session: dict[str, Any], ga: bool) -> dict[str, Any]:
    """An internal (flat) session object in the wire shape (beta, or GA when `ga`)."""
    if not ga:
        out = dict(session)
        if "turn_detection" in out:
            out["turn_detection"] = _turn_detection_to_wire(out["turn_detection"], ga)
        if "tool_choice" in out:
            out["tool_choice"] = _tool_choice_to_wire(out["tool_choice"], ga)
        return out
    out: dict[str, Any] = {"type": "realtime"}
    for key in ("model", "instructions", "tools", *GA_ONLY_SESSION_FIELDS):
        if key in session:
            out[key] = session[key]
    if "modalities" in session:
        out["output_modalities"] = _modalities_to_ga(session["modalities"])
    if "tool_choice" in session:
        out["tool_choice"] = _tool_choice_to_wire(session["tool_choice"], ga)
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
        audio_in["turn_detection"] = _turn_detection_to_wire(session["turn_detection"], ga)
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
def response_params_to_wire(params: dict[str, Any], ga: bool) -> dict[str, Any]:
    """`response.create`'s `response` object (internal shape) in the wire shape (beta, or GA when `ga`)."""
    out = dict(params)
    if "tool_choice" in out:
        out["tool_choice"] = _tool_choice_to_wire(out["tool_choice"], ga)
    if "input" in out:
        out["input"] = _items_to_wire(out["input"], ga)
    if not ga:
        return out
    _rename(out, "max_response_output_tokens", "max_output_tokens")
    _response_to_ga(out)
    return out


def _response_to_ga(out: dict[str, Any]) -> None:
    """What a response and its parameters share, to GA in place: no `temperature`; `modalities` ->
    `output_modalities`; flat `output_audio_format` / `voice` -> `audio.output`."""
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


def response_to_wire(response: dict[str, Any], ga: bool) -> dict[str, Any]:
    """A server response object (`response.created` / `.done`) in the wire shape (beta, or GA when `ga`)."""
    out = dict(response)
    if "output" in out:
        out["output"] = _items_to_wire(out["output"], ga)
    if not ga:
        return out
    _response_to_ga(out)
    return out


def response_from_wire(response: Any) -> Any:
    if not isinstance(response, dict):
        return response
    out = dict(response)
    _response_audio_from_wire(out)
    if "output" in out:
        out["output"] = _items_from_wire(out["output"])
    return out
