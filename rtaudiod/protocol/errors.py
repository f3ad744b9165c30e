"""The one exception of the protocol layer."""

from __future__ import annotations


class ProtocolError(ValueError):
    """A frame from the server that is not a valid Realtime event.

    Raised for broken JSON, a frame that is not a JSON object or has no string `type`, and a known event whose
    fields have the wrong type or are missing. `event_type` is the frame's `type` when it had one, `path` the
    offending field (msgspec's `$.field[0].sub` notation) when known. Never raised for an unknown event type.
    """

    def __init__(self, message: str, *, event_type: str | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.event_type = event_type
        self.path = path
