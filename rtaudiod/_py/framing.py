"""Pure-Python twin of rtaudiod._ext._framing: audio events on the wire. The contract is in
rtaudiod/framing.py.

This is the readable reference and the test oracle. One rule is shared with the C fast path: a frame
that opens with {"type":"<T>" (JSON whitespace allowed, no backslash in T) where T is not an audio delta
is another event, and the rest of it is not examined: the receive thread hands such frames to the full
event decoder, which reports any damage. Every other frame takes a full JSON decode.
"""

import operator
import re

import msgspec
import numpy as np

from rtaudiod._py.codecs import _byte_view, alaw_decode, alaw_encode, b64decode, b64encode, ulaw_decode, ulaw_encode
from rtaudiod._py.ring import RingBuffer
from rtaudiod.errors import FramingError, RingFullError

# The C core's rta_delta_types (csrc/rta_framing.c) is the list; this copy exists because the twins run
# where the extension is not built. tests/test_framing.py checks that the two agree.
DELTA_TYPES = frozenset(("response.audio.delta", "response.output_audio.delta"))

# Wire format -> (PCM16 -> wire bytes, wire bytes -> PCM16); None: pcm16 goes as is.
_CODECS = {"pcm16": None, "g711_ulaw": (ulaw_encode, ulaw_decode), "g711_alaw": (alaw_encode, alaw_decode)}

# Reused: building a Decoder per frame costs more than decoding a small event. float_hook=float
# keeps numbers beyond the double range (1e400) valid JSON, as json.loads and the C fast path see them.
_decoder = msgspec.json.Decoder(float_hook=float)

# The leading {"type":"<T>" of a frame, as rta_delta_scan reads it.
_LEADING_TYPE = re.compile(rb'[ \t\n\r]*\{[ \t\n\r]*"type"[ \t\n\r]*:[ \t\n\r]*"([^"\\]*)"')


def _codec(audio_format):
    if not isinstance(audio_format, str) or audio_format not in _CODECS:
        raise ValueError(f"audio_format must be 'pcm16', 'g711_ulaw' or 'g711_alaw', not {audio_format!r}")
    return _CODECS[audio_format]


# ---- uplink --------------------------------------------------------------------------------------


def encode_append(audio, event_id=None) -> bytes:
    """The exact JSON text of an input_audio_buffer.append event carrying `audio` (any bytes-like):
    {"type":"input_audio_buffer.append","audio":"<base64>"}, with "event_id" after "type" when given."""
    head = b'{"type":"input_audio_buffer.append",'
    if event_id is not None:
        if not isinstance(event_id, str):
            raise TypeError(f"event_id must be a str, not {type(event_id).__name__}")
        head += b'"event_id":' + msgspec.json.encode(str(event_id)) + b","
    return head + b'"audio":"' + b64encode(audio) + b'"}'


def _pcm_bytes(nbytes) -> int:
    nbytes = operator.index(nbytes)
    if nbytes <= 0 or nbytes % 2:
        raise ValueError(f"nbytes must be an even number of PCM16 bytes above 0, got {nbytes}")
    return nbytes


def _ws_header_size(payload_len: int) -> int:
    """RFC 6455 5.2: 2 bytes, the length in 0, 2 or 8 more, then the 4-byte masking key."""
    return (2 if payload_len < 126 else 4 if payload_len <= 0xFFFF else 10) + 4


