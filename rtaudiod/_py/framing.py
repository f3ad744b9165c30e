"""Pure-Python twin of rtaudiod._ext._framing: audio events on the wire. The contract is in
rtaudiod/framing.py.

This is the readable reference and the test oracle. One rule is shared with the C fast path: a frame
that opens with {"type":"<T>" (JSON whitespace allowed, no backslash in T) where T is not an audio delta
is another event, and the rest of it is not examined: the receive thread hands such frames to the full
event decoder, which reports any damage. Every other frame takes a full JSON decode.
"""

import re

import msgspec

from rtaudiod.errors import FramingError, RingFullError

from rtaudiod._py.codecs import _byte_view, b64decode, b64encode
from rtaudiod._py.ring import RingBuffer

DELTA_TYPES = frozenset(("response.audio.delta", "response.output_audio.delta"))

# Reused: building a Decoder per frame costs more than decoding a small event. float_hook=float
# keeps numbers beyond the double range (1e400) valid JSON, as json.loads and the C fast path see them.
_decoder = msgspec.json.Decoder(float_hook=float)

# The leading {"type":"<T>" of a frame, as rta_delta_scan reads it.
_LEADING_TYPE = re.compile(rb'[ \t\n\r]*\{[ \t\n\r]*"type"[ \t\n\r]*:[ \t\n\r]*"([^"\\]*)"')


def encode_append(audio, event_id=None) -> bytes:
    """The exact JSON text of an input_audio_buffer.append event carrying `audio` (any bytes-like):
    {"type":"input_audio_buffer.append","audio":"<base64>"}, with "event_id" after "type" when given."""
    head = b'{"type":"input_audio_buffer.append",'
    if event_id is not None:
        if not isinstance(event_id, str):
            raise TypeError(f"event_id must be a str, not {type(event_id).__name__}")
        head += b'"event_id":' + msgspec.json.encode(str(event_id)) + b","
    return head + b'"audio":"' + b64encode(audio) + b'"}'


def _delta_text(frame) -> str | None:
    """The base64 text of an audio delta frame's `delta`, or None when the frame is another event."""
    raw = frame.encode() if isinstance(frame, str) else _byte_view(frame)  # the bytes the C core reads
    leading = _LEADING_TYPE.match(raw)
    if leading and leading.group(1).decode("latin-1") not in DELTA_TYPES:
        return None
    try:
        event = _decoder.decode(raw)
    except (msgspec.DecodeError, UnicodeError) as exc:  # UnicodeError: invalid UTF-8 bytes
        raise FramingError(f"audio delta frame: not valid JSON: {exc}") from None
    if not isinstance(event, dict):
        return None
    kind = event.get("type")
    if not isinstance(kind, str) or kind not in DELTA_TYPES:
        return None
    delta = event.get("delta")
    if not isinstance(delta, str):
        raise FramingError(f"audio delta frame: 'delta' is {'not a string' if 'delta' in event else 'missing'}")
    return delta


def decode_audio_delta(frame) -> bytes | None:
    """The audio of a response.audio.delta / response.output_audio.delta frame (str or bytes-like), or
    None for another event. FramingError (a ValueError) for broken JSON, or a delta whose `delta` is missing, not a
    string or not strict base64."""
    text = _delta_text(frame)
    if text is None:
        return None
    try:
        return b64decode(text)
    except ValueError as exc:
        raise FramingError(f"audio delta frame: 'delta' is not valid base64: {exc}") from None


def decode_audio_delta_into(frame, ring: RingBuffer) -> int | None:
    """decode_audio_delta, writing the audio into `ring` (producer side). Returns the byte count, or None
    for another event. RingFullError (a BufferError), with nothing written, when the ring has less room than the audio."""
    if not isinstance(ring, RingBuffer):
        raise TypeError(f"ring must be a {RingBuffer.__module__}.RingBuffer, not {type(ring).__name__}")
    audio = decode_audio_delta(frame)
    if audio is None:
        return None
    room = ring.write_available
    if len(audio) > room:
        raise RingFullError(f"audio delta of {len(audio)} bytes does not fit: {room} bytes free in the ring")
    return ring.write(audio)
