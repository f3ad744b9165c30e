"""What the simulated model answers: deterministic, derived from the conversation, so tests can predict it.

Replies to the user say that the simulator speaks and what it heard, so nobody mistakes the offline stand-in (the
daemon runs it when it has no API key) for the model answering badly:

- The last user message is text → `Simulator heard: <text>.` (its final `.`, `!` or `?` made a `.`)
- The last user message is audio → `Simulator heard <seconds, one decimal> seconds of audio.`
- The last user message is an image → `I see an image.`; an image with text → `Simulator heard: <text>, with an image.`
- The last input is a `function_call_output` → `The <tool name> tool returned <output>.`
- Nothing to answer → `Hello! How can I help you today?`
- Tools are configured, `tool_choice` is not `none`, and the user's text names a tool (its name, or the name with
  `_` read as spaces, any case) → a `function_call` of that tool instead; `tool_choice: "required"` calls the named
  tool or else the first; `{"type": "function", "name": N}` calls N. Arguments: each declared property gets the user
  text (string), its first enum value, 1 (number/integer), true (boolean), or null.
- The transcript of committed input audio (with `input_audio_transcription` on) is `[<seconds> s of audio]`.
"""

import json
from typing import Any

GREETING = "Hello! How can I help you today?"
#: How a reply to the user begins: the simulator names itself (the same number of words as the "You said" of old, so
#: the synthetic voice's timing is unchanged).
HEARD = "Simulator heard"
MAX_ARGUMENTS = 64


def audio_seconds(part: dict[str, Any]) -> float:
    return part.get("audio_ms", 0.0) / 1000.0


def transcript_for(duration_ms: float) -> str:
    """The deterministic transcript of committed input audio."""
    return f"[{duration_ms / 1000:.1f} s of audio]"


def _last_input(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    for item in reversed(items):
        if item["type"] == "function_call_output" or (item["type"] == "message" and item["role"] == "user"):
            return item
    return None


def _user_text(item: dict[str, Any]) -> str:
    return " ".join(p.get("text") or "" for p in item["content"] if p["type"] == "input_text").strip()


def _named_tool(text: str, tools: list[dict[str, Any]]) -> dict[str, Any] | None:
    low = text.lower()
    for tool in tools:
        name = tool["name"].lower()
        if name in low or name.replace("_", " ") in low:
            return tool
    return None


def _arguments(tool: dict[str, Any], text: str) -> str:
    params = tool.get("parameters") if isinstance(tool.get("parameters"), dict) else {}
    props = params.get("properties") if isinstance(params.get("properties"), dict) else {}
    args: dict[str, Any] = {}
    for name, schema in list(props.items())[:MAX_ARGUMENTS]:
        schema = schema if isinstance(schema, dict) else {}
        kind = schema.get("type")
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            args[name] = schema["enum"][0]
        elif kind == "string":
            args[name] = text
        elif kind in ("number", "integer"):
            args[name] = 1
        elif kind == "boolean":
            args[name] = True
        else:
            args[name] = None
    return json.dumps(args)


def plan(items: list[dict[str, Any]], tools: list[dict[str, Any]], tool_choice: Any) -> dict[str, Any]:
    """`{"kind": "message", "text": ...}` or `{"kind": "function_call", "name": ..., "arguments": ...}`."""
    last = _last_input(items)
    if last is None:
        return {"kind": "message", "text": GREETING}
    if last["type"] == "function_call_output":
        name = next((i["name"] for i in items if i["type"] == "function_call" and i["call_id"] == last["call_id"]),
                    "function")
        return {"kind": "message", "text": f"The {name} tool returned {last['output']}."}
    text = _user_text(last)
    if tools and tool_choice != "none":
        if isinstance(tool_choice, dict):
            tool = next((t for t in tools if t["name"] == tool_choice.get("name")), None)
        else:
            tool = _named_tool(text, tools) or (tools[0] if tool_choice == "required" else None)
        if tool is not None:
            return {"kind": "function_call", "name": tool["name"], "arguments": _arguments(tool, text)}
    image = any(p["type"] == "input_image" for p in last["content"])
    if text:
        return {"kind": "message", "text": f"{HEARD}: {text.rstrip('.!?')}{', with an image' if image else ''}."}
    audio = [p for p in last["content"] if p["type"] == "input_audio"]
    if audio:
        return {"kind": "message", "text": f"{HEARD} {sum(audio_seconds(p) for p in audio):.1f} seconds of audio."}
    if image:
        return {"kind": "message", "text": "I see an image."}
    return {"kind": "message", "text": GREETING}


def text_tokens(text: str) -> int:
    """A stable token estimate: one per four characters."""
    return (len(text) + 3) // 4


def input_usage(items: list[dict[str, Any]]) -> tuple[int, int]:
    """(text, audio) input tokens of a context: text as above, audio at 10 tokens a second."""
    text = audio = 0
    for item in items:
        if item["type"] != "message":
            text += text_tokens((item.get("arguments") or "") + (item.get("output") or ""))
            continue
        for part in item["content"]:
            text += text_tokens(part.get("text") or part.get("transcript") or "")
            audio += int(part.get("audio_ms", 0) / 100)
    return text, audio
