"""Example events for the protocol tests: every server event in the internal (= beta wire) shape, with the seeds'
example values, and every client event the builders make (all optional fields set, and none)."""

import copy
from typing import Any

from rtaudiod.protocol import (UNSET, ContentPart, Item, NoiseReduction, ResponseParams, SessionConfig,
                               ToolChoiceFunction, Transcription, TurnDetection, conversation_item_create,
                               function_call_output, function_tool, input_audio_append, input_audio_clear,
                               input_audio_commit, item_delete, item_truncate, response_cancel, response_create,
                               session_update, user_audio, user_text)

#: The 28 server events the seeds list (000_...txt).
SEED_SERVER_EVENTS = (
    "error", "conversation.item.input_audio_transcription.completed",
    "conversation.item.input_audio_transcription.failed", "conversation.item.truncated", "conversation.item.deleted",
    "input_audio_buffer.committed", "input_audio_buffer.cleared", "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped", "response.created", "response.done", "response.output_item.added",
    "response.output_item.done", "response.content_part.added", "response.content_part.done",
    "response.text.delta", "response.text.done", "response.audio_transcript.delta", "response.audio_transcript.done",
    "response.audio.delta", "response.audio.done", "response.function_call_arguments.delta",
    "response.function_call_arguments.done", "rate_limits.updated", "conversation.created",
    "conversation.item.created", "session.created", "session.updated",
)
#: The 9 client events the seeds list.
SEED_CLIENT_EVENTS = (
    "session.update", "input_audio_buffer.append", "input_audio_buffer.commit", "input_audio_buffer.clear",
    "conversation.item.create", "conversation.item.truncate", "conversation.item.delete", "response.create",
    "response.cancel",
)

WEATHER = function_tool("get_weather", "Get the current weather",
                        {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]})

