"""Nested objects of the internal event model: session configuration, conversation items and their content parts,
responses, usage, rate limits, errors.

The internal model has the beta (seed) shape: flat session fields (`input_audio_format: "pcm16"`, `voice`,
`turn_detection`, `max_response_output_tokens`), assistant content parts `text` / `audio`. A few GA-only fields are
here too (`TurnDetection.idle_timeout_ms`; `ResponseFunctionCallArgumentsDone.name` in `server_events.py`; the
MCP item fields; the session's `reasoning`, `prompt`, `truncation`); `dialect.py` maps everything to and from each
wire dialect. GA-only session fields with no beta counterpart (`reasoning`, `prompt`, `truncation`) are refused,
not dropped, when written in beta (`codec.encode_client_event`). Every optional field defaults to `UNSET` and
structs omit defaults, so an event built from these never carries a key its builder did not set; `None` is sent as JSON
`null` (e.g. `turn_detection=None` turns server VAD off). Every optional field also takes `None` on input: the
service sends explicit nulls for fields it has no value for, and such an event must be read, not lost.
Enumerations are plain `str` where the service adds values over time (a client must not reject them); the audio
formats the daemon depends on are checked.
"""

from __future__ import annotations

from typing import Any, Literal, Union

from msgspec import UNSET, Struct, UnsetType

__all__ = [
    "AUDIO_FORMATS", "AudioFormat", "ContentPart", "Conversation", "ErrorInfo", "InputTokenDetails", "Item",
    "MaxTokens", "McpError", "McpListedTool", "NoiseReduction", "OutputTokenDetails", "Prompt", "RateLimit",
    "Reasoning", "Response", "ResponseError", "ResponseParams", "SessionConfig", "StatusDetails", "TokenLimits",
    "Tool", "ToolChoice", "ToolChoiceFunction", "Transcription", "Truncation", "TruncationStrategy", "TurnDetection",
    "Usage",
]

#: Audio formats by their beta names: 16-bit LE mono 24 kHz; G.711 u-law / A-law, 8 kHz, one byte a sample.
AudioFormat = Literal["pcm16", "g711_ulaw", "g711_alaw"]
AUDIO_FORMATS: tuple[str, ...] = ("pcm16", "g711_ulaw", "g711_alaw")
#: A token limit: 1..4096, or "inf".
MaxTokens = Union[int, Literal["inf"]]


class _Obj(Struct, omit_defaults=True, kw_only=True):
    """Base of every nested object: keyword-only, unset fields left out of the JSON."""


# ---- session configuration -----------------------------------------------------------------------------------
class TurnDetection(_Obj):
    """Server VAD (`server_vad`) or semantic VAD (`semantic_vad`). `idle_timeout_ms` is GA-only (dropped in beta);
    GA accepts only each type's own fields (`threshold`, `prefix_padding_ms`, `silence_duration_ms`,
    `idle_timeout_ms` for `server_vad`; `eagerness` for `semantic_vad`), the GA mapping drops the others."""

    type: str | None | UnsetType = UNSET
    threshold: float | None | UnsetType = UNSET
    prefix_padding_ms: int | None | UnsetType = UNSET
    silence_duration_ms: int | None | UnsetType = UNSET
    create_response: bool | None | UnsetType = UNSET
    interrupt_response: bool | None | UnsetType = UNSET
    eagerness: str | None | UnsetType = UNSET
    idle_timeout_ms: int | None | UnsetType = UNSET


class Transcription(_Obj):
    """Input audio transcription (beta `input_audio_transcription`, GA `audio.input.transcription`)."""

    model: str | None | UnsetType = UNSET
    language: str | None | UnsetType = UNSET
    prompt: str | None | UnsetType = UNSET


class NoiseReduction(_Obj):
    """`near_field` or `far_field` (beta `input_audio_noise_reduction`, GA `audio.input.noise_reduction`)."""

    type: str | None | UnsetType = UNSET


class Tool(_Obj):
    """A tool: a `function` the model may call (`name`, `description`, `parameters`, a JSON Schema object), or, GA
    only, an `mcp` server the service calls itself (`server_label`; `server_url` or `connector_id`;
    `allowed_tools`, `require_approval`, `headers`, `authorization`, `server_description`)."""

    type: str | None | UnsetType = UNSET
    name: str | None | UnsetType = UNSET
    description: str | None | UnsetType = UNSET
    parameters: dict[str, Any] | None | UnsetType = UNSET
    server_label: str | None | UnsetType = UNSET
    server_url: str | None | UnsetType = UNSET
    connector_id: str | None | UnsetType = UNSET
    allowed_tools: Any = UNSET  # a list of names, or a filter object
    require_approval: Any = UNSET  # "always", "never", or a filter object
    headers: dict[str, str] | None | UnsetType = UNSET
    authorization: str | None | UnsetType = UNSET
    server_description: str | None | UnsetType = UNSET


