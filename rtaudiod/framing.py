"""Audio events on the wire, in one pass (C core, or pure-Python twin).

encode_append(audio, event_id=None) -> bytes
    The exact JSON text of {"type":"input_audio_buffer.append","audio":"<base64>"}, with "event_id" after
    "type" when given.
decode_audio_delta(frame) -> bytes | None
    The decoded audio of a `response.audio.delta` (beta) or `response.output_audio.delta` (ga) frame, or
    None when the frame is another event. A frame that opens with {"type":"<T>" (no backslash in T) for
    another T is another event without a look at the rest: the receive thread decodes those in full
    and reports any damage there. FramingError (a ValueError) when the frame is broken JSON (with no such plain leading
    type) or a delta whose `delta` is missing or not valid base64.
decode_audio_delta_into(frame, ring) -> int | None
    The same, writing the audio straight into a RingBuffer; returns the bytes written. Raises
    RingFullError (a BufferError; nothing written) when the ring has less room than the audio needs.

The fast path reads the frame's raw bytes; frames it cannot vouch for (fields in another order, escapes)
take a full JSON decode and give the same result.
"""

from rtaudiod._backend import load

_impl = load("framing")
encode_append = _impl.encode_append
decode_audio_delta = _impl.decode_audio_delta
decode_audio_delta_into = _impl.decode_audio_delta_into
AUDIO_DELTA_TYPES = ("response.audio.delta", "response.output_audio.delta")

__all__ = ["encode_append", "decode_audio_delta", "decode_audio_delta_into", "AUDIO_DELTA_TYPES"]
