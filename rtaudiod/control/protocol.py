"""Framing of the control protocol (docs/control-protocol.md, version 1): bytes in, messages out; no I/O.

A message is one JSON object on one line ended by `\\n` (`\\r\\n` accepted); a line may announce
`"payload_length": N`, and exactly N raw bytes follow its `\\n` (audio travels this way, PCM without base64).

`Parser` is incremental: `feed(data)` with whatever the socket gave, then `next()` until it returns None. Each call
gives one of

    Message(header, payload)    a complete message: the JSON object, and its payload bytes or None
    BadLine(code, message)      a line that is not a JSON object (`bad_json`): the stream is still in step, the
                                connection stays usable (the daemon answers with an error, `id: null`)

and raises `Unframeable` (a `ControlError`: `line_too_long`, `payload_too_large`, or `bad_request` for a
`payload_length` that is not an integer) when the stream can no longer be split into messages reliably; the parser
is dead from then on (every later `next()` raises the same error) and the connection must be closed.

Encoding: `encode_reply`, `encode_error`, `encode_event`, `encode_request` give one complete line (bytes, `\\n`
included); an event's payload, if any, is sent after it as is (its `payload_length` is in the line).
"""

from __future__ import annotations

import enum
from typing import Any, NamedTuple

import msgspec

from rtaudiod.errors import ControlError

__all__ = ["BadLine", "CLIENT_CODES", "ERROR_CODES", "MAX_LINE", "MAX_PAYLOAD", "Message", "PROTOCOL_VERSION",
           "Parser", "Unframeable", "encode_error", "encode_event", "encode_line", "encode_reply",
           "encode_request"]

PROTOCOL_VERSION = 1
#: The longest line a client may send, without its line ending.
MAX_LINE = 65536
#: The largest payload a message may announce.
MAX_PAYLOAD = 4 * 1024 * 1024

#: Every error code the daemon sends (the table "Error codes" of docs/control-protocol.md; a test keeps them equal).
ERROR_CODES = frozenset({
    "bad_json", "bad_request", "unknown_command", "bad_args", "not_connected", "no_turn", "timeout", "tool_taken",
    "unknown_call", "unavailable", "unsupported", "line_too_long", "payload_too_large", "forbidden", "internal",
})
#: Codes only the client library raises (no daemon answer): see `rtaudiod.control.client`.
CLIENT_CODES = frozenset({"connect_failed", "disconnected", "no_reply"})
#: The codes after which the daemon closes the connection.
FATAL_CODES = frozenset({"line_too_long", "payload_too_large", "forbidden"})


class Message(NamedTuple):
    header: dict[str, Any]
    payload: bytes | None


class BadLine(NamedTuple):
    """A line that was framed but is not a JSON object: answer it, and go on with the next line."""

    code: str
    message: str


class Unframeable(ControlError):
    """The stream cannot be split into messages any more: the connection must be closed (after saying why).
    `request_id` is the offending request's `id` when its line could be read."""

    def __init__(self, message: str, *, code: str, request_id: Any = None) -> None:
        super().__init__(message, code=code)
        self.request_id = request_id


_decode = msgspec.json.Decoder().decode


