"""The package's one exception root.

Every error rtaudiod raises on purpose derives from `RtaudiodError`, so a thread that must survive bad input (the
session's receive loop, the control server) catches `RtaudiodError` and lets anything else (a real bug) surface.
Each subclass also derives from the builtin a caller would have caught before (`ValueError`, `BufferError`,
`RuntimeError`), so `except ValueError` keeps working.

    RtaudiodError
    ├── ProtocolError     (ValueError)    rtaudiod.protocol: a server frame that is not a valid Realtime event
    ├── FramingError      (ValueError)    rtaudiod.framing: a broken audio event frame (bad JSON, bad base64)
    ├── RingFullError     (BufferError)   rtaudiod.framing: the audio does not fit in the ring (nothing written)
    ├── AudioDeviceError  (RuntimeError)  rtaudiod.audio: a device missing, busy or refusing the format
    ├── SessionError      (RuntimeError)  rtaudiod.session: the session cannot go on (see `.code`, `.fatal`)
    └── ControlError      (RuntimeError)  rtaudiod.control: a request the daemon refused (see `.code`)
"""

from __future__ import annotations

__all__ = ["AudioDeviceError", "ControlError", "FramingError", "ProtocolError", "RingFullError", "RtaudiodError",
           "SessionError"]


class RtaudiodError(Exception):
    """The root of every error rtaudiod raises on purpose."""


class ProtocolError(RtaudiodError, ValueError):
    """A frame from the server that is not a valid Realtime event.

    Raised for broken JSON, a frame that is not a JSON object or has no string `type`, and a known event whose
    fields have the wrong type or are missing. `event_type` is the frame's `type` when it had one, `path` the
    offending field (msgspec's `$.field[0].sub` notation) when known. Never raised for an unknown event type.
    """

    def __init__(self, message: str, *, event_type: str | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.event_type = event_type
        self.path = path


class FramingError(RtaudiodError, ValueError):
    """An audio event frame the fast path cannot use: broken JSON, or a `delta` missing or not strict base64."""


class RingFullError(RtaudiodError, BufferError):
    """The decoded audio does not fit in the ring; nothing was written."""


class AudioDeviceError(RtaudiodError, RuntimeError):
    """A device is missing, busy or cannot run the requested format.

    The message names the device asked for and the devices that exist, so the CLI and the daemon can
    print it as-is (no traceback needed to act on it).
    """


class SessionError(RtaudiodError, RuntimeError):
    """The Realtime session cannot go on.

    `code` is the service's error code when there is one (`invalid_api_key`, `insufficient_quota`, ...) or one of
    the session's own (`connect_failed`, `token_failed`, `closed`); `fatal` says retrying cannot help (the
    message says what to change). The message never holds a key.
    """

    def __init__(self, message: str, *, code: str | None = None, fatal: bool = False,
                 close_code: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.fatal = fatal
        self.close_code = close_code


class ControlError(RtaudiodError, RuntimeError):
    """A control request the daemon answered with an error: `code` is the protocol's stable code (`bad_args`,
    `not_connected`, ...; docs/control-protocol.md), the message the daemon's human explanation."""

    def __init__(self, message: str, *, code: str = "internal") -> None:
        super().__init__(message)
        self.code = code
