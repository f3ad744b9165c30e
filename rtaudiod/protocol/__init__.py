"""The Realtime protocol in both wire dialects, as typed events (no I/O).

One internal event model, named and shaped like the seeds (the beta dialect); `dialect.py` maps it to and from
the wire of either dialect, `beta` (`OpenAI-Beta: realtime=v1`) or `ga` (the current service). Reading accepts the
names and shapes of both dialects; writing uses the configured one.

Decoding (receive thread, every non-audio event):
    decode_server_event(frame: bytes | bytearray | memoryview | str, dialect="ga") -> ServerEvent | UnknownEvent
        A msgspec Struct of the tagged union `ServerEvent` (`ResponseAudioTranscriptDelta`, `ResponseDone`, ...),
        or `UnknownEvent(type, raw)` for a type not modelled here. Raises only `ProtocolError` (a ValueError;
        `.event_type`, `.path`) for broken JSON, a non-object, no `type`, or missing/mistyped fields.
    Codec(dialect)              .decode(frame), .encode(event), .unknown (Counter of unknown wire types)
    SERVER_EVENT_TYPES          internal type name -> Struct class

Encoding and building (any thread):
    encode_client_event(event: ClientEvent, dialect="ga") -> bytes
    session_update(SessionConfig(...), event_id=None)          input_audio_append(audio: bytes, event_id=None)
    input_audio_commit(event_id=None)                         input_audio_clear(event_id=None)
    user_text(text, item_id=None, previous_item_id=UNSET, event_id=None)
    assistant_text(text, item_id=None, previous_item_id=UNSET, event_id=None)    (history replay)
    user_audio(audio: bytes, transcript=None, item_id=None, previous_item_id=UNSET, event_id=None)
    user_image(image_url, text=None, detail=None, item_id=None, event_id=None)       (GA: a data URL image)
    mcp_approval_response(approval_request_id, approve, item_id=..., reason=None)   (GA: answer an MCP approval)
    function_call_output(call_id, output, item_id=None, previous_item_id=UNSET, event_id=None)
    conversation_item_create(Item(...), previous_item_id=UNSET, event_id=None)
    item_truncate(item_id, content_index, audio_end_ms, event_id=None)    item_delete(item_id, event_id=None)
    response_create(ResponseParams(...) | None, event_id=None)            response_cancel(response_id=None, ...)
    function_tool(name, description=None, parameters=None) -> Tool
    mcp_tool(server_label, server_url=None, connector_id=None, ...) -> Tool                   (GA remote MCP server)
    prompt_reference(prompt_id, version=None, variables=None) -> Prompt                     (GA session `prompt`)
    retention_truncation(retention_ratio, post_instructions=None) -> Truncation           (GA session `truncation`)
    decode_client_event(frame) -> ClientEvent                  (round trips, recordings)

Connecting:
    realtime_url(model, base_url="wss://api.openai.com/v1/realtime") -> str
    headers(dialect, api_key) -> Headers    [(name, value)], `.lines()` for websocket-client; repr hides the key
    Endpoint(model, dialect, api_key, base_url)   `.url`, `.headers()`; repr hides the key

Nested objects (`models.py`): SessionConfig, TurnDetection, Transcription, NoiseReduction, Tool,
ToolChoiceFunction, Reasoning, Prompt, Truncation (+ TokenLimits), Item (+ McpListedTool, McpError for the MCP
items), ContentPart, ResponseParams, Response, StatusDetails, Usage, RateLimit, ErrorInfo.
Optional fields default to `msgspec.UNSET` and are never sent unset; `None` is sent as `null`. Session `reasoning`,
`prompt` and `truncation` are GA only: encoding them in beta raises `ProtocolError` (`speed` is in both); so do
an MCP tool in a beta `session.update` and an `input_image` part in a beta `conversation.item.create`.

Modules: `models` (nested objects), `client_events` (9), `server_events` (28 of the seeds + 17 the service also
sends: every type of the openai package's GA union; GA-only ones keep their GA name), `dialect` (the table: names,
headers, whole events), `shapes` (session / response / item shapes), `codec` (frames), `builders`, `endpoint`,
`errors`. Internal names are the seeds' (beta) names: the daemon matches
`ResponseAudioTranscriptDelta` whichever dialect is on the wire.
"""

from msgspec import UNSET

from .builders import (assistant_text, conversation_item_create, function_call_output, function_tool,
                       input_audio_append, input_audio_clear, input_audio_commit, item_delete, item_truncate,
                       mcp_approval_response, mcp_tool, prompt_reference, response_cancel, response_create,
                       retention_truncation, session_update, user_audio, user_image, user_text)
from .client_events import (CLIENT_EVENT_TYPES, ClientEvent, ClientEventBase, ConversationItemCreate,
                            ConversationItemDelete, ConversationItemTruncate, InputAudioBufferAppend,
                            InputAudioBufferClear, InputAudioBufferCommit, ResponseCancel, ResponseCreate,
                            SessionUpdate)
