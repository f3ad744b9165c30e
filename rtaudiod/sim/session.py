"""One simulated Realtime session: the state machine behind one WebSocket connection.

Everything runs on the server's event loop; a response streams in its own task and stops at once when cancelled.
Error codes follow the service: `invalid_json`, `unknown_parameter`, `missing_required_parameter`,
`invalid_value`, `invalid_type`, `input_audio_buffer_commit_empty`, `conversation_already_has_active_response`,
`response_cancel_not_active`, `item_truncate_invalid_item_id`, `item_delete_invalid_item_id`,
`item_retrieve_invalid_item_id`, `session_expired`. After every error but `session_expired` the connection stays open.

Timing follows the service, not the client's convenience: a response starts `response_latency` after it is asked
for and its first audio `first_audio_latency` after that same moment; input transcription streams
(`...input_audio_transcription.delta`) and completes `transcription_latency` after the commit, in a task of its own,
so `.completed` often comes after `response.created`; a session ends after `max_session_seconds`.
"""

import asyncio
import base64
import binascii
import json
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed

from . import formats, mcp, replies
from .events import Dialect, new_id
from .jitter import Jitter
from .responder import Responder
from .vad import Vad
from .validate import SimError

MIN_COMMIT_MS = 100
#: Each recording list stops growing here (a soak test must not exhaust memory); `dropped_records` counts the rest.
MAX_RECORDED = 200_000
#: With server VAD and no speech, the buffer keeps only this much audio beyond the prefix padding (memory bound).
IDLE_KEEP_MS = 1000

log = logging.getLogger("rtaudiod.sim")


#: The service's latencies, in seconds (GA service capture, issue 7 brief): `response.created` ~0.3 s after
#: `response.create` (or after speech_stopped / the commit), the first audio ~0.5 s after that same moment; the
#: input transcript completes after the response has started (`openai` model of `...transcription.completed`:
#: "Transcription runs asynchronously with Response creation, so this event may come before or after the Response
#: events"; captures show it after).
RESPONSE_LATENCY_S = 0.3
FIRST_AUDIO_LATENCY_S = 0.5
TRANSCRIPTION_LATENCY_S = 0.6
#: The service's session length cap (GA service capture: `session_expired` "Your session hit the maximum duration
#: of 60 minutes.", then close 1001).
MAX_SESSION_S = 3600.0


@dataclass
class Options:
    """Simulator knobs shared by every session.

    `pace`: how many times faster than real time audio deltas are sent (the service runs ~3-5x; 1 = real time;
    0 = no pacing). `chunk_ms`: audio per delta. `voice`: "auto" | "espeak" | "synthetic". `max_session_seconds`:
    the length cap. `response_latency`: seconds from `response.create` (or the VAD/idle commit) to
    `response.created`; `first_audio_latency`: seconds from that same moment to the first delta of output (audio,
    text or arguments; never before `response.created`); `transcription_latency`: seconds from a commit to its
    `...input_audio_transcription.completed` (the deltas are spread before it). Each wait ends early on a cancel.
    `jitter`: when each audio delta goes out against its nominal time (`Jitter(scale, seed)`, jitter.py; scale 0 =
    none). The defaults are the service's; tests that only check shapes set the latencies to 0."""

    pace: float = 4.0
    chunk_ms: int = 100
    voice: str = "auto"
    max_session_seconds: float = MAX_SESSION_S
    text_delay_ms: float = 20.0
    response_latency: float = RESPONSE_LATENCY_S
    first_audio_latency: float = FIRST_AUDIO_LATENCY_S
    transcription_latency: float = TRANSCRIPTION_LATENCY_S
    jitter: Jitter = field(default_factory=Jitter)
    #: Test hook, not the service's behaviour (it changes nothing a client sees): called with (session, event) for
    #: every client event received, as `received_events` records it; `rtaudiod-sim --record FILE` writes them out
    #: so a test can read what a simulator *process* was told, even after the process was killed.
    on_received: Callable[["SimSession", dict[str, Any]], None] | None = None


def _vad_params(settings: dict[str, Any]) -> tuple:
    """What the detector depends on (a change of `create_response` alone keeps a turn in progress)."""
    td = settings["turn_detection"]
    if td is None:
        return (settings["input_format"],)
    return (settings["input_format"], td.get("threshold"), td.get("prefix_padding_ms"), td.get("silence_duration_ms"))