def append_frame_size(nbytes: int, audio_format: str = "pcm16", masked: bool = False) -> int:
    """Bytes frame_append_from_ring writes for `nbytes` of PCM16: the text, or with `masked` the frame."""
    codec = _codec(audio_format)
    nbytes = _pcm_bytes(nbytes)
    audio = nbytes if codec is None else nbytes // 2  # G.711: one byte a sample
    text = len(b'{"type":"input_audio_buffer.append","audio":"') + 4 * -(-audio // 3) + len(b'"}')
    return _ws_header_size(text) + text if masked else text


def _ws_frame(payload: bytes, key: bytes) -> bytes:
    """A masked client frame carrying one complete text message (FIN + opcode 1)."""
    n = len(payload)
    if n < 126:
        length = bytes([0x80 | n])
    elif n <= 0xFFFF:
        length = bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        length = bytes([0x80 | 127]) + n.to_bytes(8, "big")
    masked = np.frombuffer(payload, np.uint8) ^ np.resize(np.frombuffer(key, np.uint8), n)
    return b"\x81" + length + key + masked.tobytes()


def frame_append_from_ring(ring, nbytes: int, out, audio_format: str = "pcm16", mask_key=None) -> int:
    """Take `nbytes` of PCM16 from `ring` (consumer side) and write their append event into `out`; returns
    its length, or 0 (nothing read) while fewer than `nbytes` are readable. See rtaudiod/framing.py."""
    if not isinstance(ring, RingBuffer):
        raise TypeError(f"ring must be a {RingBuffer.__module__}.RingBuffer, not {type(ring).__name__}")
    codec = _codec(audio_format)
    nbytes = _pcm_bytes(nbytes)
    if nbytes > ring.capacity:
        raise ValueError(f"cannot read {nbytes} bytes from a ring of {ring.capacity}")
    key = None if mask_key is None else _byte_view(mask_key).tobytes()
    if key is not None and len(key) != 4:
        raise ValueError(f"mask_key must be 4 bytes, got {len(key)}")
    dst = memoryview(out).cast("B")
    if dst.readonly:
        raise TypeError(f"a writable bytes-like object is required, not {type(out).__name__!r}")
    size = append_frame_size(nbytes, audio_format, key is not None)
    if len(dst) < size:
        raise FramingError(f"out holds {len(dst)} bytes; the frame needs {size}")
    if ring.read_available < nbytes:
        return 0  # all or nothing: the caller waits for the rest (no underrun: nothing was taken)
    pcm = ring.read(nbytes)
    text = encode_append(pcm if codec is None else codec[0](pcm))
    frame = text if key is None else _ws_frame(text, key)
    dst[: len(frame)] = frame
    return len(frame)


# ---- downlink ------------------------------------------------------------------------------------


def _delta_event(frame) -> dict | None:
    """The frame decoded in full when it is an audio delta; None for another event."""
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
    return event


def _delta_audio(event: dict) -> bytes:
    """The decoded `delta` of an audio delta event. FramingError when missing, not a string or not base64."""
    delta = event.get("delta")
    if not isinstance(delta, str):
        raise FramingError(f"audio delta frame: 'delta' is {'not a string' if 'delta' in event else 'missing'}")
    try:
        return b64decode(delta)
    except ValueError as exc:
        raise FramingError(f"audio delta frame: 'delta' is not valid base64: {exc}") from None


def decode_audio_delta(frame) -> bytes | None:
    """The audio of a response.audio.delta / response.output_audio.delta frame (str or bytes-like), or
    None for another event. FramingError (a ValueError) for broken JSON, or a delta whose `delta` is missing,
    not a string or not strict base64."""
    event = _delta_event(frame)
    return None if event is None else _delta_audio(event)


def _check_ring(ring) -> None:
    if not isinstance(ring, RingBuffer):
        raise TypeError(f"ring must be a {RingBuffer.__module__}.RingBuffer, not {type(ring).__name__}")


def decode_audio_delta_into(frame, ring: RingBuffer) -> int | None:
    """decode_audio_delta, writing the audio into `ring` (producer side). Returns the byte count, or None
    for another event. RingFullError (a BufferError), with nothing written, when the ring has less room than
    the audio."""
    _check_ring(ring)
    audio = decode_audio_delta(frame)
    if audio is None:
        return None
    room = ring.write_available
    if len(audio) > room:
        raise RingFullError(f"audio delta of {len(audio)} bytes does not fit: {room} bytes free in the ring")
    return ring.write(audio)


def _id(event: dict, key: str) -> str | None:
    value = event.get(key)
    return value if isinstance(value, str) else None


def decode_delta_into(frame, ring: RingBuffer, audio_format: str = "pcm16",
                      skip_response_id: str | None = None) -> tuple[int, str | None, str | None] | None:
    """An audio delta's audio into `ring` as PCM16, with its ids: (written, item_id, response_id), or None
    for another event. See rtaudiod/framing.py."""
    codec = _codec(audio_format)
    _check_ring(ring)
    if skip_response_id is not None and not isinstance(skip_response_id, str):
        raise TypeError(f"skip_response_id must be a str or None, not {type(skip_response_id).__name__}")
    event = _delta_event(frame)
    if event is None:
        return None
    item_id, response_id = _id(event, "item_id"), _id(event, "response_id")
    if skip_response_id is not None and response_id == skip_response_id:
        return 0, item_id, response_id  # a dropped response: not even decoded
    audio = _delta_audio(event)
    pcm = audio if codec is None else codec[1](audio)
    if len(pcm) % 2:
        pcm += b"\0"  # a broken delta: one byte off, every later sample would play byte-swapped (loud noise)
    room = ring.write_available
    if len(pcm) <= room:
        return ring.write(pcm), item_id, response_id
    written = ring.write(memoryview(pcm)[: room & ~1])  # what fits, in whole samples
    ring._note_overrun()
    return written, item_id, response_id
