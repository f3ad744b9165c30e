"""The commands of the control protocol: one function each, its arguments a msgspec Struct.

Each `Command` says where it runs:
  "control"  on the server's I/O thread (`rtaudiod-control`): only what never waits (ping, status, subscriptions,
             mute);
  "session"  on the command thread (`rtaudiod-control-cmd`): everything that calls into the session, whose sends
             can wait on the network (a stalled peer holds a send for up to the session's `ping_timeout_s`, a
             `turn_end` waits for the uplink), so no such wait ever holds up another client's events or audio.
A `check` step, when a command has one, runs on the I/O thread before the command is handed over (it sees the
connection's own state: which calls it was sent).

A function gets `(server, conn, args, payload)` and returns the `result` object, or raises `ControlError` with the
protocol's code. `SessionError`s are mapped by the server (`session_error_code`).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from msgspec import Meta

from rtaudiod.errors import ControlError, SessionError
from rtaudiod.listen import WakeWordError
from rtaudiod.session.config import LIVE_SETTINGS
from rtaudiod.session.tools import ToolCall, error_output

if TYPE_CHECKING:
    from .server import ControlServer
    from .transport import Conn

__all__ = ["ALWAYS_SENT", "COMMANDS", "Command", "SETTABLE", "TOPICS", "parse_args", "session_error_code"]

#: Event topics a client may subscribe to (each is also the `event` name of what it receives).
TOPICS = ("state", "vad", "transcript.user", "transcript.assistant", "text", "response", "function_call", "error",
          "raw", "audio.output", "listen", "wake", "tool", "announce")
#: Events every client gets without subscribing.
ALWAYS_SENT = ("hello", "tool.call", "overflow")
#: The session settings `session.update` may change: the session's own live settings. Where to connect, the
#: credentials, the audio format and the timing stay the daemon's configuration: a local client may drive the
#: conversation, not redirect it elsewhere.
SETTABLE = LIVE_SETTINGS
_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")


class Args(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """No arguments."""


class RespondArgs(Args):
    respond: bool = True


class TextArgs(Args):
    text: Annotated[str, Meta(min_length=1)]
    respond: bool = True


class AnnounceArgs(Args):
    text: Annotated[str, Meta(min_length=1)]
    now: bool = False  # interrupt the reply in progress (else it waits for it)
    listen: bool = False  # then open the microphone for an answer (the follow-up window)


class ImageArgs(Args):
    data: str | None = None  # the image as base64 (or in the payload: no base64, up to the payload limit)
    text: Annotated[str, Meta(min_length=1)] | None = None
    detail: Literal["auto", "low", "high"] | None = None
    respond: bool = True


class ResponseArgs(Args):
    instructions: Annotated[str, Meta(min_length=1)] | None = None


class SettingsArgs(Args):
    settings: dict[str, Any]


class AudioArgs(Args):
    rate: Annotated[int, Meta(ge=8000, le=192000)]
    channels: Annotated[int, Meta(ge=1, le=8)] = 1
    format: Literal["s16le"] = "s16le"
    end: bool = False  # the last chunk of a stream: the resampler's tail goes out with it


class ListenArgs(Args):
    mode: Literal["always", "wake_word", "push_to_talk"] | None = None  # None: only report the mode


class TopicsArgs(Args):
    topics: Annotated[list[str], Meta(min_length=1)]


class ToolArgs(Args):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None


class ApprovalArgs(Args):
    approval_request_id: Annotated[str, Meta(min_length=1)]
    approve: bool
    reason: str | None = None


class ToolNameArgs(Args):
    name: str


class ToolResultArgs(Args):
    call_id: Annotated[str, Meta(min_length=1)]
    output: str


@dataclass(frozen=True)
class Command:
    name: str
    args: type[Args]
    run: Callable[..., dict[str, Any]]
    thread: Literal["control", "session"]
    payload: bool | Literal["optional"] = False  # takes a payload (True: required)
    check: Callable[..., None] | None = None


def parse_args(command: Command, args: dict[str, Any], payload: bytes | None) -> Args:
    """The request's arguments as the command's Struct; ControlError(bad_args) naming the field."""
    if command.payload is True and payload is None:
        raise ControlError(f"{command.name}: the audio goes in a payload (payload_length, then the bytes)",
                           code="bad_args")
    if not command.payload and payload is not None:
        raise ControlError(f"{command.name} takes no payload (payload_length)", code="bad_args")
    try:
        return msgspec.convert(args, command.args)
    except msgspec.ValidationError as e:
        raise ControlError(f"{command.name}: {_field_message(e)}", code="bad_args") from None


def _field_message(error: msgspec.ValidationError) -> str:
    """msgspec's message with the path made readable: "Expected `str`, got `int` - at `$.text`" ->
    "text: expected `str`, got `int`"."""
    text = str(error)
    match = re.fullmatch(r"(.*) - at `\$\.?(.*)`", text, re.S)
    if match:
        message, path = match.groups()
        return f"{path}: {message[:1].lower()}{message[1:]}"
    match = re.fullmatch(r"Object missing required field `(.*)`", text)
    if match:
        return f"{match.group(1)}: missing (required)"
    match = re.fullmatch(r"Object contains unknown field `(.*)`", text)
    if match:
        return f"{match.group(1)}: unknown argument"
    return text


def session_error_code(error: SessionError) -> str:
    """The protocol's code for a session's refusal: no turn open, a turn the uplink could not finish in time, and
    otherwise the connection is not there (not yet, lost, or the send failed with it)."""
    return {"no_turn": "no_turn", "turn_timeout": "timeout", "unsupported": "unsupported",
            "unknown_approval": "unknown_call"}.get(error.code or "", "not_connected")


# ================================================================================================ control thread
def ping(server: ControlServer, conn: Conn, args: Args, payload: None) -> dict[str, Any]:
    return {"pong": True}


def subscribe(server: ControlServer, conn: Conn, args: TopicsArgs, payload: None) -> dict[str, Any]:
    _check_topics(args.topics)
    snapshot = server.subscribe(conn, args.topics)
    return {"topics": sorted(conn.topics), "snapshot": snapshot}


def unsubscribe(server: ControlServer, conn: Conn, args: TopicsArgs, payload: None) -> dict[str, Any]:
    _check_topics(args.topics)
    server.unsubscribe(conn, args.topics)
    return {"topics": sorted(conn.topics)}


def _check_topics(topics: list[str]) -> None:
    for i, topic in enumerate(topics):
        if topic not in TOPICS:
            raise ControlError(f"topics[{i}]: no topic {topic!r} (topics: {', '.join(TOPICS)})", code="bad_args")


def mute(server: ControlServer, conn: Conn, args: Args, payload: None) -> dict[str, Any]:
    server.session.audio.muted = True
    return {"muted": server.session.audio.muted}


def unmute(server: ControlServer, conn: Conn, args: Args, payload: None) -> dict[str, Any]:
    server.session.audio.muted = False
    return {"muted": server.session.audio.muted}


def check_tool_register(server: ControlServer, conn: Conn, args: ToolArgs) -> None:
    if not _TOOL_NAME.match(args.name):
        raise ControlError(f"name: {args.name!r} must be 1-64 letters, digits, '_' or '-'", code="bad_args")
    if args.parameters is not None and args.parameters.get("type") != "object":
        raise ControlError('parameters: must be a JSON Schema object ({"type": "object", "properties": ...})',
                           code="bad_args")
    conn.serves_tools = True


def check_tool_result(server: ControlServer, conn: Conn, args: ToolResultArgs) -> None:
    """Only the client a call was sent to answers it."""
    if conn.calls.pop(args.call_id, None) is None:
        raise ControlError(f"call_id: {args.call_id!r} is not a call pending for this client (answered, timed out, "
                           "or never sent here)", code="unknown_call")


def status(server: ControlServer, conn: Conn, args: Args, payload: None) -> dict[str, Any]:
    session = server.session
    result = session.status()
    result["audio"] = session.audio.status()
    result["control"] = server.stats
    if server.listener is not None:
        result["listen"] = server.listener.status()
    return result


# ================================================================================================ command thread
def listen_mode(server: ControlServer, conn: Conn, args: ListenArgs, payload: None) -> dict[str, Any]:
    """Switch the listening mode (effective from the next microphone frame), or report it."""
    listener = server.listener
    if listener is None:
        raise ControlError("this daemon runs without listening modes", code="unavailable")
    if args.mode is not None:
        try:
            listener.set_mode(args.mode)
        except WakeWordError as e:
            raise ControlError(str(e), code="unavailable") from None
    return {"mode": listener.mode, "state": listener.state}


def turn_start(server: ControlServer, conn: Conn, args: Args, payload: None) -> dict[str, Any]:
    server.session.turn_start()
    return {}


def turn_end(server: ControlServer, conn: Conn, args: RespondArgs, payload: None) -> dict[str, Any]:
    return {"committed": server.session.turn_end(respond=args.respond)}


def turn_cancel(server: ControlServer, conn: Conn, args: Args, payload: None) -> dict[str, Any]:
    session = server.session
    if not session.status()["conversation"]["turn_open"]:
        raise ControlError("no turn is open (turn.start first)", code="no_turn")
    session.turn_cancel()
    return {}


def text_send(server: ControlServer, conn: Conn, args: TextArgs, payload: None) -> dict[str, Any]:
    server.session.send_text(args.text, respond=args.respond)
    return {}


def check_image(server: ControlServer, conn: Conn, args: ImageArgs) -> None:
    """One image, in `data` or in the payload, and only where the dialect takes images (before it is decoded)."""
    if server.session.config.dialect != "ga":
        raise ControlError("image.send: images need the GA dialect (the beta session takes no images; the daemon "
                           "runs session.dialect = 'beta')", code="unsupported")


def image_send(server: ControlServer, conn: Conn, args: ImageArgs, payload: bytes | None) -> dict[str, Any]:
    if (args.data is None) == (payload is None):
        raise ControlError("image.send: the image goes in `data` (base64) or in a payload, exactly one of them",
                           code="bad_args")
    if payload is None:
        try:
            payload = base64.b64decode(args.data or "", validate=True)
        except (binascii.Error, ValueError):
            raise ControlError("data: not valid base64", code="bad_args") from None
    try:
        server.session.send_image(payload, text=args.text, respond=args.respond, detail=args.detail)
    except ValueError as e:  # not a JPEG/PNG, or too large: nothing was sent
        raise ControlError(f"image.send: {e}", code="bad_args") from None
    return {"bytes": len(payload)}


def announce(server: ControlServer, conn: Conn, args: AnnounceArgs, payload: None) -> dict[str, Any]:
    try:
        return {"announce_id": server.session.announce(args.text, now=args.now, listen=args.listen)}
    except ValueError as e:
        raise ControlError(f"announce: {e}", code="bad_args") from None


def response_create(server: ControlServer, conn: Conn, args: ResponseArgs, payload: None) -> dict[str, Any]:
    server.session.create_response(args.instructions)
    return {}


def response_cancel(server: ControlServer, conn: Conn, args: Args, payload: None) -> dict[str, Any]:
    return {"cancelled": server.session.cancel_response()}


def session_update(server: ControlServer, conn: Conn, args: SettingsArgs, payload: None) -> dict[str, Any]:
    for key in args.settings:
        if key not in SETTABLE:
            raise ControlError(f"settings.{key}: not a setting the control API changes (it does: "
                               f"{', '.join(SETTABLE)})", code="bad_args")
    settings = dict(args.settings)
    if isinstance(settings.get("tools"), list):
        settings["tools"] = _keep_configured_mcp(server, settings["tools"])
    try:
        server.session.update_settings(**settings)
    except ValueError as e:  # the session validates first: "invalid settings: ... - at `$.voice`"
        raise ControlError(f"settings: {e}", code="bad_args") from None
    return {}


def _keep_configured_mcp(server: ControlServer, tools: list[Any]) -> list[Any]:
    """A client's `tools` replace the function tools; the MCP servers stay the configuration's: their secrets are
    read from files, which a control client must not point anywhere (nor send to a server of its choosing)."""
    for i, tool in enumerate(tools):
        if isinstance(tool, dict) and tool.get("type", "function") != "function":
            raise ControlError(f"settings.tools[{i}]: only function tools are settable here; MCP servers come from "
                               "the daemon's configuration", code="bad_args")
    return tools + [msgspec.to_builtins(t) for t in server.session.config.tools if t.type == "mcp"]


def mcp_approve(server: ControlServer, conn: Conn, args: ApprovalArgs, payload: None) -> dict[str, Any]:
    server.session.answer_mcp_approval(args.approval_request_id, args.approve, args.reason)
    return {}


def playback_stop(server: ControlServer, conn: Conn, args: Args, payload: None) -> dict[str, Any]:
    server.session.stop_playback()
    return {}


class InputResampler:
    """One client's audio.input stream: interleaved s16le of `channels` at `rate` -> mono PCM16 at the session rate.
    Streaming (soxr keeps its filter state between chunks, so chunk edges do not click); a new rate or channel count
    starts a new stream; `end=True` flushes the filter's tail."""

    def __init__(self, rate: int, channels: int, session_rate: int) -> None:
        from rtaudiod.audio.dsp import Downmixer, Resampler  # numpy and soxr: only once a client streams audio in

        self.key = (rate, channels)
        self._downmix = Downmixer(channels, 4096)
        self._resample = Resampler(rate, session_rate, "HQ")

    def process(self, data: bytes, last: bool) -> bytes:
        mono = self._downmix.process(data)
        out = self._resample.process(mono, last=last)  # the down-mix is contiguous already
        return out.tobytes()

    def close(self) -> None:
        self._resample.close()