def closing_code(ws: Any) -> int:
    """How the connection ended, seen from the service: the code of the server's close when the server closed first
    (expiry 1001, stop 1001, keepalive timeout 1011, `drop_connections`), else the client's, else 1006 (abnormal)."""
    protocol = ws.protocol
    if protocol.close_sent is not None and not protocol.close_rcvd_then_sent:
        return protocol.close_sent.code
    if protocol.close_rcvd is not None:
        return protocol.close_rcvd.code
    return 1006


class SimSession:
    """State and recordings of one connection (`received_events`, `sent_events`, `committed_audio`, and once it is
    over `close_code`: see `closing_code`)."""

    def __init__(self, ws: Any, dialect: Dialect, options: Options, model: str) -> None:
        self.ws = ws
        self.dialect = dialect
        self.options = options
        self.id = new_id("sess")
        self.conversation_id = new_id("conv")
        # seconds since the epoch at which the session will hit its length cap (the service's `expires_at`)
        self.expires_at = int(time.time() + options.max_session_seconds)
        self.settings = dialect.initial_settings(model)
        # recordings, for tests
        self.received_events: list[dict[str, Any]] = []
        self.invalid_messages: list[str | bytes] = []
        self.sent_events: list[dict[str, Any]] = []
        self.committed_audio: dict[str, bytes] = {}
        self.dropped_records = 0
        self.close_code: int | None = None
        # conversation
        self.items: list[dict[str, Any]] = []
        self.spoke = False  # the model has answered with audio: the voice is fixed from now on
        self.mcp_tools: dict[str, list[dict[str, Any]]] = {}  # GA: server_label -> the tools listed (mcp.py)
        self.audio_sent_ms: dict[str, float] = {}
        # input audio
        self.buffer = bytearray()
        self.buffer_start_ms = 0.0
        self.stream_ms = 0.0
        self.speech_item_id: str | None = None
        # server VAD `idle_timeout_ms`: the input stream time (ms) at which the last response's audio has finished
        # playing, or None while no idle timer runs (before the first response, during a turn or a response)
        self.idle_from_ms: float | None = None
        self.vad: Vad | None = None
        self._rebuild_vad()
        # the active response
        self.active: dict[str, Any] | None = None
        self._cancel = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()

    # ---- sending -------------------------------------------------------------------------------------------
    async def send(self, event: dict[str, Any]) -> None:
        """Send one server event: wire name of the dialect, a fresh `event_id`, recorded in `sent_events`."""
        event = self.dialect.finish({"event_id": new_id("event"), **event, "type": self.dialect.wire(event["type"])})
        self._record(self.sent_events, event)
        await self.ws.send(json.dumps(event))

    def _record(self, where: list, what: Any) -> None:
        if len(where) < MAX_RECORDED:
            where.append(what)
        else:
            self.dropped_records += 1

    async def send_error(self, error: SimError, event_id: str | None) -> None:
        await self.send({"type": "error", "error": {"type": error.type, "code": error.code,
                                                     "message": error.message, "param": error.param,
                                                     "event_id": event_id}})

    # ---- the connection ------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Greet, then serve client events until the client leaves or the length cap closes the session."""
        cap = asyncio.create_task(self._session_cap())
        try:
            await self.send({"type": "session.created", "session": self.render_session()})
            async for message in self.ws:
                await self.handle(message)
        except ConnectionClosed:
            pass
        finally:
            cap.cancel()
            self._cancel.set()
            for task in list(self._tasks):
                task.cancel()
            self.close_code = closing_code(self.ws)

    async def _session_cap(self) -> None:
        seconds = self.options.max_session_seconds
        await asyncio.sleep(seconds)
        length = f"{seconds / 60:g} minutes" if seconds % 60 == 0 else f"{seconds:g} seconds"
        message = f"Your session hit the maximum duration of {length}."
        try:
            await self.send_error(SimError("session_expired", message), None)
        except ConnectionClosed:
            return
        await self.ws.close(1001, message)

    async def handle(self, message: str | bytes) -> None:
        """Parse, validate and dispatch one client message; every problem becomes an `error` event."""
        event_id = None
        try:
            if isinstance(message, bytes):
                self._record(self.invalid_messages, message)
                raise SimError("invalid_json", "Binary frames are not supported; send JSON text frames.")
            try:
                event = json.loads(message)
            except ValueError as exc:
                self._record(self.invalid_messages, message)
                raise SimError("invalid_json", f"We could not parse the JSON body of your request. ({exc})") from None
            if not isinstance(event, dict):
                self._record(self.invalid_messages, message)
                raise SimError("invalid_type", "Invalid type for event: expected an object.")
            self._record(self.received_events, event)
            if self.options.on_received is not None:
                self.options.on_received(self, event)
            event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
            kind = event.get("type")
            if kind is None:
                raise SimError("missing_required_parameter", "Missing required parameter: 'type'.", "type")
            rule = self.dialect.client_rules.get(kind) if isinstance(kind, str) else None
            if rule is None:
                supported = ", ".join(repr(t) for t in self.dialect.client_rules)
                raise SimError("invalid_value", f"Invalid value: {kind!r}. Supported values are: {supported}.",
                               "type")
            event = rule(event, "")
            await getattr(self, "on_" + kind.replace(".", "_"))(event)
        except SimError as error:
            await self.send_error(error, event_id)
        except ConnectionClosed:
            raise
        except Exception:  # a simulator bug: say so like the service does, log it, keep the session
            log.exception("rtaudiod-sim: error while handling %r", message[:200])
            await self.send_error(SimError(None, "The server had an error while processing your request.",
                                           type_="server_error"), event_id)

    # ---- session -------------------------------------------------------------------------------------------
    def render_session(self) -> dict[str, Any]:
        return self.dialect.render_session(self.settings, self.id, self.expires_at)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task:
        """Run a piece of the session in a task of its own, cancelled when the connection ends."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_finished)
        return task

    def _task_finished(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None \
                and not isinstance(task.exception(), ConnectionClosed):
            log.error("rtaudiod-sim: session task failed", exc_info=task.exception())

    def _rebuild_vad(self) -> None:
        td = self.settings["turn_detection"]
        if td is None:
            self.vad = None
            return
        self.vad = Vad(self.settings["input_format"], td.get("threshold", 0.5), td.get("prefix_padding_ms", 300),
                       td.get("silence_duration_ms", 500), origin_ms=int(self.stream_ms))

    async def on_session_update(self, event: dict[str, Any]) -> None:
        # A refused session.update is dropped whole, none of its fields applied (GA service capture, issue 7
        # brief): every check runs on `new`, a copy, before it replaces the settings.
        new = self.dialect.apply_session(self.settings, event["session"])
        if new["voice"] != self.settings["voice"] and self.spoke:
            raise SimError("cannot_update_voice", "Cannot update a conversation's voice if assistant audio is "
                           "present.", "session.voice" if self.dialect.name == "beta" else "session.audio.output.voice")
        vad_changed = _vad_params(new) != _vad_params(self.settings)
        if new["input_format"] != self.settings["input_format"]:
            self.buffer.clear()
            self.buffer_start_ms = self.stream_ms
        before, self.settings = self.settings, new
        if vad_changed:
            self._rebuild_vad()
        await self.send({"type": "session.updated", "session": self.render_session()})
        if self.dialect.name == "ga":
            await mcp.list_new_servers(self, before["tools"])

    # ---- input audio ---------------------------------------------------------------------------------------
    async def on_input_audio_buffer_append(self, event: dict[str, Any]) -> None:
        try:
            data = base64.b64decode(event["audio"], validate=True)
        except (binascii.Error, ValueError):
            raise SimError("invalid_value", "Invalid 'audio'. Expected base64-encoded audio bytes.", "audio") from None
        fmt = self.settings["input_format"]
        self.buffer += data
        self.stream_ms += formats.duration_ms(len(data), fmt)
        if self.vad is None:
            return
        for kind, at_ms in self.vad.feed(data):
            if kind == "started":
                await self._speech_started(at_ms)
            else:
                await self._speech_stopped(at_ms)
        if not self.vad.speaking:
            await self._check_idle_timeout()
            self._trim_idle_buffer()

    def response_ended(self, audio_ms: float) -> None:
        """A response is done: its audio plays for `audio_ms` from now, then the idle timer (if any) starts.

        `idle_timeout_ms` "will be applied after the last model response's audio has finished playing, i.e. it's set
        to the `response.done` time plus audio playback duration" (`openai.types.realtime`, `ServerVad`). Times are
        those of the input stream, like the event's `audio_start_ms`/`audio_end_ms` ("offset[s] of audio written to
        the input audio buffer"), so a client streaming its microphone in real time sees it after that many ms."""
        self.idle_from_ms = self.stream_ms + audio_ms

    async def _check_idle_timeout(self) -> None:
        """GA server VAD with `idle_timeout_ms`: no speech that long after the last response's audio ended sends
        `input_audio_buffer.timeout_triggered`, commits the (silent) buffer and asks for a response (`openai` model
        `InputAudioBufferTimeoutTriggered`: "The empty audio will be committed to the conversation as an
        `input_audio` item ... and a model response will be generated")."""
        td = self.settings["turn_detection"]
        timeout = td.get("idle_timeout_ms") if td is not None and td["type"] == "server_vad" else None
        if not timeout or self.idle_from_ms is None or self.active is not None:
            return
        if self.stream_ms - self.idle_from_ms < timeout:
            return
        start_ms, self.idle_from_ms = self.idle_from_ms, None
        item_id = new_id("item")
        await self.send({"type": "input_audio_buffer.timeout_triggered", "audio_start_ms": int(start_ms),
                         "audio_end_ms": int(self.stream_ms), "item_id": item_id})
        audio = bytes(self.buffer)
        self.buffer.clear()
        self.buffer_start_ms = self.stream_ms
        self.vad.reset(int(self.stream_ms))
        await self._commit(audio, item_id)
        self.start_response({}, None)

    def _trim_idle_buffer(self) -> None:
        """Under server VAD, silence before a turn is only needed as prefix padding: drop the rest."""
        fmt = self.settings["input_format"]
        keep_ms = self.settings["turn_detection"].get("prefix_padding_ms", 300) + IDLE_KEEP_MS
        bpm = formats.bytes_per_ms(fmt)
        excess = len(self.buffer) - int(keep_ms * bpm)
        if excess > 0:
            excess -= excess % formats.WIDTHS[fmt]
            del self.buffer[:excess]
            self.buffer_start_ms += excess / bpm

    async def _speech_started(self, at_ms: int) -> None:
        self.speech_item_id = new_id("item")
        self.idle_from_ms = None  # the user spoke: no idle timeout until the next response has played
        await self.send({"type": "input_audio_buffer.speech_started", "audio_start_ms": at_ms,
                         "item_id": self.speech_item_id})
        # trim what lies before the turn (prefix padding included) so the committed item starts at audio_start_ms
        bpm = formats.bytes_per_ms(self.settings["input_format"])
        cut = int(max(0.0, at_ms - self.buffer_start_ms) * bpm)
        cut -= cut % formats.WIDTHS[self.settings["input_format"]]
        del self.buffer[:cut]
        self.buffer_start_ms += cut / bpm
        td = self.settings["turn_detection"]
        if self.active is not None and td.get("interrupt_response", True):
            self.cancel_active("turn_detected")

    async def _speech_stopped(self, at_ms: int) -> None:
        item_id = self.speech_item_id or new_id("item")
        self.speech_item_id = None
        await self.send({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": at_ms, "item_id": item_id})
        bpm = formats.bytes_per_ms(self.settings["input_format"])
        end = int(max(0.0, at_ms - self.buffer_start_ms) * bpm)
        end -= end % formats.WIDTHS[self.settings["input_format"]]
        audio = bytes(self.buffer[:end])
        del self.buffer[:end]
        self.buffer_start_ms += end / bpm
        await self._commit(audio, item_id)
        td = self.settings["turn_detection"]
        if td.get("create_response", True) and self.active is None:
            self.start_response({}, None)

    async def on_input_audio_buffer_commit(self, event: dict[str, Any]) -> None:
        fmt = self.settings["input_format"]
        ms = formats.duration_ms(len(self.buffer), fmt)
        if ms < MIN_COMMIT_MS:
            raise SimError("input_audio_buffer_commit_empty",
                           f"Error committing input audio buffer: buffer too small. Expected at least "
                           f"{MIN_COMMIT_MS}ms of audio, but buffer only has {ms:.2f}ms of audio.")
        audio = bytes(self.buffer)
        item_id = self.speech_item_id or new_id("item")
        self.speech_item_id = None
        self.buffer.clear()
        self.buffer_start_ms = self.stream_ms
        if self.vad is not None:
            self.vad.reset(int(self.stream_ms))
        await self._commit(audio, item_id)

    async def _commit(self, audio: bytes, item_id: str) -> None:
        """Turn committed audio into a user message item (and its transcript, when transcription is on)."""
        ms = formats.duration_ms(len(audio), self.settings["input_format"])
        self.committed_audio[item_id] = audio
        item = {"id": item_id, "type": "message", "role": "user", "status": "completed",
                "content": [{"type": "input_audio", "transcript": None, "audio_ms": ms}]}
        previous = self.items[-1]["id"] if self.items else None
        await self.send({"type": "input_audio_buffer.committed", "item_id": item_id, "previous_item_id": previous})
        await self.add_item(item, previous)
        if self.settings["transcription"] is not None:
            self.spawn(self._transcribe(item, ms))

    async def _transcribe(self, item: dict[str, Any], ms: float) -> None:
        """The input transcript, streamed word by word (`...input_audio_transcription.delta`, in both dialects'
        `openai` models), its speaker segments when the model diarizes (GA `...segment`), and completed
        `transcription_latency` after the commit, asynchronously with the response
        ("this event may come before or after the Response events"; GA service capture: often after
        `response.created`). Deterministic text: `replies.transcript_for`."""
        transcript = replies.transcript_for(ms)
        model = (self.settings["transcription"] or {}).get("model") or ""  # the model of the commit's moment
        words = transcript.split(" ")
        step = self.options.transcription_latency / (len(words) + 1)
        for i, word in enumerate(words):
            await asyncio.sleep(step)
            await self.send({"type": "conversation.item.input_audio_transcription.delta", "item_id": item["id"],
                             "content_index": 0, "delta": word if i == 0 else " " + word})
        await asyncio.sleep(step)
        for segment in self.dialect.transcription_segments(model, item["id"], transcript, ms):
            await self.send(segment)
        item["content"][0]["transcript"] = transcript
        await self.send({"type": "conversation.item.input_audio_transcription.completed", "item_id": item["id"],
                         "content_index": 0, "transcript": transcript,
                         "usage": {"type": "duration", "seconds": round(ms / 1000, 3)}})

    async def on_input_audio_buffer_clear(self, event: dict[str, Any]) -> None:
        self.buffer.clear()
        self.buffer_start_ms = self.stream_ms
        self.speech_item_id = None
        if self.vad is not None:
            self.vad.reset(int(self.stream_ms))
        await self.send({"type": "input_audio_buffer.cleared"})

    # ---- conversation --------------------------------------------------------------------------------------
    async def add_item(self, item: dict[str, Any], previous_item_id: str | None, done: bool = True) -> None:
        """Insert after `previous_item_id` (None: at the start) and announce it in the dialect's events."""
        index = 0 if previous_item_id is None else 1 + next(
            i for i, it in enumerate(self.items) if it["id"] == previous_item_id)
        self.items.insert(index, item)
        for event in self.dialect.item_added(item, previous_item_id):
            await self.send(event)
        if done:
            for event in self.dialect.item_done(item):
                await self.send(event)

    def find_item(self, item_id: str) -> dict[str, Any] | None:
        return next((it for it in self.items if it["id"] == item_id), None)

    async def on_conversation_item_create(self, event: dict[str, Any]) -> None:
        item = self.dialect.parse_item(event["item"])
        if self.find_item(item["id"]) is not None:
            raise SimError("invalid_value", f"Item with id '{item['id']}' already exists.", "item.id")
        for part in item.get("content", []):
            if part["type"] == "input_audio" and part.get("audio"):
                try:
                    data = base64.b64decode(part["audio"], validate=True)
                except (binascii.Error, ValueError):
                    raise SimError("invalid_value", "Invalid 'audio'. Expected base64-encoded audio bytes.",
                                   "item.content.audio") from None
                part["audio_ms"] = formats.duration_ms(len(data), self.settings["input_format"])
            part.pop("audio", None)
        previous = event.get("previous_item_id")
        if previous is None:  # not set: append
            previous = self.items[-1]["id"] if self.items else None
        elif previous == "root":  # the beginning of the conversation
            previous = None
        elif self.find_item(previous) is None:
            raise SimError("invalid_value", f"Invalid previous_item_id: '{previous}' does not exist.",
                           "previous_item_id")
        await self.add_item(item, previous)

    async def on_conversation_item_retrieve(self, event: dict[str, Any]) -> None:
        item = self.find_item(event["item_id"])
        if item is None:
            raise SimError("item_retrieve_invalid_item_id",
                           f"Error retrieving item: the item with id '{event['item_id']}' does not exist.", "item_id")
        await self.send({"type": "conversation.item.retrieved", "item": self.dialect.render_item(item)})

    async def on_conversation_item_delete(self, event: dict[str, Any]) -> None:
        item = self.find_item(event["item_id"])
        if item is None:
            raise SimError("item_delete_invalid_item_id",
                           f"Error deleting item: the item with id '{event['item_id']}' does not exist.", "item_id")
        self.items.remove(item)
        await self.send({"type": "conversation.item.deleted", "item_id": item["id"]})

    async def on_conversation_item_truncate(self, event: dict[str, Any]) -> None:
        item = self.find_item(event["item_id"])
        if item is None or item["type"] != "message" or item["role"] != "assistant":
            raise SimError("item_truncate_invalid_item_id",
                           f"Error truncating item: the item with id '{event['item_id']}' is not an assistant "
                           "message item in this conversation.", "item_id")
        index = event["content_index"]
        if index >= len(item["content"]) or item["content"][index]["type"] != "output_audio":
            raise SimError("invalid_value", f"Error truncating item: content_index {index} is not an audio part.",
                           "content_index")
        sent = self.audio_sent_ms.get(item["id"], 0.0)
        if event["audio_end_ms"] > sent:
            raise SimError("invalid_value", f"Audio content of {sent:.0f}ms is already shorter than "
                           f"{event['audio_end_ms']}ms", "audio_end_ms")
        self.audio_sent_ms[item["id"]] = float(event["audio_end_ms"])
        item["content"][index]["transcript"] = ""  # the service drops the text the user has not heard
        await self.send({"type": "conversation.item.truncated", "item_id": item["id"], "content_index": index,
                         "audio_end_ms": event["audio_end_ms"]})

    # ---- responses -----------------------------------------------------------------------------------------
    async def on_response_create(self, event: dict[str, Any]) -> None:
        if self.active is not None:
            raise SimError("conversation_already_has_active_response",
                           f"Conversation already has an active response in progress: {self.active['id']}. Wait "
                           "until the response is finished before creating a new one.")
        overrides = self.dialect.response_overrides(event.get("response", {}))
        if "input" in overrides:
            resolved = []
            for entry in overrides["input"]:
                if entry["type"] == "item_reference":
                    found = self.find_item(entry["id"])
                    if found is None:
                        raise SimError("invalid_value", f"Item reference '{entry['id']}' does not exist.",
                                       "response.input")
                    entry = found
                resolved.append(entry)
            overrides["input"] = resolved
        self.start_response(overrides, event.get("event_id"))

    async def on_response_cancel(self, event: dict[str, Any]) -> None:
        wanted = event.get("response_id")
        if self.active is None or (wanted is not None and wanted != self.active["id"]):
            raise SimError("response_cancel_not_active", "Cancellation failed: no active response found.")
        self.cancel_active("client_cancelled")

    def cancel_active(self, reason: str) -> None:
        if self.active is not None and self.active["cancel_reason"] is None:
            self.active["cancel_reason"] = reason
            self._cancel.set()

    def start_response(self, overrides: dict[str, Any], event_id: str | None) -> None:
        """Mark a response active now (so a second `response.create` is refused, and a `response.cancel` during
        its latency finds it) and stream it in a task; its latencies count from now."""
        self.active = {"id": new_id("resp"), "cancel_reason": None}
        self.idle_from_ms = None
        self._cancel.clear()
        self.spawn(Responder(self, self.active, overrides, asyncio.get_running_loop().time()).run())