class ToolChoiceFunction(_Obj):
    """Force one function: GA `{"type": "function", "name": ...}` (the mapping writes `type`); beta has only a
    string `tool_choice` and gets the bare name."""

    name: str


ToolChoice = Union[str, ToolChoiceFunction]


class Reasoning(_Obj):
    """GA only: `effort` (`minimal`, `low`, `medium`, `high`, `xhigh`) for reasoning-capable models such as
    `gpt-realtime-2` (openai `RealtimeReasoning`; the service decides which models take it)."""

    effort: str | None | UnsetType = UNSET


class Prompt(_Obj):
    """GA only: a reference to a stored prompt template (openai `ResponsePrompt`): `id`, optional `version`, and
    `variables` (each a string, or an input object such as `{"type": "input_text", "text": ...}`)."""

    id: str
    version: str | None | UnsetType = UNSET
    variables: dict[str, Any] | None | UnsetType = UNSET


class TokenLimits(_Obj):
    post_instructions: int | None | UnsetType = UNSET


class Truncation(Struct, kw_only=True):
    """GA only: the `retention_ratio` strategy (openai `RealtimeTruncationRetentionRatio`): when the conversation
    outgrows the input token limit, drop old messages until `retention_ratio` (0.0-1.0) of the allowed
    post-instruction tokens is used, so truncations are rarer and the prompt cache lasts. Defaults are not
    omitted here: `type` is always sent (the service requires it); unset `token_limits` still is."""

    type: str = "retention_ratio"
    retention_ratio: float
    token_limits: TokenLimits | None | UnsetType = UNSET


#: GA session `truncation`: `"auto"`, `"disabled"`, or a `Truncation` object.
TruncationStrategy = Union[str, Truncation]


class SessionConfig(_Obj):
    """A session, flat (beta shape). In `session.update` only what you set is sent; in `session.created` /
    `.updated` it is the server's full view (`id` set; never sent back). `modalities`: `["text"]` or
    `["text", "audio"]` (GA `output_modalities` `["text"]` / `["audio"]`). `temperature` has no GA counterpart
    (dropped in GA). `speed` (0.25-1.5) is in both (GA `audio.output.speed`). `reasoning`, `prompt` and
    `truncation` are GA only: encoding a `session.update` that sets one in beta raises `ProtocolError`."""

    id: str | None | UnsetType = UNSET
    model: str | None | UnsetType = UNSET
    modalities: list[str] | None | UnsetType = UNSET
    instructions: str | None | UnsetType = UNSET
    voice: str | None | UnsetType = UNSET
    input_audio_format: AudioFormat | None | UnsetType = UNSET
    output_audio_format: AudioFormat | None | UnsetType = UNSET
    input_audio_transcription: Transcription | None | UnsetType = UNSET
    input_audio_noise_reduction: NoiseReduction | None | UnsetType = UNSET
    turn_detection: TurnDetection | None | UnsetType = UNSET
    tools: list[Tool] | None | UnsetType = UNSET
    tool_choice: ToolChoice | None | UnsetType = UNSET
    temperature: float | None | UnsetType = UNSET
    max_response_output_tokens: MaxTokens | None | UnsetType = UNSET
    speed: float | None | UnsetType = UNSET
    reasoning: Reasoning | None | UnsetType = UNSET
    prompt: Prompt | None | UnsetType = UNSET
    truncation: TruncationStrategy | None | UnsetType = UNSET


# ---- conversation items --------------------------------------------------------------------------------------
class ContentPart(_Obj):
    """One content part. Types: `input_text`, `input_audio` (user), `text`, `audio` (assistant; GA `output_text`,
    `output_audio` on items), `input_image` (GA). `audio` is base64."""

    type: str | None | UnsetType = UNSET
    text: str | None | UnsetType = UNSET
    audio: str | None | UnsetType = UNSET
    transcript: str | None | UnsetType = UNSET
    image_url: str | None | UnsetType = UNSET
    detail: str | None | UnsetType = UNSET


class McpListedTool(_Obj):
    """One tool an MCP server offers (in an `mcp_list_tools` item); `input_schema` is a JSON Schema object."""

    name: str | None | UnsetType = UNSET
    input_schema: Any = UNSET
    description: str | None | UnsetType = UNSET
    annotations: Any = UNSET


class McpError(_Obj):
    """Why an `mcp_call` failed: `protocol_error` (`code`), `tool_execution_error`, `http_error` (`code`)."""

    type: str | None | UnsetType = UNSET
    code: int | None | UnsetType = UNSET
    message: str | None | UnsetType = UNSET