class Parser:
    """Incremental splitter of a byte stream into messages (see the module docstring).

    `max_line` bounds a line without its ending (the daemon enforces `MAX_LINE` on what clients send; the client
    library reads the daemon's lines with a larger bound, since a raw server frame or a long transcript can exceed
    it); `max_payload` bounds `payload_length`. Memory held is at most about max_line + max_payload + one read.
    """

    def __init__(self, max_line: int = MAX_LINE, max_payload: int = MAX_PAYLOAD) -> None:
        self.max_line = max_line
        self.max_payload = max_payload
        self._buf = bytearray()
        self._scan = 0  # where the search for the next newline resumes (bytes before it hold none)
        self._header: dict[str, Any] | None = None  # a header whose payload is still coming
        self._need = 0
        self.broken: Unframeable | None = None

    @property
    def buffered(self) -> int:
        """Bytes received and not yet returned as messages (an incomplete line or payload at the end of a stream)."""
        return len(self._buf)

    @property
    def in_payload(self) -> bool:
        return self._header is not None

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self.broken is None:
            self._buf += data

    def __iter__(self):
        while (message := self.next()) is not None:
            yield message

    def next(self) -> Message | BadLine | None:
        """The next complete message, a BadLine, or None (more bytes needed). Raises Unframeable."""
        if self.broken is not None:
            raise self.broken
        buf = self._buf
        while True:
            if self._header is not None:
                need = self._need
                if len(buf) < need:
                    return None
                payload = bytes(buf[:need])
                del buf[:need]
                header, self._header, self._need = self._header, None, 0
                return Message(header, payload)
            newline = buf.find(b"\n", self._scan)
            if newline < 0:
                # Not yet a whole line. Allow one byte over the limit: the `\r` of a `\r\n` still to come.
                if len(buf) > self.max_line + 1:
                    self._fail(f"a line longer than {self.max_line} bytes", "line_too_long")
                self._scan = len(buf)
                return None
            end = newline - 1 if newline and buf[newline - 1] == 0x0D else newline
            if end > self.max_line:
                self._fail(f"a line of {end} bytes: the limit is {self.max_line}", "line_too_long")
            line = bytes(buf[:end])
            del buf[: newline + 1]
            self._scan = 0
            if not line.strip(b" \t"):
                continue  # an empty line (someone pressed Enter in socat): nothing to answer
            try:
                obj = _decode(line)
            except (msgspec.DecodeError, RecursionError) as e:  # RecursionError: absurdly deep nesting
                return BadLine("bad_json", f"not valid JSON: {e}")
            if not isinstance(obj, dict):
                return BadLine("bad_json", f"not a JSON object (a JSON {type(obj).__name__})")
            n = obj.get("payload_length")
            if n is None:
                return Message(obj, None)
            rid = obj.get("id")
            if type(n) is not int or n < 0:
                self._fail(f"payload_length must be an integer 0..{self.max_payload}, got {_show(n)}: the stream "
                           "cannot be followed", "bad_request", rid)
            if n > self.max_payload:
                self._fail(f"payload_length {n} is over the limit of {self.max_payload} bytes", "payload_too_large",
                           rid)
            self._header, self._need = obj, n

    def _fail(self, message: str, code: str, request_id: Any = None) -> None:
        self.broken = Unframeable(message, code=code, request_id=request_id if _valid_id(request_id) else None)
        self._buf = bytearray()
        raise self.broken


def _valid_id(value: Any) -> bool:
    return type(value) is int or type(value) is str


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _enc_hook(obj: Any) -> Any:
    """What JSON cannot say natively: unset fields are null, enums their value, bytes text; anything else its str
    (a status or event must never fail to encode because a counter grew an odd type)."""
    if obj is msgspec.UNSET:
        return None
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj).decode("utf-8", "replace")
    return str(obj)


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)


def encode_line(obj: dict[str, Any]) -> bytes:
    """One JSON object as one line. A string that cannot be UTF-8 (a lone surrogate) is replaced, never fatal."""
    try:
        return _encoder.encode(obj) + b"\n"
    except (UnicodeEncodeError, msgspec.EncodeError, TypeError, OverflowError):
        return _encoder.encode(_scrub(obj)) + b"\n"


def _scrub(value: Any) -> Any:
    """A copy of `value` that encodes: lone surrogates replaced, keys made strings."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_scrub(str(k)): _scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return _scrub(_enc_hook(value))


def encode_reply(request_id: Any, result: dict[str, Any]) -> bytes:
    return encode_line({"id": request_id, "result": result})


def encode_error(request_id: Any, code: str, message: str) -> bytes:
    return encode_line({"id": request_id, "error": {"code": code, "message": message}})


def encode_event(name: str, data: dict[str, Any] | None = None, payload_length: int | None = None) -> bytes:
    """`{"event": name, **data}` (plus `payload_length` when a payload follows). Events never carry `id`, so they
    never look like replies."""
    message: dict[str, Any] = {"event": name}
    if data:
        message.update(data)
        message["event"] = name
        message.pop("id", None)
        message.pop("payload_length", None)  # only the payload that really follows may be announced
    if payload_length is not None:
        message["payload_length"] = payload_length
    return encode_line(message)


def encode_request(request_id: Any, command: str, args: dict[str, Any], payload_length: int | None = None) -> bytes:
    message = {"id": request_id, "command": command, **args}
    if payload_length is not None:
        message["payload_length"] = payload_length
    return encode_line(message)