# ---- server events (internal shape) ---------------------------------------------------------------------------
SESSION = {
    "id": "sess_001", "model": "gpt-4o-realtime-preview-2024-12-17", "modalities": ["text", "audio"],
    "instructions": "Your knowledge cutoff is 2023-10.", "voice": "alloy", "input_audio_format": "pcm16",
    "output_audio_format": "g711_ulaw", "input_audio_transcription": {"model": "whisper-1"},
    "input_audio_noise_reduction": None,
    "turn_detection": {"type": "server_vad", "threshold": 0.8, "prefix_padding_ms": 500, "silence_duration_ms": 1000,
                       "create_response": True, "interrupt_response": True},
    "tools": [{"type": "function", "name": "get_weather", "description": "Get the current weather",
               "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}],
    "tool_choice": "auto", "max_response_output_tokens": "inf", "speed": 1.0,
}
USER_ITEM = {"id": "msg_003", "object": "realtime.item", "type": "message", "status": "completed", "role": "user",
             "content": [{"type": "input_text", "text": "Hello"}]}
AUDIO_ITEM = {"id": "msg_008", "object": "realtime.item", "type": "message", "status": "completed",
              "role": "assistant", "content": [{"type": "audio", "transcript": "Hello, how can I assist you today?"}]}
TEXT_ITEM = {"id": "msg_007", "object": "realtime.item", "type": "message", "status": "in_progress",
             "role": "assistant", "content": [{"type": "text", "text": "Sure, I can help with that."}]}
CALL_ITEM = {"id": "fc_001", "object": "realtime.item", "type": "function_call", "status": "completed",
             "call_id": "call_001", "name": "get_weather", "arguments": "{\"location\": \"San Francisco\"}"}
USAGE = {"total_tokens": 50, "input_tokens": 20, "output_tokens": 30,
         "input_token_details": {"text_tokens": 12, "audio_tokens": 8, "cached_tokens": 0},
         "output_token_details": {"text_tokens": 10, "audio_tokens": 20}}
RESPONSE_IN_PROGRESS = {"id": "resp_001", "object": "realtime.response", "status": "in_progress",
                        "status_details": None, "output": [], "conversation_id": "conv_001",
                        "modalities": ["text", "audio"], "voice": "alloy", "output_audio_format": "pcm16",
                        "max_output_tokens": "inf", "usage": None, "metadata": None}
RESPONSE_DONE = {**RESPONSE_IN_PROGRESS, "status": "completed", "output": [AUDIO_ITEM, CALL_ITEM], "usage": USAGE,
                 "max_output_tokens": 150, "metadata": {"topic": "weather"}}
RESPONSE_CANCELLED = {**RESPONSE_IN_PROGRESS, "status": "cancelled", "modalities": ["text"],
                      "status_details": {"type": "cancelled", "reason": "client_cancelled"}, "usage": USAGE}
PART_IDS = {"response_id": "resp_001", "item_id": "msg_008", "output_index": 0, "content_index": 0}

SERVER_EXAMPLES: list[dict[str, Any]] = [
    {"event_id": "event_890", "type": "error", "error": {
        "type": "invalid_request_error", "code": "invalid_event", "message": "The 'type' field is missing.",
        "param": None, "event_id": "event_567"}},
    {"event_id": "event_2122", "type": "conversation.item.input_audio_transcription.completed", "item_id": "msg_003",
     "content_index": 0, "transcript": "Hello, how are you?", "usage": {"type": "duration", "seconds": 1.5}},
    {"event_id": "event_2324", "type": "conversation.item.input_audio_transcription.failed", "item_id": "msg_003",
     "content_index": 0, "error": {"type": "transcription_error", "code": "audio_unintelligible",
                                   "message": "The audio could not be transcribed.", "param": None}},
    {"event_id": "event_2526", "type": "conversation.item.truncated", "item_id": "msg_004", "content_index": 0,
     "audio_end_ms": 1500},
    {"event_id": "event_2728", "type": "conversation.item.deleted", "item_id": "msg_005"},
    {"event_id": "event_1121", "type": "input_audio_buffer.committed", "previous_item_id": "msg_001",
     "item_id": "msg_002"},
    {"event_id": "event_1122", "type": "input_audio_buffer.committed", "previous_item_id": None,
     "item_id": "msg_002"},
    {"event_id": "event_1314", "type": "input_audio_buffer.cleared"},
    {"event_id": "event_1516", "type": "input_audio_buffer.speech_started", "audio_start_ms": 1000,
     "item_id": "msg_003"},
    {"event_id": "event_1718", "type": "input_audio_buffer.speech_stopped", "audio_end_ms": 2000,
     "item_id": "msg_003"},
    {"event_id": "event_2930", "type": "response.created", "response": RESPONSE_IN_PROGRESS},
    {"event_id": "event_3132", "type": "response.done", "response": RESPONSE_DONE},
    {"event_id": "event_3133", "type": "response.done", "response": RESPONSE_CANCELLED},
    {"event_id": "event_3334", "type": "response.output_item.added", "response_id": "resp_001", "output_index": 0,
     "item": {**TEXT_ITEM, "content": []}},
    {"event_id": "event_3536", "type": "response.output_item.done", "response_id": "resp_001", "output_index": 0,
     "item": AUDIO_ITEM},
    {"event_id": "event_3738", "type": "response.content_part.added", **PART_IDS,
     "part": {"type": "audio", "transcript": ""}},
    {"event_id": "event_3940", "type": "response.content_part.done", **PART_IDS,
     "part": {"type": "text", "text": "Sure, I can help with that."}},
    {"event_id": "event_4142", "type": "response.text.delta", **PART_IDS, "delta": "Sure, I can h"},
    {"event_id": "event_4344", "type": "response.text.done", **PART_IDS, "text": "Sure, I can help with that."},
    {"event_id": "event_4546", "type": "response.audio_transcript.delta", **PART_IDS, "delta": "Hello, how can I a"},
    {"event_id": "event_4748", "type": "response.audio_transcript.done", **PART_IDS,
     "transcript": "Hello, how can I assist you today?"},
    {"event_id": "event_4950", "type": "response.audio.delta", **PART_IDS, "delta": "AAABAAIAAwA="},
    {"event_id": "event_5152", "type": "response.audio.done", **PART_IDS},
    {"event_id": "event_5354", "type": "response.function_call_arguments.delta", "response_id": "resp_002",
     "item_id": "fc_001", "output_index": 0, "call_id": "call_001", "delta": "{\"location\": \"San\""},
    {"event_id": "event_5556", "type": "response.function_call_arguments.done", "response_id": "resp_002",
     "item_id": "fc_001", "output_index": 0, "call_id": "call_001",
     "arguments": "{\"location\": \"San Francisco\"}"},
    {"event_id": "event_5758", "type": "rate_limits.updated", "rate_limits": [
        {"name": "requests", "limit": 60, "remaining": 45, "reset_seconds": 35},
        {"name": "tokens", "limit": 40000, "remaining": 39000, "reset_seconds": 0.5}]},
    {"event_id": "event_9101", "type": "conversation.created",
     "conversation": {"id": "conv_001", "object": "realtime.conversation"}},
    {"event_id": "event_1920", "type": "conversation.item.created", "previous_item_id": "msg_002",
     "item": USER_ITEM},
    {"event_id": "event_1921", "type": "conversation.item.created", "previous_item_id": None, "item": CALL_ITEM},
    {"event_id": "event_1234", "type": "session.created", "session": SESSION},
    {"event_id": "event_5678", "type": "session.updated", "session": {
        **SESSION, "input_audio_format": "g711_alaw", "turn_detection": None, "modalities": ["text"],
        "tool_choice": "required", "max_response_output_tokens": 4096, "input_audio_transcription": None,
        "input_audio_noise_reduction": {"type": "far_field"}}},
    # not in the seeds' list, sent by the service in both dialects
    {"event_id": "event_6001", "type": "conversation.item.retrieved", "item": USER_ITEM},
    {"event_id": "event_6002", "type": "conversation.item.input_audio_transcription.delta", "item_id": "msg_003",
     "content_index": 0, "delta": "Hel"},
    {"event_id": "event_6003", "type": "output_audio_buffer.started", "response_id": "resp_001"},
    {"event_id": "event_6004", "type": "output_audio_buffer.stopped", "response_id": "resp_001"},
    {"event_id": "event_6005", "type": "output_audio_buffer.cleared", "response_id": "resp_001"},
]

#: GA's remote MCP items (openai `RealtimeMcpListTools`, `RealtimeMcpToolCall`, `RealtimeMcpApprovalRequest`,
#: `RealtimeMcpApprovalResponse`)
MCP_TOOLS_ITEM = {"id": "mcpl_001", "type": "mcp_list_tools", "server_label": "deepwiki", "tools": [
    {"name": "ask_question", "description": "Ask about a GitHub repository",
     "input_schema": {"type": "object", "properties": {"repoName": {"type": "string"}}},
     "annotations": {"readOnlyHint": True}}]}
MCP_CALL_ITEM = {"id": "mcp_001", "type": "mcp_call", "server_label": "deepwiki", "name": "ask_question",
                 "arguments": "{\"repoName\": \"openai/openai-python\"}", "approval_request_id": None,
                 "error": None, "output": "It is the official Python library for the OpenAI API."}
MCP_FAILED_ITEM = {"id": "mcp_002", "type": "mcp_call", "server_label": "deepwiki", "name": "ask_question",
                   "arguments": "{}", "error": {"type": "http_error", "code": 502, "message": "Bad Gateway"}}
MCP_APPROVAL_REQUEST_ITEM = {"id": "mcpr_001", "type": "mcp_approval_request", "server_label": "deepwiki",
                             "name": "ask_question", "arguments": "{}"}
MCP_APPROVAL_RESPONSE_ITEM = {"id": "mcpa_001", "type": "mcp_approval_response", "approval_request_id": "mcpr_001",
                              "approve": False, "reason": "not now"}

#: Fields the GA wire needs that no beta event carries (added to the GA rendering of the example).
GA_REQUIRED_EXTRAS: dict[str, dict[str, Any]] = {"response.function_call_arguments.done": {"name": "get_weather"}}

#: GA-only server events (internal shape) and hand-written GA wire frames, straight from `openai.types.realtime`.
GA_ONLY_EXAMPLES: list[dict[str, Any]] = [
    {"event_id": "event_7001", "type": "conversation.item.done", "previous_item_id": "msg_002", "item": AUDIO_ITEM},
    {"event_id": "event_7002", "type": "input_audio_buffer.timeout_triggered", "audio_start_ms": 0,
     "audio_end_ms": 6000, "item_id": "msg_009"},
    {"event_id": "event_7003", "type": "conversation.item.input_audio_transcription.segment", "id": "seg_0001",
     "item_id": "msg_003", "content_index": 0, "text": "Hello, how are you?", "speaker": "A", "start": 0.0,
     "end": 1.48},
    {"type": "input_audio_buffer.dtmf_event_received", "event": "#", "received_at": 1767225600},
    {"event_id": "event_7005", "type": "mcp_list_tools.in_progress", "item_id": "mcpl_001"},
    {"event_id": "event_7006", "type": "mcp_list_tools.completed", "item_id": "mcpl_001"},
    {"event_id": "event_7007", "type": "mcp_list_tools.failed", "item_id": "mcpl_001"},
    {"event_id": "event_7008", "type": "response.mcp_call.in_progress", "item_id": "mcp_001", "output_index": 0},
    {"event_id": "event_7009", "type": "response.mcp_call_arguments.delta", "response_id": "resp_003",
     "item_id": "mcp_001", "output_index": 0, "delta": "{\"repoName\": \"open"},
    {"event_id": "event_7010", "type": "response.mcp_call_arguments.done", "response_id": "resp_003",
     "item_id": "mcp_001", "output_index": 0, "arguments": "{\"repoName\": \"openai/openai-python\"}"},
    {"event_id": "event_7011", "type": "response.mcp_call.completed", "item_id": "mcp_001", "output_index": 0},
    {"event_id": "event_7012", "type": "response.mcp_call.failed", "item_id": "mcp_002", "output_index": 1},
    # the MCP items, in the events that carry items
    {"event_id": "event_7013", "type": "conversation.item.created", "previous_item_id": None, "item": MCP_TOOLS_ITEM},
    {"event_id": "event_7014", "type": "response.output_item.added", "response_id": "resp_003", "output_index": 0,
     "item": {**MCP_CALL_ITEM, "output": None}},
    {"event_id": "event_7015", "type": "response.output_item.done", "response_id": "resp_003", "output_index": 0,
     "item": MCP_CALL_ITEM},
    {"event_id": "event_7016", "type": "conversation.item.done", "previous_item_id": "mcp_001",
     "item": MCP_FAILED_ITEM},
    {"event_id": "event_7017", "type": "conversation.item.retrieved", "item": MCP_APPROVAL_REQUEST_ITEM},
    {"event_id": "event_7018", "type": "conversation.item.created", "previous_item_id": "mcpr_001",
     "item": MCP_APPROVAL_RESPONSE_ITEM},
    {"event_id": "event_7019", "type": "response.done", "response": {
        **RESPONSE_IN_PROGRESS, "status": "completed", "output": [MCP_CALL_ITEM, MCP_FAILED_ITEM]}},
]
GA_WIRE_EXAMPLES: list[dict[str, Any]] = [
    {"event_id": "event_8001", "type": "session.updated", "session": {
        "type": "realtime", "model": "gpt-realtime", "output_modalities": ["audio"], "instructions": "Be brief.",
        "audio": {"input": {"format": {"type": "audio/pcmu"}, "transcription": None,
                            "noise_reduction": {"type": "near_field"},
                            "turn_detection": {"type": "semantic_vad", "eagerness": "high", "create_response": True,
                                               "interrupt_response": False}},
                  "output": {"format": {"type": "audio/pcma"}, "voice": "marin", "speed": 1.25}},
        "tools": [], "tool_choice": {"type": "function", "name": "get_weather"}, "max_output_tokens": 200,
        "reasoning": {"effort": "high"}, "truncation": {"type": "retention_ratio", "retention_ratio": 0.75},
        "prompt": {"id": "pmpt_1", "version": "3",
                   "variables": {"city": "Oslo", "greeting": {"type": "input_text", "text": "Hei"}}}}},
    {"event_id": "event_8002", "type": "response.output_audio_transcript.delta", **PART_IDS, "delta": "Hi"},
    {"event_id": "event_8003", "type": "response.output_text.done", **PART_IDS, "text": "Hi there."},
    {"event_id": "event_8004", "type": "conversation.item.added", "previous_item_id": None, "item": {
        "id": "item_1", "object": "realtime.item", "type": "message", "status": "in_progress", "role": "assistant",
        "content": [{"type": "output_audio", "transcript": ""}]}},
    {"event_id": "event_8005", "type": "response.done", "response": {
        "id": "resp_9", "object": "realtime.response", "status": "incomplete",
        "status_details": {"type": "incomplete", "reason": "max_output_tokens"}, "output": [{
            "id": "item_2", "object": "realtime.item", "type": "message", "status": "incomplete",
            "role": "assistant", "content": [{"type": "output_text", "text": "Once upon"}]}],
        "conversation_id": "conv_1", "output_modalities": ["text"],
        "audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "cedar"}},
        "max_output_tokens": 5, "usage": USAGE, "metadata": None}},
    {"event_id": "event_8006", "type": "response.function_call_arguments.done", "response_id": "resp_9",
     "item_id": "item_3", "output_index": 0, "call_id": "call_9", "name": "get_weather", "arguments": "{}"},
]


# ---- client events --------------------------------------------------------------------------------------------
def full_session() -> SessionConfig:
    return SessionConfig(
        model="gpt-realtime", modalities=["text", "audio"], instructions="Please assist the user.", voice="alloy",
        input_audio_format="g711_ulaw", output_audio_format="g711_alaw",
        input_audio_transcription=Transcription(model="whisper-1", language="en", prompt="kitchen, lights"),
        input_audio_noise_reduction=NoiseReduction(type="far_field"),
        turn_detection=TurnDetection(type="server_vad", threshold=0.8, prefix_padding_ms=500, silence_duration_ms=1000,
                                     create_response=True, interrupt_response=True, idle_timeout_ms=6000),
        tools=[WEATHER], tool_choice="auto", temperature=0.8, max_response_output_tokens=4096, speed=1.1)


def full_response_params() -> ResponseParams:
    return ResponseParams(
        modalities=["text"], instructions="Give me a haiku about code.", voice="alloy", output_audio_format="pcm16",
        tools=[WEATHER], tool_choice=ToolChoiceFunction(name="get_weather"), temperature=0.7,
        max_response_output_tokens=150, conversation="none", metadata={"purpose": "test"},
        input=[Item(type="message", role="user", content=[ContentPart(type="input_text", text="Hello")]),
               Item(type="message", role="assistant", content=[ContentPart(type="text", text="Hi.")])])


def client_builds() -> list[tuple[str, Any]]:
    """(id, event) for every builder, with every optional field set and with none."""
    pcm = bytes(range(256)) * 4
    return [
        ("session.update-min", session_update(SessionConfig())),
        ("session.update-full", session_update(full_session(), event_id="event_123")),
        ("session.update-ptt", session_update(SessionConfig(input_audio_format="pcm16", turn_detection=None))),
        ("session.update-semantic", session_update(SessionConfig(
            turn_detection=TurnDetection(type="semantic_vad", eagerness="low", create_response=False),
            input_audio_transcription=None, input_audio_noise_reduction=None,
            tool_choice=ToolChoiceFunction(name="get_weather"), tools=[WEATHER], max_response_output_tokens="inf"))),
        ("input_audio_buffer.append-min", input_audio_append(pcm)),
        ("input_audio_buffer.append-full", input_audio_append(pcm, event_id="event_456")),
        ("input_audio_buffer.commit-min", input_audio_commit()),
        ("input_audio_buffer.commit-full", input_audio_commit(event_id="event_789")),
        ("input_audio_buffer.clear-min", input_audio_clear()),
        ("input_audio_buffer.clear-full", input_audio_clear(event_id="event_012")),
        ("conversation.item.create-text-min", user_text("Turn on the kitchen lights.")),
        ("conversation.item.create-text-full", user_text("Hello", item_id="msg_001", previous_item_id="msg_000",
                                                         event_id="event_345")),
        ("conversation.item.create-text-root", user_text("Hello", previous_item_id=None)),
        ("conversation.item.create-audio-min", user_audio(pcm)),
        ("conversation.item.create-audio-full", user_audio(pcm, transcript="hello", item_id="msg_002",
                                                           previous_item_id="msg_001", event_id="event_346")),
        ("conversation.item.create-output-min", function_call_output("call_001", "{\"temp\": 21}")),
        ("conversation.item.create-output-full", function_call_output(
            "call_001", "{\"temp\": 21}", item_id="msg_004", previous_item_id="fc_001", event_id="event_347")),
        ("conversation.item.create-system", conversation_item_create(Item(
            type="message", role="system", content=[ContentPart(type="input_text", text="Be brief.")]))),
        ("conversation.item.create-assistant", conversation_item_create(Item(
            id="msg_010", type="message", role="assistant", status="completed",
            content=[ContentPart(type="text", text="Earlier answer.")]))),
        ("conversation.item.create-function_call", conversation_item_create(Item(
            type="function_call", call_id="call_002", name="get_weather", arguments="{}"))),
        ("conversation.item.truncate-min", item_truncate("msg_002", 0, 1500)),
        ("conversation.item.truncate-full", item_truncate("msg_002", 0, 1500, event_id="event_678")),
        ("conversation.item.delete-min", item_delete("msg_003")),
        ("conversation.item.delete-full", item_delete("msg_003", event_id="event_901")),
        ("response.create-min", response_create()),
        ("response.create-empty", response_create(ResponseParams())),
        ("response.create-full", response_create(full_response_params(), event_id="event_234")),
        ("response.create-audio", response_create(ResponseParams(
            modalities=["text", "audio"], voice="alloy", output_audio_format="g711_ulaw", tool_choice="none"))),
        ("response.cancel-min", response_cancel()),
        ("response.cancel-full", response_cancel("resp_001", event_id="event_567")),
    ]


def without(d: dict[str, Any], *paths: str) -> dict[str, Any]:
    """A deep copy of `d` without the dotted `paths` (missing ones are fine)."""
    d = copy.deepcopy(d)
    for path in paths:
        *parents, last = path.split(".")
        node: Any = d
        for p in parents:
            node = node.get(p) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(last, None)
    return d


__all__ = ["AUDIO_ITEM", "GA_ONLY_EXAMPLES", "GA_REQUIRED_EXTRAS", "GA_WIRE_EXAMPLES", "SEED_CLIENT_EVENTS",
           "SEED_SERVER_EVENTS", "SERVER_EXAMPLES", "UNSET", "client_builds", "full_response_params",
           "full_session", "without"]
