"""Audio events on the wire, in one pass (C core, or pure-Python twin).

Uplink
------
encode_append(audio, event_id=None) -> bytes
    The exact JSON text of {"type":"input_audio_buffer.append","audio":"<base64>"}, with "event_id" after
    "type" when given.
append_frame_size(nbytes, audio_format="pcm16", masked=False) -> int
    The bytes frame_append_from_ring writes for `nbytes` of PCM16: the text, or with `masked` the whole
    WebSocket frame. Size `out` with it once.
frame_append_from_ring(ring, nbytes, out, audio_format="pcm16", mask_key=None) -> int
    The uplink thread's one call per frame. Takes exactly `nbytes` (even, > 0, at most the ring's
    capacity) of mono PCM16 from `ring` (consumer side) and writes into `out` (a writable buffer, e.g. a
    reused bytearray) the same bytes as encode_append(pcm), or with audio_format "g711_ulaw"/"g711_alaw"
    as encode_append(ulaw_encode(pcm)) / encode_append(alaw_encode(pcm)). Returns the length written.
    With `mask_key` (4 bytes) it writes instead the complete RFC 6455 client frame carrying that text:
    0x81 (FIN, text), the MASK bit with the 7-, 16- or 64-bit length, the key, the payload XORed with
    it. RFC 6455 wants a fresh unpredictable key per frame (os.urandom(4), as websocket-client uses).
    Hand the frame to the socket as is, the way websocket-client's send_frame does: under `ws.lock`,
    loop on websocket._socket.send(ws.sock, view) over memoryview(out)[:n].
    While fewer than `nbytes` are readable it reads nothing and returns 0: wait with
    ring.wait_readable(nbytes, timeout) first. `out` smaller than append_frame_size(...):
    FramingError (a ValueError), nothing read. ValueError for a bad nbytes, audio_format or mask_key.

Downlink
--------
DELTA_TYPES: frozenset[str]
    The audio delta event types: `response.audio.delta` (beta) and `response.output_audio.delta` (ga).
    Written once, in the C core (rta_delta_types).
decode_delta_into(frame, ring, audio_format="pcm16", skip_response_id=None)
        -> tuple[int, str | None, str | None] | None
    The receive thread's one call per audio delta. None when the frame is not an audio delta (as for
    decode_audio_delta). Else (written, item_id, response_id); an id is None when the frame has none or
    its value is not a string. When response_id == skip_response_id (not None) nothing is decoded or
    written: (0, item_id, response_id). Otherwise the delta's audio goes into `ring` (producer side) as
    PCM16: pcm16 as is, G.711 codes decoded to two bytes each (bit-exact with rtaudiod.codecs); an odd
    byte count (a broken pcm16 delta) gets one zero byte so the ring stays on sample boundaries.
    `written` counts the bytes put in the ring. A ring without room for all of it takes what fits, in
    whole samples, and counts an overrun (as ring.write does). FramingError, nothing written, for broken
    JSON (with no plain leading type) or a `delta` missing, not a string or not valid base64.
decode_audio_delta(frame) -> bytes | None
    The decoded audio of an audio delta frame, or None when the frame is another event. A frame that
    opens with {"type":"<T>" (no backslash in T) for another T is another event without a look at the
    rest: the receive thread decodes those in full and reports any damage there. FramingError (a
    ValueError) when the frame is broken JSON (with no such plain leading type) or a delta whose `delta`
    is missing or not valid base64.
decode_audio_delta_into(frame, ring) -> int | None
    decode_audio_delta, writing the audio straight into a RingBuffer; returns the bytes written. Raises
    RingFullError (a BufferError; nothing written) when the ring has less room than the audio needs.

The fast path reads the frame's raw bytes; frames it cannot vouch for (fields in another order, escapes)
take a full JSON decode and give the same result, ids included.
"""

from rtaudiod._backend import load

_impl = load("framing")
encode_append = _impl.encode_append
append_frame_size = _impl.append_frame_size
frame_append_from_ring = _impl.frame_append_from_ring
decode_delta_into = _impl.decode_delta_into
decode_audio_delta = _impl.decode_audio_delta
decode_audio_delta_into = _impl.decode_audio_delta_into
DELTA_TYPES: frozenset[str] = _impl.DELTA_TYPES
AUDIO_DELTA_TYPES = tuple(sorted(DELTA_TYPES))  # the older name: (beta, ga)

__all__ = [
    "AUDIO_DELTA_TYPES", "DELTA_TYPES", "append_frame_size", "decode_audio_delta", "decode_audio_delta_into",
    "decode_delta_into", "encode_append", "frame_append_from_ring",
]
