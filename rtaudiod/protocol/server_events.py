"""Server events as msgspec Structs, a tagged union on `type`, named by their beta (seed) names.

The 28 server events of the seeds, plus every other event of the `openai` package's GA union (3.57: 46 types; tests
enumerate it): `conversation.item.done`, `conversation.item.retrieved`,
`conversation.item.input_audio_transcription.delta` / `.segment`, `input_audio_buffer.timeout_triggered`,
`input_audio_buffer.dtmf_event_received`, `output_audio_buffer.started/stopped/cleared`, `mcp_list_tools.*` and
`response.mcp_call*`. GA names arrive mapped to these (`response.output_audio.delta` -> `ResponseAudioDelta`,
`conversation.item.added` -> `ConversationItemCreated`; see `dialect.py`).

Naming: an event the beta dialect also has keeps its beta name internally (the daemon matches one class whichever
dialect is on the wire). An event only GA has is named internally by its GA wire name, unchanged (so it is not in
`dialect.GA_SERVER_NAMES`, and written as is in either dialect); its class is the wire name in CamelCase without the
`Event` suffix of the openai model, shortened like its neighbours (`InputAudioTranscriptionSegment`,
`McpListToolsCompleted`, `ResponseMcpCallArgumentsDone`).

Fields the openai models require are required here (a frame without them is a `ProtocolError`), except `event_id`
(defaults to ""; `dtmf_event_received` has none) and the transcription `usage`; fields a server adds (the
`obfuscation` of deltas) are ignored. Anything else arrives as `UnknownEvent`.
"""

from __future__ import annotations

from typing import Any, Union

from msgspec import UNSET, Struct, UnsetType

from .models import Conversation, ContentPart, ErrorInfo, Item, RateLimit, Response, SessionConfig

__all__ = [
    "SERVER_EVENT_TYPES", "ConversationCreated", "ConversationItemCreated", "ConversationItemDeleted",
    "ConversationItemDone", "ConversationItemRetrieved", "ConversationItemTruncated", "ErrorEvent",
    "InputAudioBufferCleared", "InputAudioBufferCommitted", "InputAudioBufferDtmfEventReceived",
    "InputAudioBufferTimeoutTriggered", "InputAudioTranscriptionCompleted", "InputAudioTranscriptionDelta",
    "InputAudioTranscriptionFailed", "InputAudioTranscriptionSegment", "McpListToolsCompleted",
    "McpListToolsFailed", "McpListToolsInProgress", "OutputAudioBufferCleared", "OutputAudioBufferStarted",
    "OutputAudioBufferStopped", "RateLimitsUpdated", "ResponseAudioDelta", "ResponseAudioDone",
    "ResponseAudioTranscriptDelta", "ResponseAudioTranscriptDone", "ResponseContentPartAdded",
    "ResponseContentPartDone", "ResponseCreated", "ResponseDone", "ResponseFunctionCallArgumentsDelta",
    "ResponseFunctionCallArgumentsDone", "ResponseMcpCallArgumentsDelta", "ResponseMcpCallArgumentsDone",
    "ResponseMcpCallCompleted", "ResponseMcpCallFailed", "ResponseMcpCallInProgress", "ResponseOutputItemAdded",
    "ResponseOutputItemDone", "ResponseTextDelta", "ResponseTextDone", "ServerEvent", "ServerEventBase",
    "SessionCreated", "SessionUpdated", "SpeechStarted", "SpeechStopped", "UnknownEvent",
]


class ServerEventBase(Struct, tag_field="type", omit_defaults=True, kw_only=True):
    event_id: str = ""


class _Part(ServerEventBase, kw_only=True):
    """Fields of every event about one part of one output item."""

    response_id: str
    item_id: str
    output_index: int
    content_index: int


# ---- session and conversation --------------------------------------------------------------------------------
class ErrorEvent(ServerEventBase, tag="error", kw_only=True):
    error: ErrorInfo


class SessionCreated(ServerEventBase, tag="session.created", kw_only=True):
    session: SessionConfig


class SessionUpdated(ServerEventBase, tag="session.updated", kw_only=True):
    session: SessionConfig


class ConversationCreated(ServerEventBase, tag="conversation.created", kw_only=True):
    conversation: Conversation


class ConversationItemCreated(ServerEventBase, tag="conversation.item.created", kw_only=True):
    """An item entered the conversation (GA `conversation.item.added`; the item may still be `in_progress`)."""

    previous_item_id: str | None | UnsetType = UNSET
    item: Item


class ConversationItemDone(ServerEventBase, tag="conversation.item.done", kw_only=True):
    """GA only: an item is complete (beta clients learn it from `response.output_item.done`)."""

    previous_item_id: str | None | UnsetType = UNSET
    item: Item


