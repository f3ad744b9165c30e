"""The Realtime protocol in both wire dialects, as typed events (no I/O).

One internal event model, named and shaped like the seeds (the beta dialect); `dialect.py` maps it to and from
the wire of either dialect, `beta` (`OpenAI-Beta: realtime=v1`) or `ga` (the current service). Reading accepts the
names and shapes of both dialects; writing uses the configured one.

Decoding (receive thread, every non-audio event):
    decode_server_event(frame: bytes | str, dialect="ga") -> ServerEvent | UnknownEvent
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
    user_audio(audio: bytes, transcript=None, item_id=None, previous_item_id=UNSET, event_id=None)
    function_call_output(call_id, output, item_id=None, previous_item_id=UNSET, event_id=None)
    conversation_item_create(Item(...), previous_item_id=UNSET, event_id=None)
    item_truncate(item_id, content_index, audio_end_ms, event_id=None)    item_delete(item_id, event_id=None)
    response_create(ResponseParams(...) | None, event_id=None)            response_cancel(response_id=None, ...)
    function_tool(name, description=None, parameters=None) -> Tool
    decode_client_event(frame) -> ClientEvent                  (round trips, recordings)

Connecting:
    realtime_url(model, base_url="wss://api.openai.com/v1/realtime") -> str
    headers(dialect, api_key) -> Headers    [(name, value)], `.lines()` for websocket-client; repr hides the key
    Endpoint(model, dialect, api_key, base_url)   `.url`, `.headers()`; repr hides the key

Nested objects (`models.py`): SessionConfig, TurnDetection, Transcription, NoiseReduction, Tool,
ToolChoiceFunction, Item, ContentPart, ResponseParams, Response, StatusDetails, Usage, RateLimit, ErrorInfo.
Optional fields default to `msgspec.UNSET` and are never sent unset; `None` is sent as `null`.

Modules: `models` (nested objects), `client_events` (9), `server_events` (28 of the seeds + 7 the service also
sends), `dialect` (the table), `codec` (frames), `builders`, `endpoint`, `errors`.
"""

from msgspec import UNSET

from .builders import (conversation_item_create, function_call_output, function_tool, input_audio_append,
                       input_audio_clear, input_audio_commit, item_delete, item_truncate, response_cancel,
                       response_create, session_update, user_audio, user_text)
from .client_events import *  # noqa: F401,F403
from .client_events import CLIENT_EVENT_TYPES, ClientEvent
from .client_events import __all__ as _client_all
from .codec import Codec, decode_client_event, decode_server_event, encode_client_event
from .dialect import Dialect
from .endpoint import DEFAULT_BASE_URL, Endpoint, Headers, headers, realtime_url
from .errors import ProtocolError
from .models import *  # noqa: F401,F403
from .models import __all__ as _models_all
from .server_events import *  # noqa: F401,F403
from .server_events import SERVER_EVENT_TYPES, ServerEvent, UnknownEvent
from .server_events import __all__ as _server_all

__all__ = list(dict.fromkeys([
    "CLIENT_EVENT_TYPES", "ClientEvent", "Codec", "DEFAULT_BASE_URL", "Dialect", "Endpoint", "Headers",
    "ProtocolError", "SERVER_EVENT_TYPES", "ServerEvent", "UNSET", "UnknownEvent", "conversation_item_create",
    "decode_client_event", "decode_server_event", "encode_client_event", "function_call_output", "function_tool",
    "headers", "input_audio_append", "input_audio_clear", "input_audio_commit", "item_delete", "item_truncate",
    "realtime_url", "response_cancel", "response_create", "session_update", "user_audio", "user_text",
    *_client_all, *_models_all, *_server_all,
]))
