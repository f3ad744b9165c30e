"""Builders for every client event, in the internal model (encode with `codec.encode_client_event` for either
dialect). Every `event_id` is optional; nothing the caller leaves out is sent.

The uplink's hot path frames audio with `rtaudiod.framing.encode_append`; `input_audio_append` here builds the
same event (its encoding is byte-for-byte the same).
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET, UnsetType

from rtaudiod.codecs import b64encode

from .client_events import (ConversationItemCreate, ConversationItemDelete, ConversationItemTruncate,
                            InputAudioBufferAppend, InputAudioBufferClear, InputAudioBufferCommit, ResponseCancel,
                            ResponseCreate, SessionUpdate)
from .models import ContentPart, Item, Prompt, ResponseParams, SessionConfig, TokenLimits, Tool, Truncation

__all__ = [
    "assistant_text", "conversation_item_create", "function_call_output", "function_tool", "input_audio_append",
    "input_audio_clear", "input_audio_commit", "item_delete", "item_truncate", "mcp_approval_response", "mcp_tool",
    "prompt_reference", "response_cancel",
    "response_create", "retention_truncation", "session_update", "user_audio", "user_image", "user_text",
]


def _opt(value: Any) -> Any:
    """A builder argument left at None is not sent (UNSET)."""
    return UNSET if value is None else value


def session_update(session: SessionConfig, *, event_id: str | None = None) -> SessionUpdate:
    """`session.update` with the fields set in `session` (e.g. `SessionConfig(input_audio_format="g711_ulaw",
    turn_detection=None)` for push-to-talk over G.711)."""
    return SessionUpdate(session=session, event_id=_opt(event_id))


def function_tool(name: str, description: str | None = None, parameters: dict[str, Any] | None = None) -> Tool:
    """A function tool for `SessionConfig.tools` / `ResponseParams.tools`."""
    return Tool(type="function", name=name, description=_opt(description), parameters=_opt(parameters))


def mcp_tool(server_label: str, *, server_url: str | None = None, connector_id: str | None = None,
             allowed_tools: list[str] | None = None, require_approval: str | dict[str, Any] | None = None,
             headers: dict[str, str] | None = None, authorization: str | None = None,
             server_description: str | None = None) -> Tool:
    """GA: a remote MCP server (`server_url`) or a built-in connector (`connector_id`) whose tools the service
    itself calls. `require_approval`: `"always"`, `"never"`, or `{"never": {"tool_names": [...]}}`-style filters.
    `headers` and `authorization` are secrets: they go to the service only, never into a log or a status."""
    return Tool(type="mcp", server_label=server_label, server_url=_opt(server_url), connector_id=_opt(connector_id),
                allowed_tools=_opt(allowed_tools), require_approval=_opt(require_approval), headers=_opt(headers),
                authorization=_opt(authorization), server_description=_opt(server_description))


def mcp_approval_response(approval_request_id: str, approve: bool, *, item_id: str, reason: str | None = None,
                          event_id: str | None = None) -> ConversationItemCreate:
    """GA: the answer to an `mcp_approval_request` item (approve or decline the MCP tool call it names); follow it
    with `response_create()` so the model goes on. The item needs an id of the client's (at most 32 characters;
    openai `RealtimeMcpApprovalResponse.id` is required)."""
    item = Item(type="mcp_approval_response", id=item_id, approval_request_id=approval_request_id, approve=approve,
                reason=_opt(reason))
    return conversation_item_create(item, event_id=event_id)


def prompt_reference(prompt_id: str, version: str | None = None,
                     variables: dict[str, Any] | None = None) -> Prompt:
    """GA `SessionConfig.prompt`: a stored prompt template by id (its latest version unless `version`), with
    `variables` substituted (strings, or input objects such as `{"type": "input_text", "text": ...}`)."""
    return Prompt(id=prompt_id, version=_opt(version), variables=_opt(variables))


def retention_truncation(retention_ratio: float, post_instructions: int | None = None) -> Truncation:
    """GA `SessionConfig.truncation` by retention ratio (0.0-1.0), optionally with a token limit for the conversation
    after the instructions (else the model's own)."""
    limits = UNSET if post_instructions is None else TokenLimits(post_instructions=post_instructions)
    return Truncation(retention_ratio=retention_ratio, token_limits=limits)


def input_audio_append(audio: bytes, *, event_id: str | None = None) -> InputAudioBufferAppend:
    """`input_audio_buffer.append` of raw audio in the session's input format (base64-encoded here)."""
    return InputAudioBufferAppend(audio=b64encode(audio).decode("ascii"), event_id=_opt(event_id))


def input_audio_commit(*, event_id: str | None = None) -> InputAudioBufferCommit:
    return InputAudioBufferCommit(event_id=_opt(event_id))


def input_audio_clear(*, event_id: str | None = None) -> InputAudioBufferClear:
    return InputAudioBufferClear(event_id=_opt(event_id))


def conversation_item_create(item: Item, *, previous_item_id: str | None | UnsetType = UNSET,
                             event_id: str | None = None) -> ConversationItemCreate:
    """`conversation.item.create` of any item. `previous_item_id` unset appends; `None` is sent as `null`."""
    return ConversationItemCreate(item=item, previous_item_id=previous_item_id, event_id=_opt(event_id))


def user_text(text: str, *, item_id: str | None = None, previous_item_id: str | None | UnsetType = UNSET,
              event_id: str | None = None) -> ConversationItemCreate:
    """A user message with one `input_text` part."""
    item = Item(type="message", role="user", content=[ContentPart(type="input_text", text=text)],
                id=_opt(item_id))
    return conversation_item_create(item, previous_item_id=previous_item_id, event_id=event_id)


def user_image(image_url: str, *, text: str | None = None, detail: str | None = None,
               item_id: str | None = None, event_id: str | None = None) -> ConversationItemCreate:
    """A user message with an `input_image` part (GA only: `image_url` is a base64 data URL, `data:image/jpeg;base64,
    ...`), after an `input_text` part when `text` is given (the question about the image). `detail`: `auto`, `low`
    or `high`."""
    parts = [ContentPart(type="input_text", text=text)] if text else []
    parts.append(ContentPart(type="input_image", image_url=image_url, detail=_opt(detail)))
    item = Item(type="message", role="user", content=parts, id=_opt(item_id))
    return conversation_item_create(item, event_id=event_id)


def assistant_text(text: str, *, item_id: str | None = None, previous_item_id: str | None | UnsetType = UNSET,
                   event_id: str | None = None) -> ConversationItemCreate:
    """An assistant message with one text part, to replay history (after a reconnect, say). The part is `text` here
    and in beta; GA takes `output_text` for assistant messages (the dialect table writes it)."""
    item = Item(type="message", role="assistant", content=[ContentPart(type="text", text=text)], id=_opt(item_id))
    return conversation_item_create(item, previous_item_id=previous_item_id, event_id=event_id)


def user_audio(audio: bytes, *, transcript: str | None = None, item_id: str | None = None,
               previous_item_id: str | None | UnsetType = UNSET,
               event_id: str | None = None) -> ConversationItemCreate:
    """A user message with one `input_audio` part (raw audio in the session's input format, base64-encoded here)."""
    part = ContentPart(type="input_audio", audio=b64encode(audio).decode("ascii"),
                       transcript=_opt(transcript))
    item = Item(type="message", role="user", content=[part], id=_opt(item_id))
    return conversation_item_create(item, previous_item_id=previous_item_id, event_id=event_id)


def function_call_output(call_id: str, output: str, *, item_id: str | None = None,
                         previous_item_id: str | None | UnsetType = UNSET,
                         event_id: str | None = None) -> ConversationItemCreate:
    """The result of a function call (`output` is usually JSON text); follow it with `response_create()`."""
    item = Item(type="function_call_output", call_id=call_id, output=output, id=_opt(item_id))
    return conversation_item_create(item, previous_item_id=previous_item_id, event_id=event_id)


def item_truncate(item_id: str, content_index: int, audio_end_ms: int, *,
                  event_id: str | None = None) -> ConversationItemTruncate:
    """Cut an assistant audio item at `audio_end_ms` (barge-in: the audio actually played)."""
    return ConversationItemTruncate(item_id=item_id, content_index=content_index, audio_end_ms=audio_end_ms,
                                    event_id=_opt(event_id))


def item_delete(item_id: str, *, event_id: str | None = None) -> ConversationItemDelete:
    return ConversationItemDelete(item_id=item_id, event_id=_opt(event_id))


def response_create(response: ResponseParams | None = None, *, event_id: str | None = None) -> ResponseCreate:
    """`response.create`, optionally with per-response overrides."""
    return ResponseCreate(response=_opt(response), event_id=_opt(event_id))


def response_cancel(response_id: str | None = None, *, event_id: str | None = None) -> ResponseCancel:
    return ResponseCancel(response_id=_opt(response_id), event_id=_opt(event_id))