class ConversationItemRetrieved(ServerEventBase, tag="conversation.item.retrieved", kw_only=True):
    item: Item


class ConversationItemTruncated(ServerEventBase, tag="conversation.item.truncated", kw_only=True):
    item_id: str
    content_index: int
    audio_end_ms: int


class ConversationItemDeleted(ServerEventBase, tag="conversation.item.deleted", kw_only=True):
    item_id: str


class InputAudioTranscriptionCompleted(
        ServerEventBase, tag="conversation.item.input_audio_transcription.completed", kw_only=True):
    item_id: str
    content_index: int
    transcript: str
    usage: dict[str, Any] | None | UnsetType = UNSET


class InputAudioTranscriptionDelta(
        ServerEventBase, tag="conversation.item.input_audio_transcription.delta", kw_only=True):
    item_id: str
    content_index: int | None | UnsetType = UNSET
    delta: str | None | UnsetType = UNSET


class InputAudioTranscriptionSegment(
        ServerEventBase, tag="conversation.item.input_audio_transcription.segment", kw_only=True):
    """GA only, from a diarizing transcription model (`gpt-4o-transcribe-diarize`): one stretch of the input
    audio, `start` / `end` in seconds, with its `speaker` label; `id` names the segment."""

    id: str
    item_id: str
    content_index: int
    text: str
    speaker: str
    start: float
    end: float


class InputAudioTranscriptionFailed(
        ServerEventBase, tag="conversation.item.input_audio_transcription.failed", kw_only=True):
    item_id: str
    content_index: int
    error: ErrorInfo


# ---- input audio buffer --------------------------------------------------------------------------------------
class InputAudioBufferCommitted(ServerEventBase, tag="input_audio_buffer.committed", kw_only=True):
    previous_item_id: str | None | UnsetType = UNSET
    item_id: str


class InputAudioBufferCleared(ServerEventBase, tag="input_audio_buffer.cleared", kw_only=True):
    pass


class SpeechStarted(ServerEventBase, tag="input_audio_buffer.speech_started", kw_only=True):
    """`audio_start_ms`: from the start of all audio written to the buffer in this session."""

    audio_start_ms: int
    item_id: str


class SpeechStopped(ServerEventBase, tag="input_audio_buffer.speech_stopped", kw_only=True):
    """`audio_end_ms` (the seeds' table says `audio_start_ms`; the service and the openai models say `_end_`)."""

    audio_end_ms: int
    item_id: str


class InputAudioBufferTimeoutTriggered(ServerEventBase, tag="input_audio_buffer.timeout_triggered", kw_only=True):
    """GA server VAD `idle_timeout_ms` expired."""

    audio_start_ms: int
    audio_end_ms: int
    item_id: str


class InputAudioBufferDtmfEventReceived(ServerEventBase, tag="input_audio_buffer.dtmf_event_received",
                                        kw_only=True):
    """GA only, SIP calls: a telephone key was pressed (`event`: 0-9, *, #, A-D), `received_at` in Unix seconds.
    The openai model has no `event_id`."""

    event: str
    received_at: int


class OutputAudioBufferStarted(ServerEventBase, tag="output_audio_buffer.started", kw_only=True):
    response_id: str


class OutputAudioBufferStopped(ServerEventBase, tag="output_audio_buffer.stopped", kw_only=True):
    response_id: str


class OutputAudioBufferCleared(ServerEventBase, tag="output_audio_buffer.cleared", kw_only=True):
    response_id: str


# ---- responses -----------------------------------------------------------------------------------------------
class ResponseCreated(ServerEventBase, tag="response.created", kw_only=True):
    response: Response


class ResponseDone(ServerEventBase, tag="response.done", kw_only=True):
    response: Response


class ResponseOutputItemAdded(ServerEventBase, tag="response.output_item.added", kw_only=True):
    response_id: str
    output_index: int
    item: Item


class ResponseOutputItemDone(ServerEventBase, tag="response.output_item.done", kw_only=True):
    response_id: str
    output_index: int
    item: Item


class ResponseContentPartAdded(_Part, tag="response.content_part.added", kw_only=True):
    part: ContentPart


class ResponseContentPartDone(_Part, tag="response.content_part.done", kw_only=True):
    part: ContentPart


class ResponseTextDelta(_Part, tag="response.text.delta", kw_only=True):
    """GA `response.output_text.delta`."""

    delta: str


class ResponseTextDone(_Part, tag="response.text.done", kw_only=True):
    """GA `response.output_text.done`; `text` is the whole text (the seeds' table calls it `delta`)."""

    text: str


