"""Audio events on the wire over csrc/rta_framing.c. The contract is in rtaudiod/framing.py; the
readable reference with the same API is rtaudiod/_py/framing.py."""

from cpython.buffer cimport PyBuffer_Release

import msgspec

from rtaudiod._ext._buffers cimport (
    NOGIL_MIN_BYTES, PyUnicode_AsUTF8AndSize, PyUnicode_DATA, PyUnicode_GET_LENGTH,
    PyUnicode_IS_COMPACT_ASCII, get_bytes,
)
from rtaudiod._ext._ring cimport RingBuffer
from rtaudiod._ext.rta_b64 cimport *
from rtaudiod._ext.rta_framing cimport *
from rtaudiod._ext.rta_ring cimport rta_region, rta_ring_advance_write, rta_ring_write_available, rta_ring_write_regions

from rtaudiod._ext._codecs import b64decode
from rtaudiod.errors import FramingError, RingFullError

cdef extern from "Python.h":
    bytes PyBytes_FromStringAndSize(const char *v, Py_ssize_t len)
    char *PyBytes_AS_STRING(object o)

DELTA_TYPES = frozenset(("response.audio.delta", "response.output_audio.delta"))
cdef bytes APPEND_HEAD = b'{"type":"input_audio_buffer.append","audio":"'
cdef bytes APPEND_TAIL = b'"}'
cdef object _json_encode = msgspec.json.encode
# float_hook: a number beyond the double range (1e400) is valid JSON, as json.loads and the fast path
# see it; msgspec's default would call the frame broken only when the fast path is not taken.
cdef object _json_decode = msgspec.json.Decoder(float_hook=float).decode


def encode_append(audio, event_id=None):
    """The exact JSON text of an input_audio_buffer.append event carrying `audio` (any bytes-like)."""
    cdef bytes head = APPEND_HEAD
    if event_id is not None:
        if not isinstance(event_id, str):
            raise TypeError(f"event_id must be a str, not {type(event_id).__name__}")
        head = b'{"type":"input_audio_buffer.append","event_id":' + _json_encode(str(event_id)) + b',"audio":"'
    cdef Py_buffer view
    get_bytes(audio, &view)
    try:
        out = PyBytes_FromStringAndSize(
            NULL, <Py_ssize_t>rta_frame_append_size(len(head), <size_t>view.len, len(APPEND_TAIL)))
        rta_frame_append(head, len(head), <const unsigned char *>view.buf, <size_t>view.len,
                         APPEND_TAIL, len(APPEND_TAIL), PyBytes_AS_STRING(out))
        return out
    finally:
        PyBuffer_Release(&view)


cdef str _full_delta_text(object frame):
    """The slow path: full JSON decode. The delta's base64 text, or None when not an audio delta."""
    try:
        event = _json_decode(str(frame) if isinstance(frame, str) else frame)  # msgspec refuses str subclasses
    except msgspec.DecodeError as exc:
        raise FramingError(f"audio delta frame: not valid JSON: {exc}") from None
    if not isinstance(event, dict):
        return None
    kind = event.get("type")
    if not isinstance(kind, str) or kind not in DELTA_TYPES:  # a list or dict `type` is unhashable
        return None
    delta = event.get("delta")
    if not isinstance(delta, str):
        raise FramingError(f"audio delta frame: 'delta' is {'not a string' if 'delta' in event else 'missing'}")
    return delta


cdef bytes _full_decode(object frame):
    text = _full_delta_text(frame)
    if text is None:
        return None
    try:
        return b64decode(text)
    except ValueError as exc:
        raise FramingError(f"audio delta frame: 'delta' is not valid base64: {exc}") from None


