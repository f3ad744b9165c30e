"""The 9 client events of the seeds as msgspec Structs, a tagged union on `type` (same names in both dialects).

Build them with `builders.py`; encode with `codec.encode_client_event`, which maps the nested shapes to the
configured dialect.
"""

from __future__ import annotations

from typing import Union

from msgspec import UNSET, Struct, UnsetType

from .models import Item, ResponseParams, SessionConfig

__all__ = [
    "CLIENT_EVENT_TYPES", "ClientEvent", "ClientEventBase", "ConversationItemCreate", "ConversationItemDelete",
    "ConversationItemTruncate", "InputAudioBufferAppend", "InputAudioBufferClear", "InputAudioBufferCommit",
    "ResponseCancel", "ResponseCreate", "SessionUpdate",
]


class ClientEventBase(Struct, tag_field="type", omit_defaults=True, kw_only=True):
    """`event_id` is optional; the server echoes it in `error.event_id` of an error this event caused."""

    event_id: str | UnsetType = UNSET


class SessionUpdate(ClientEventBase, tag="session.update", kw_only=True):
    session: SessionConfig


class InputAudioBufferAppend(ClientEventBase, tag="input_audio_buffer.append", kw_only=True):
    """`audio` is base64. Field order gives the exact bytes of `rtaudiod.framing.encode_append` (the hot path)."""

    audio: str


class InputAudioBufferCommit(ClientEventBase, tag="input_audio_buffer.commit", kw_only=True):
    pass


class InputAudioBufferClear(ClientEventBase, tag="input_audio_buffer.clear", kw_only=True):
    pass


class ConversationItemCreate(ClientEventBase, tag="conversation.item.create", kw_only=True):
    """`previous_item_id`: insert after that item; unset appends; `None` is sent as `null`."""

    previous_item_id: str | None | UnsetType = UNSET
    item: Item


class ConversationItemTruncate(ClientEventBase, tag="conversation.item.truncate", kw_only=True):
    item_id: str
    content_index: int
    audio_end_ms: int


class ConversationItemDelete(ClientEventBase, tag="conversation.item.delete", kw_only=True):
    item_id: str


class ResponseCreate(ClientEventBase, tag="response.create", kw_only=True):
    response: ResponseParams | UnsetType = UNSET


class ResponseCancel(ClientEventBase, tag="response.cancel", kw_only=True):
    response_id: str | UnsetType = UNSET


ClientEvent = Union[
    SessionUpdate, InputAudioBufferAppend, InputAudioBufferCommit, InputAudioBufferClear, ConversationItemCreate,
    ConversationItemTruncate, ConversationItemDelete, ResponseCreate, ResponseCancel,
]
#: type name -> Struct class
CLIENT_EVENT_TYPES: dict[str, type] = {cls.__struct_config__.tag: cls for cls in ClientEvent.__args__}