class ResponseAudioTranscriptDelta(_Part, tag="response.audio_transcript.delta", kw_only=True):
    """GA `response.output_audio_transcript.delta`."""

    delta: str


class ResponseAudioTranscriptDone(_Part, tag="response.audio_transcript.done", kw_only=True):
    """GA `response.output_audio_transcript.done`."""

    transcript: str


class ResponseAudioDelta(_Part, tag="response.audio.delta", kw_only=True):
    """GA `response.output_audio.delta`; `delta` is base64 audio in the session's output format. The receive thread
    normally takes these through `rtaudiod.framing.decode_audio_delta_into` and never builds this struct."""

    delta: str


class ResponseAudioDone(_Part, tag="response.audio.done", kw_only=True):
    """GA `response.output_audio.done`."""


class ResponseFunctionCallArgumentsDelta(ServerEventBase, tag="response.function_call_arguments.delta",
                                         kw_only=True):
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    delta: str


class ResponseFunctionCallArgumentsDone(ServerEventBase, tag="response.function_call_arguments.done",
                                        kw_only=True):
    """`name` is sent by GA only."""

    response_id: str
    item_id: str
    output_index: int
    call_id: str
    arguments: str
    name: str | None | UnsetType = UNSET


# ---- remote MCP tools (GA only) ---------------------------------------------------------------------------------
class _McpListTools(ServerEventBase, kw_only=True):
    """The service lists an MCP server's tools into the `mcp_list_tools` item `item_id`."""

    item_id: str


class McpListToolsInProgress(_McpListTools, tag="mcp_list_tools.in_progress", kw_only=True):
    pass


class McpListToolsCompleted(_McpListTools, tag="mcp_list_tools.completed", kw_only=True):
    pass


class McpListToolsFailed(_McpListTools, tag="mcp_list_tools.failed", kw_only=True):
    pass


class _McpCall(ServerEventBase, kw_only=True):
    """The service runs a tool on an MCP server: the `mcp_call` item `item_id` (its result and error are in the
    item of `response.output_item.done`)."""

    item_id: str
    output_index: int


class ResponseMcpCallInProgress(_McpCall, tag="response.mcp_call.in_progress", kw_only=True):
    pass


class ResponseMcpCallCompleted(_McpCall, tag="response.mcp_call.completed", kw_only=True):
    pass


class ResponseMcpCallFailed(_McpCall, tag="response.mcp_call.failed", kw_only=True):
    pass


class ResponseMcpCallArgumentsDelta(_McpCall, tag="response.mcp_call_arguments.delta", kw_only=True):
    response_id: str
    delta: str


class ResponseMcpCallArgumentsDone(_McpCall, tag="response.mcp_call_arguments.done", kw_only=True):
    response_id: str
    arguments: str


class RateLimitsUpdated(ServerEventBase, tag="rate_limits.updated", kw_only=True):
    rate_limits: list[RateLimit]


ServerEvent = Union[
    ErrorEvent, SessionCreated, SessionUpdated, ConversationCreated, ConversationItemCreated, ConversationItemDone,
    ConversationItemRetrieved, ConversationItemTruncated, ConversationItemDeleted, InputAudioTranscriptionCompleted,
    InputAudioTranscriptionDelta, InputAudioTranscriptionFailed, InputAudioBufferCommitted, InputAudioBufferCleared,
    SpeechStarted, SpeechStopped, InputAudioBufferTimeoutTriggered, OutputAudioBufferStarted,
    OutputAudioBufferStopped, OutputAudioBufferCleared, ResponseCreated, ResponseDone, ResponseOutputItemAdded,
    ResponseOutputItemDone, ResponseContentPartAdded, ResponseContentPartDone, ResponseTextDelta, ResponseTextDone,
    ResponseAudioTranscriptDelta, ResponseAudioTranscriptDone, ResponseAudioDelta, ResponseAudioDone,
    ResponseFunctionCallArgumentsDelta, ResponseFunctionCallArgumentsDone, RateLimitsUpdated,
    InputAudioTranscriptionSegment, InputAudioBufferDtmfEventReceived, McpListToolsInProgress, McpListToolsCompleted,
    McpListToolsFailed, ResponseMcpCallInProgress, ResponseMcpCallCompleted, ResponseMcpCallFailed,
    ResponseMcpCallArgumentsDelta, ResponseMcpCallArgumentsDone,
]
#: internal type name -> Struct class
SERVER_EVENT_TYPES: dict[str, type] = {cls.__struct_config__.tag: cls for cls in ServerEvent.__args__}


class UnknownEvent(Struct, kw_only=True):
    """A server event of a type this module does not know, kept as the decoded JSON object (never an error)."""

    type: str
    raw: dict[str, Any]