def audio_input(server: ControlServer, conn: Conn, args: AudioArgs, payload: bytes) -> dict[str, Any]:
    frame = 2 * args.channels
    if len(payload) % frame:
        raise ControlError(f"payload_length: {len(payload)} bytes is not a whole number of {args.channels}-channel "
                           f"s16le frames ({frame} bytes each)", code="bad_args")
    session = server.session
    stream = conn.resampler
    if stream is None or stream.key != (args.rate, args.channels):
        if stream is not None:
            stream.close()
        stream = conn.resampler = InputResampler(args.rate, args.channels, session.audio.config.session_rate)
    pcm = stream.process(payload, args.end)
    if args.end:
        stream.close()
        conn.resampler = None
    queued = session.inject_audio(pcm)
    return {"frames": queued // 2, "dropped": (len(pcm) - queued) // 2}


def tool_register(server: ControlServer, conn: Conn, args: ToolArgs, payload: None) -> dict[str, Any]:
    return server.tools.register(conn, args.name, args.description, args.parameters)


def tool_unregister(server: ControlServer, conn: Conn, args: ToolNameArgs, payload: None) -> dict[str, Any]:
    return {"removed": server.tools.unregister(conn, args.name)}


def tool_result(server: ControlServer, conn: Conn, args: ToolResultArgs, payload: None) -> dict[str, Any]:
    if not server.session.tool_result(args.call_id, args.output):
        raise ControlError(f"call_id: {args.call_id!r} is not pending any more (answered or timed out)",
                           code="unknown_call")
    return {}


class ToolRouter:
    """Which client serves which tool; every method runs on the command thread (so no lock is needed, and the
    session's announcements, which send, never run on the I/O thread)."""

    def __init__(self, server: ControlServer) -> None:
        self._server = server
        self._owner: dict[str, int] = {}  # tool name -> connection id

    def register(self, conn: Conn, name: str, description: str | None,
                 parameters: dict[str, Any] | None) -> dict[str, Any]:
        session = self._server.session
        owner = self._owner.get(name)
        if owner is not None and owner != conn.id:
            raise ControlError(f"name: another client serves the tool {name!r}", code="tool_taken")
        if owner is None and session.tools.handler(name) is not None:
            raise ControlError(f"name: the daemon itself serves the tool {name!r}", code="tool_taken")
        self._owner[name] = conn.id
        post, conn_id = self._server.post, conn.id

        def handler(call: ToolCall) -> None:  # a session tool thread: hand the call to the I/O thread, O(1)
            post(("tool.call", conn_id, {"call_id": call.call_id, "name": call.name, "arguments": call.arguments}))
            return None  # answered later, by tool.result

        try:
            session.register_tool(name, handler, description, parameters)
        except Exception:
            del self._owner[name]
            raise
        return {}

    def unregister(self, conn: Conn, name: str) -> bool:
        if self._owner.get(name) != conn.id:
            return False
        del self._owner[name]
        return self._server.session.unregister_tool(name)

    def release(self, conn_id: int, calls: list[str]) -> None:
        """A client went away: withdraw its tools, and answer the calls it had been sent with an error now (the
        model hears why instead of waiting for the tool timeout)."""
        session = self._server.session
        for name in [n for n, owner in self._owner.items() if owner == conn_id]:
            del self._owner[name]
            session.unregister_tool(name)
        for call_id in calls:
            session.tool_result(call_id, error_output("the client serving this tool disconnected"))

    def answer_orphan(self, call_id: str, name: str) -> None:
        """A call arrived for a client that is gone (it left between the call and its delivery)."""
        self._server.session.tool_result(call_id, error_output(f"the client serving the tool {name!r} disconnected"))

    def release_all(self) -> None:
        for name in list(self._owner):
            del self._owner[name]
            self._server.session.unregister_tool(name)


COMMANDS: dict[str, Command] = {c.name: c for c in (
    Command("ping", Args, ping, "control"),
    Command("status", Args, status, "control"),  # reads only, never waits: not behind a stalled command
    Command("turn.start", Args, turn_start, "session"),
    Command("turn.end", RespondArgs, turn_end, "session"),
    Command("turn.cancel", Args, turn_cancel, "session"),
    Command("text.send", TextArgs, text_send, "session"),
    Command("image.send", ImageArgs, image_send, "session", payload="optional", check=check_image),
    Command("announce", AnnounceArgs, announce, "session"),
    Command("response.create", ResponseArgs, response_create, "session"),
    Command("response.cancel", Args, response_cancel, "session"),
    Command("session.update", SettingsArgs, session_update, "session"),
    Command("mic.mute", Args, mute, "control"),
    Command("mic.unmute", Args, unmute, "control"),
    Command("playback.stop", Args, playback_stop, "session"),
    Command("listen.mode", ListenArgs, listen_mode, "session"),
    Command("audio.input", AudioArgs, audio_input, "session", payload=True),
    Command("subscribe", TopicsArgs, subscribe, "control"),
    Command("unsubscribe", TopicsArgs, unsubscribe, "control"),
    Command("tool.register", ToolArgs, tool_register, "session", check=check_tool_register),
    Command("tool.unregister", ToolNameArgs, tool_unregister, "session"),
    Command("tool.result", ToolResultArgs, tool_result, "session", check=check_tool_result),
    Command("mcp.approve", ApprovalArgs, mcp_approve, "session"),
)}