class Item(_Obj):
    """A conversation item, one struct for every type (the fields of the others stay unset):
    `message` (`role`, `content`), `function_call` (`call_id`, `name`, `arguments`), `function_call_output`
    (`call_id`, `output`), and GA's remote MCP items: `mcp_call` (`server_label`, `name`, `arguments`, `output`,
    `error`, `approval_request_id`), `mcp_list_tools` (`server_label`, `tools`), `mcp_approval_request`
    (`server_label`, `name`, `arguments`) and `mcp_approval_response` (`approval_request_id`, `approve`,
    `reason`)."""

    id: str | None | UnsetType = UNSET
    type: str | None | UnsetType = UNSET
    object: str | None | UnsetType = UNSET
    status: str | None | UnsetType = UNSET
    role: str | None | UnsetType = UNSET
    content: list[ContentPart] | None | UnsetType = UNSET
    call_id: str | None | UnsetType = UNSET
    name: str | None | UnsetType = UNSET
    arguments: str | None | UnsetType = UNSET
    output: str | None | UnsetType = UNSET
    server_label: str | None | UnsetType = UNSET
    tools: list[McpListedTool] | None | UnsetType = UNSET
    error: McpError | None | UnsetType = UNSET
    approval_request_id: str | None | UnsetType = UNSET
    approve: bool | None | UnsetType = UNSET
    reason: str | None | UnsetType = UNSET


# ---- responses -----------------------------------------------------------------------------------------------
class ResponseParams(_Obj):
    """Per-response overrides of `response.create` (beta shape; GA: `output_modalities`,
    `audio.output.{format,voice}`, `max_output_tokens`; `temperature` dropped in GA). `conversation`: `auto` or
    `none` (out of band); `input`: the items to use instead of the conversation."""

    modalities: list[str] | None | UnsetType = UNSET
    instructions: str | None | UnsetType = UNSET
    voice: str | None | UnsetType = UNSET
    output_audio_format: AudioFormat | None | UnsetType = UNSET
    tools: list[Tool] | None | UnsetType = UNSET
    tool_choice: ToolChoice | None | UnsetType = UNSET
    temperature: float | None | UnsetType = UNSET
    max_response_output_tokens: MaxTokens | None | UnsetType = UNSET
    conversation: str | None | UnsetType = UNSET
    metadata: dict[str, str] | None | UnsetType = UNSET
    input: list[Item] | None | UnsetType = UNSET


class ResponseError(_Obj):
    type: str | None | UnsetType = UNSET
    code: str | None | UnsetType = UNSET
    message: str | None | UnsetType = UNSET


class StatusDetails(_Obj):
    """Why a response is `cancelled` (`turn_detected`, `client_cancelled`), `incomplete` (`max_output_tokens`,
    `content_filter`) or `failed` (`error`)."""

    type: str | None | UnsetType = UNSET
    reason: str | None | UnsetType = UNSET
    error: ResponseError | None | UnsetType = UNSET


class InputTokenDetails(_Obj):
    text_tokens: int | None | UnsetType = UNSET
    audio_tokens: int | None | UnsetType = UNSET
    cached_tokens: int | None | UnsetType = UNSET


class OutputTokenDetails(_Obj):
    text_tokens: int | None | UnsetType = UNSET
    audio_tokens: int | None | UnsetType = UNSET


class Usage(_Obj):
    total_tokens: int | None | UnsetType = UNSET
    input_tokens: int | None | UnsetType = UNSET
    output_tokens: int | None | UnsetType = UNSET
    input_token_details: InputTokenDetails | None | UnsetType = UNSET
    output_token_details: OutputTokenDetails | None | UnsetType = UNSET


class Response(_Obj):
    """A response as the server reports it (`response.created` / `.done`). `status`: `in_progress`, `completed`,
    `cancelled`, `failed`, `incomplete`. GA's `output_modalities` / `audio.output` arrive as `modalities`,
    `output_audio_format`, `voice`."""

    id: str | None | UnsetType = UNSET
    object: str | None | UnsetType = UNSET
    status: str | None | UnsetType = UNSET
    status_details: StatusDetails | None | UnsetType = UNSET
    output: list[Item] | None | UnsetType = UNSET
    conversation_id: str | None | UnsetType = UNSET
    modalities: list[str] | None | UnsetType = UNSET
    voice: str | None | UnsetType = UNSET
    output_audio_format: AudioFormat | None | UnsetType = UNSET
    temperature: float | None | UnsetType = UNSET
    max_output_tokens: MaxTokens | None | UnsetType = UNSET
    usage: Usage | None | UnsetType = UNSET
    metadata: dict[str, str] | None | UnsetType = UNSET


# ---- misc ----------------------------------------------------------------------------------------------------
class RateLimit(_Obj):
    name: str | None | UnsetType = UNSET
    limit: int | None | UnsetType = UNSET
    remaining: int | None | UnsetType = UNSET
    reset_seconds: float | None | UnsetType = UNSET


class ErrorInfo(_Obj):
    """The `error` object of `error` and `...transcription.failed` events; `event_id` names the client event that
    caused it."""

    type: str | None | UnsetType = UNSET
    code: str | None | UnsetType = UNSET
    message: str | None | UnsetType = UNSET
    param: str | None | UnsetType = UNSET
    event_id: str | None | UnsetType = UNSET


class Conversation(_Obj):
    id: str | None | UnsetType = UNSET
    object: str | None | UnsetType = UNSET