cdef int _frame_chars(object frame, Py_buffer *view, const char **src, Py_ssize_t *n) except -1:
    """Point src/n at the frame's bytes: the UTF-8 of a str (no copy for ASCII), else a buffer view.
    Returns 1 when `view` was taken and must be released."""
    if isinstance(frame, str):
        if PyUnicode_IS_COMPACT_ASCII(frame):
            src[0] = <const char *>PyUnicode_DATA(frame)
            n[0] = PyUnicode_GET_LENGTH(frame)
        else:
            src[0] = PyUnicode_AsUTF8AndSize(frame, n)
        return 0
    get_bytes(frame, view)
    src[0] = <const char *>view.buf
    n[0] = view.len
    return 1


def decode_audio_delta(frame):
    """The audio of a response.audio.delta / response.output_audio.delta frame, or None for another event."""
    cdef Py_buffer view
    cdef const char *src
    cdef Py_ssize_t n
    cdef rta_delta_info info
    cdef rta_delta_kind kind
    cdef size_t out_len = 0, err_pos = 0
    cdef rta_b64_status status
    cdef unsigned char *dst
    cdef int release = _frame_chars(frame, &view, &src, &n)
    try:
        kind = rta_delta_scan(src, <size_t>n, &info)
        if kind == RTA_DELTA_OTHER:
            return None
        if kind == RTA_DELTA_FOUND:
            out = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>rta_b64_decoded_size(src + info.delta_start, info.delta_len))
            dst = <unsigned char *>PyBytes_AS_STRING(out)
            if info.delta_len >= NOGIL_MIN_BYTES:
                with nogil:
                    status = rta_b64_decode(src + info.delta_start, info.delta_len, dst, &out_len, &err_pos)
            else:
                status = rta_b64_decode(src + info.delta_start, info.delta_len, dst, &out_len, &err_pos)
            if status == RTA_B64_OK:
                return out
            # An escape or a stray character in the string: the full decode gives the verdict.
    finally:
        if release:
            PyBuffer_Release(&view)
    return _full_decode(frame)


def decode_audio_delta_into(frame, RingBuffer ring not None):
    """decode_audio_delta, writing the audio into `ring` (producer side). Returns the byte count, or None
    for another event. RingFullError (a BufferError), with nothing written, when the ring has less room than the audio."""
    cdef Py_buffer view
    cdef const char *src
    cdef Py_ssize_t n
    cdef rta_delta_info info
    cdef rta_delta_kind kind
    cdef size_t need, out_len = 0, err_pos = 0
    cdef rta_region reg[2]
    cdef rta_b64_status status
    cdef int release = _frame_chars(frame, &view, &src, &n)
    try:
        kind = rta_delta_scan(src, <size_t>n, &info)
        if kind == RTA_DELTA_OTHER:
            return None
        if kind == RTA_DELTA_FOUND:
            need = rta_b64_decoded_size(src + info.delta_start, info.delta_len)
            # `need` is counted from the raw text: an escape makes it too big and a broken delta has no
            # size at all, so when it seems not to fit the full decode below gives the verdict.
            if need <= rta_ring_write_available(ring._ring):
                rta_ring_write_regions(ring._ring, need, reg)
                # Decode straight into the ring's free space; publish only if the whole delta was valid.
                if info.delta_len >= NOGIL_MIN_BYTES:
                    with nogil:
                        status = rta_b64_decode_split(src + info.delta_start, info.delta_len, reg[0].data,
                                                      reg[0].len, reg[1].data, &out_len, &err_pos)
                else:
                    status = rta_b64_decode_split(src + info.delta_start, info.delta_len, reg[0].data,
                                                  reg[0].len, reg[1].data, &out_len, &err_pos)
                if status == RTA_B64_OK:
                    rta_ring_advance_write(ring._ring, out_len)
                    return out_len
    finally:
        if release:
            PyBuffer_Release(&view)
    audio = _full_decode(frame)
    if audio is None:
        return None
    if len(audio) > ring.write_available:
        raise RingFullError(f"audio delta of {len(audio)} bytes does not fit: {ring.write_available} bytes free in the ring")
    ring.write(audio)
    return len(audio)