from .codec import Codec, decode_client_event, decode_server_event, encode_client_event
from .dialect import Dialect
from .endpoint import DEFAULT_BASE_URL, Endpoint, Headers, headers, realtime_url
from .errors import ProtocolError
from .models import (AUDIO_FORMATS, AudioFormat, ContentPart, Conversation, ErrorInfo, InputTokenDetails, Item,
                     MaxTokens, McpError, McpListedTool, NoiseReduction, OutputTokenDetails, Prompt, RateLimit,
                     Reasoning, Response, ResponseError, ResponseParams, SessionConfig, StatusDetails, TokenLimits,
                     Tool, ToolChoice, ToolChoiceFunction, Transcription, Truncation, TruncationStrategy,
                     TurnDetection, Usage)
from .server_events import (ConversationCreated, ConversationItemCreated, ConversationItemDeleted,
                            ConversationItemDone, ConversationItemRetrieved, ConversationItemTruncated, ErrorEvent,
                            InputAudioBufferCleared, InputAudioBufferCommitted, InputAudioBufferDtmfEventReceived,
                            InputAudioBufferTimeoutTriggered, InputAudioTranscriptionCompleted,
                            InputAudioTranscriptionDelta, InputAudioTranscriptionFailed,
                            InputAudioTranscriptionSegment, McpListToolsCompleted, McpListToolsFailed,
                            McpListToolsInProgress, OutputAudioBufferCleared, OutputAudioBufferStarted,
                            OutputAudioBufferStopped, RateLimitsUpdated, ResponseAudioDelta, ResponseAudioDone,
                            ResponseAudioTranscriptDelta, ResponseAudioTranscriptDone, ResponseContentPartAdded,
                            ResponseContentPartDone, ResponseCreated, ResponseDone,
                            ResponseFunctionCallArgumentsDelta, ResponseFunctionCallArgumentsDone,
                            ResponseMcpCallArgumentsDelta, ResponseMcpCallArgumentsDone, ResponseMcpCallCompleted,
                            ResponseMcpCallFailed, ResponseMcpCallInProgress, ResponseOutputItemAdded,
                            ResponseOutputItemDone, ResponseTextDelta, ResponseTextDone,
                            SERVER_EVENT_TYPES, ServerEvent, ServerEventBase, SessionCreated, SessionUpdated,
                            SpeechStarted, SpeechStopped, UnknownEvent)

__all__ = [
    "AUDIO_FORMATS", "AudioFormat", "CLIENT_EVENT_TYPES", "ClientEvent", "ClientEventBase", "Codec", "ContentPart",
    "Conversation", "ConversationCreated", "ConversationItemCreate", "ConversationItemCreated",
    "ConversationItemDelete", "ConversationItemDeleted", "ConversationItemDone", "ConversationItemRetrieved",
    "ConversationItemTruncate", "ConversationItemTruncated", "DEFAULT_BASE_URL", "Dialect", "Endpoint",
    "ErrorEvent", "ErrorInfo", "Headers", "InputAudioBufferAppend", "InputAudioBufferClear",
    "InputAudioBufferCleared", "InputAudioBufferCommit", "InputAudioBufferCommitted",
    "InputAudioBufferDtmfEventReceived", "InputAudioBufferTimeoutTriggered", "InputAudioTranscriptionCompleted",
    "InputAudioTranscriptionDelta", "InputAudioTranscriptionFailed", "InputAudioTranscriptionSegment",
    "InputTokenDetails", "Item", "MaxTokens", "McpError", "McpListToolsCompleted", "McpListToolsFailed",
    "McpListToolsInProgress", "McpListedTool", "NoiseReduction", "OutputAudioBufferCleared",
    "OutputAudioBufferStarted", "OutputAudioBufferStopped", "OutputTokenDetails", "Prompt", "ProtocolError",
    "RateLimit", "RateLimitsUpdated", "Reasoning", "Response", "ResponseAudioDelta", "ResponseAudioDone",
    "ResponseAudioTranscriptDelta", "ResponseAudioTranscriptDone", "ResponseCancel", "ResponseContentPartAdded",
    "ResponseContentPartDone", "ResponseCreate", "ResponseCreated", "ResponseDone", "ResponseError",
    "ResponseFunctionCallArgumentsDelta", "ResponseFunctionCallArgumentsDone", "ResponseMcpCallArgumentsDelta",
    "ResponseMcpCallArgumentsDone", "ResponseMcpCallCompleted", "ResponseMcpCallFailed",
    "ResponseMcpCallInProgress", "ResponseOutputItemAdded", "ResponseOutputItemDone", "ResponseParams",
    "ResponseTextDelta", "ResponseTextDone", "SERVER_EVENT_TYPES", "ServerEvent", "ServerEventBase",
    "SessionConfig", "SessionCreated", "SessionUpdate", "SessionUpdated", "SpeechStarted", "SpeechStopped",
    "StatusDetails", "TokenLimits", "Tool", "ToolChoice", "ToolChoiceFunction", "Transcription", "Truncation",
    "TruncationStrategy", "TurnDetection", "UNSET", "UnknownEvent", "Usage", "assistant_text",
    "conversation_item_create", "decode_client_event", "decode_server_event", "encode_client_event",
    "function_call_output", "function_tool", "headers", "input_audio_append", "input_audio_clear",
    "input_audio_commit", "item_delete", "item_truncate", "mcp_approval_response", "mcp_tool", "prompt_reference",
    "realtime_url", "response_cancel", "response_create", "retention_truncation", "session_update", "user_audio",
    "user_image", "user_text",
]
