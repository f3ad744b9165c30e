"""Audio events on the wire over csrc/rta_framing.c. The contract is in rtaudiod/framing.py; the
readable reference with the same API is rtaudiod/_py/framing.py."""

from cpython.buffer cimport PyBuffer_Release
from libc.string cimport memcmp, memcpy

import msgspec

from rtaudiod._ext._buffers cimport (
    NOGIL_MIN_BYTES, PyUnicode_AsUTF8AndSize, PyUnicode_DATA, PyUnicode_GET_LENGTH, PyUnicode_IS_COMPACT_ASCII,
    get_bytes, get_writable,
)
from rtaudiod._ext._ring cimport RingBuffer
from rtaudiod._ext.rta_b64 cimport RTA_B64_OK, rta_b64_decode, rta_b64_decode_split, rta_b64_decoded_size, rta_b64_status
from rtaudiod._ext.rta_framing cimport (
    RTA_AUDIO_G711_ALAW, RTA_AUDIO_G711_ULAW, RTA_AUDIO_PCM16, RTA_DELTA_FOUND, RTA_DELTA_OTHER, RTA_FRAMING_EBASE64,
    RTA_FRAMING_ESPACE, RTA_FRAMING_NOT_READY, RTA_NO_SPAN, rta_append_frame_size, rta_append_from_ring,
    rta_audio_format, rta_delta_decode_into, rta_delta_info, rta_delta_kind, rta_delta_scan, rta_delta_types,
    rta_frame_append, rta_frame_append_size, rta_framing_status, rta_span,
)
from rtaudiod._ext.rta_ring cimport (
    rta_region, rta_ring_advance_write, rta_ring_capacity, rta_ring_write_available, rta_ring_write_regions,
)

from rtaudiod._ext._codecs import b64decode
from rtaudiod.errors import FramingError, RingFullError

cdef extern from "Python.h":
    bytes PyBytes_FromStringAndSize(const char *v, Py_ssize_t len)
    char *PyBytes_AS_STRING(object o)
    bint PyByteArray_CheckExact(object o)
    char *PyByteArray_AS_STRING(object o)
    Py_ssize_t PyByteArray_GET_SIZE(object o)
    str PyUnicode_DecodeASCII(const char *s, Py_ssize_t size, const char *errors)


cdef frozenset _c_delta_types():
    """The C core's list (rta_delta_types), the one place the audio delta event types are written."""
    cdef Py_ssize_t i = 0
    names = []
    while rta_delta_types[i] != NULL:
        names.append(rta_delta_types[i].decode("ascii"))
        i += 1
    return frozenset(names)


DELTA_TYPES = _c_delta_types()
cdef bytes APPEND_HEAD = b'{"type":"input_audio_buffer.append","audio":"'
cdef bytes APPEND_TAIL = b'"}'
cdef object _json_encode = msgspec.json.encode
# float_hook: a number beyond the double range (1e400) is valid JSON, as json.loads and the fast path
# see it; msgspec's default would call the frame broken only when the fast path is not taken.
cdef object _json_decode = msgspec.json.Decoder(float_hook=float).decode
cdef dict _FORMATS = {"pcm16": RTA_AUDIO_PCM16, "g711_ulaw": RTA_AUDIO_G711_ULAW, "g711_alaw": RTA_AUDIO_G711_ALAW}


cdef int _format(object name) except -1:
    """The C enum of an audio format name; ValueError for anything else."""
    if name is "pcm16":  # the default argument itself: no hashing on the per-frame path
        return RTA_AUDIO_PCM16
    fmt = _FORMATS.get(name) if isinstance(name, str) else None
    if fmt is None:
        raise ValueError(f"audio_format must be 'pcm16', 'g711_ulaw' or 'g711_alaw', not {name!r}")
    return fmt


cdef int _check_pcm_bytes(Py_ssize_t nbytes) except -1:
    if nbytes <= 0 or nbytes % 2:
        raise ValueError(f"nbytes must be an even number of PCM16 bytes above 0, got {nbytes}")
    return 0


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


# ---- uplink: capture ring -> append text, or the masked WebSocket frame carrying it ------------------


def append_frame_size(Py_ssize_t nbytes, audio_format="pcm16", bint masked=False):
    """Bytes frame_append_from_ring writes for `nbytes` of PCM16: the text, or with `masked` the frame."""
    cdef int fmt = _format(audio_format)
    _check_pcm_bytes(nbytes)
    return rta_append_frame_size(<size_t>nbytes, <rta_audio_format>fmt, masked)


def frame_append_from_ring(RingBuffer ring not None, Py_ssize_t nbytes, out, audio_format="pcm16", mask_key=None):
    """Take `nbytes` of PCM16 from `ring` (consumer side) and write their append event into `out`; returns
    its length, or 0 (nothing read) while fewer than `nbytes` are readable. See rtaudiod/framing.py."""
    cdef int fmt = _format(audio_format)
    cdef unsigned char key[4]
    cdef const unsigned char *key_ptr = NULL
    cdef Py_buffer view
    cdef rta_framing_status status
    cdef size_t written = 0
    _check_pcm_bytes(nbytes)
    if <size_t>nbytes > rta_ring_capacity(ring._ring):
        raise ValueError(f"cannot read {nbytes} bytes from a ring of {rta_ring_capacity(ring._ring)}")
    if mask_key is not None:
        get_bytes(mask_key, &view)
        try:
            if view.len != 4:
                raise ValueError(f"mask_key must be 4 bytes, got {view.len}")
            memcpy(key, view.buf, 4)
            key_ptr = key
        finally:
            PyBuffer_Release(&view)
    cdef Py_ssize_t out_len
    if nbytes < NOGIL_MIN_BYTES and PyByteArray_CheckExact(out):
        # The usual `out`, a reused bytearray: with the GIL held throughout nobody can resize it, so its
        # storage is used without a buffer export (a sixth of the call on a 20 ms frame).
        out_len = PyByteArray_GET_SIZE(out)
        status = rta_append_from_ring(ring._ring, <size_t>nbytes, <rta_audio_format>fmt, key_ptr,
                                      PyByteArray_AS_STRING(out), <size_t>out_len, &written)
    else:
        get_writable(out, &view)
        out_len = view.len
        try:
            # The ring's bytes are framed where they lie and `out` is exported (it cannot be resized):
            # nothing here touches a Python object, so a large frame is built without the GIL.
            if nbytes >= NOGIL_MIN_BYTES:
                with nogil:
                    status = rta_append_from_ring(ring._ring, <size_t>nbytes, <rta_audio_format>fmt, key_ptr,
                                                  <char *>view.buf, <size_t>view.len, &written)
            else:
                status = rta_append_from_ring(ring._ring, <size_t>nbytes, <rta_audio_format>fmt, key_ptr,
                                              <char *>view.buf, <size_t>view.len, &written)
        finally:
            PyBuffer_Release(&view)
    if status == RTA_FRAMING_ESPACE:
        raise FramingError(f"out holds {out_len} bytes; the frame needs "
                           f"{rta_append_frame_size(<size_t>nbytes, <rta_audio_format>fmt, key_ptr != NULL)}")
    if status == RTA_FRAMING_NOT_READY:
        return 0
    return written


# ---- downlink: the slow path, a full JSON decode ----------------------------------------------------


cdef dict _full_event(object frame):
    """The frame decoded in full when it is an audio delta; None for another event. FramingError for
    broken JSON."""
    try:
        event = _json_decode(str(frame) if isinstance(frame, str) else frame)  # msgspec refuses str subclasses
    except msgspec.DecodeError as exc:
        raise FramingError(f"audio delta frame: not valid JSON: {exc}") from None
    if not isinstance(event, dict):
        return None
    kind = event.get("type")
    if not isinstance(kind, str) or kind not in DELTA_TYPES:  # a list or dict `type` is unhashable
        return None
    return event


cdef str _delta_text(dict event):
    delta = event.get("delta")
    if not isinstance(delta, str):
        raise FramingError(f"audio delta frame: 'delta' is {'not a string' if 'delta' in event else 'missing'}")
    return delta


cdef object _base64_error(str text):
    """The FramingError for a delta the C decoder refused, with the codec's account of why."""
    try:
        b64decode(text)
    except ValueError as exc:
        return FramingError(f"audio delta frame: 'delta' is not valid base64: {exc}")
    return FramingError("audio delta frame: 'delta' is not valid base64")  # pragma: no cover


cdef bytes _full_decode(object frame):
    event = _full_event(frame)
    if event is None:
        return None
    text = _delta_text(event)
    try:
        return b64decode(text)
    except ValueError:
        raise _base64_error(text) from None


cdef object _id(dict event, str key):
    value = event.get(key)
    return value if isinstance(value, str) else None


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
            out = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>rta_b64_decoded_size(src + info.delta.start, info.delta.len))
            dst = <unsigned char *>PyBytes_AS_STRING(out)
            if info.delta.len >= NOGIL_MIN_BYTES:
                with nogil:
                    status = rta_b64_decode(src + info.delta.start, info.delta.len, dst, &out_len, &err_pos)
            else:
                status = rta_b64_decode(src + info.delta.start, info.delta.len, dst, &out_len, &err_pos)
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
            need = rta_b64_decoded_size(src + info.delta.start, info.delta.len)
            # `need` is counted from the raw text: an escape makes it too big and a broken delta has no
            # size at all, so when it seems not to fit the full decode below gives the verdict.
            if need <= rta_ring_write_available(ring._ring):
                rta_ring_write_regions(ring._ring, need, reg)
                # Decode straight into the ring's free space; publish only if the whole delta was valid.
                if info.delta.len >= NOGIL_MIN_BYTES:
                    with nogil:
                        status = rta_b64_decode_split(src + info.delta.start, info.delta.len, reg[0].data,
                                                      reg[0].len, reg[1].data, &out_len, &err_pos)
                else:
                    status = rta_b64_decode_split(src + info.delta.start, info.delta.len, reg[0].data,
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


# ---- downlink: a delta into the playout ring, with its ids --------------------------------------------


# The ids of the last delta seen: an item's deltas all carry the same two, so the next delta usually
# returns these objects again instead of building two new strings.
cdef str _last_item_id = None
cdef str _last_response_id = None


cdef inline str _span_str(const char *src, rta_span span, str last):
    """The id at `span` (plain ASCII, no escapes: rta_delta_scan checked): `last` when it is the same text
    (ids built here are compact ASCII, their data the characters), a new str otherwise, or None."""
    if span.start == RTA_NO_SPAN:
        return None
    if (last is not None and <size_t>PyUnicode_GET_LENGTH(last) == span.len
            and memcmp(PyUnicode_DATA(last), src + span.start, span.len) == 0):
        return last
    return PyUnicode_DecodeASCII(src + span.start, <Py_ssize_t>span.len, NULL)


cdef Py_ssize_t _decode_text_into(const char *text, size_t n, int fmt, RingBuffer ring) noexcept:
    """rta_delta_decode_into for n characters of base64; -1 (nothing written) if they are not base64."""
    cdef rta_framing_status status
    cdef size_t written = 0
    if n >= NOGIL_MIN_BYTES:
        with nogil:
            status = rta_delta_decode_into(text, n, <rta_audio_format>fmt, ring._ring, &written)
    else:
        status = rta_delta_decode_into(text, n, <rta_audio_format>fmt, ring._ring, &written)
    return -1 if status == RTA_FRAMING_EBASE64 else <Py_ssize_t>written


def decode_delta_into(frame, RingBuffer ring not None, audio_format="pcm16", skip_response_id=None):
    """An audio delta's audio into `ring` as PCM16, with its ids: (written, item_id, response_id), or None
    for another event. See rtaudiod/framing.py."""
    global _last_item_id, _last_response_id
    cdef int fmt = _format(audio_format)
    cdef Py_buffer view
    cdef const char *src
    cdef Py_ssize_t n
    cdef rta_delta_info info
    cdef rta_delta_kind kind
    cdef Py_ssize_t written
    if skip_response_id is not None and not isinstance(skip_response_id, str):
        raise TypeError(f"skip_response_id must be a str or None, not {type(skip_response_id).__name__}")
    cdef int release = _frame_chars(frame, &view, &src, &n)
    try:
        kind = rta_delta_scan(src, <size_t>n, &info)
        if kind == RTA_DELTA_OTHER:
            return None
        if kind == RTA_DELTA_FOUND:
            item_id = _span_str(src, info.item_id, _last_item_id)
            response_id = _span_str(src, info.response_id, _last_response_id)
            if item_id is not None:
                _last_item_id = item_id
            if response_id is not None:
                _last_response_id = response_id
            if skip_response_id is not None and response_id == skip_response_id:
                return 0, item_id, response_id
            written = _decode_text_into(src + info.delta.start, info.delta.len, fmt, ring)
            if written >= 0:
                return written, item_id, response_id
            # An escape or a stray character in the string: the full decode gives the verdict.
    finally:
        if release:
            PyBuffer_Release(&view)
    event = _full_event(frame)
    if event is None:
        return None
    item_id, response_id = _id(event, "item_id"), _id(event, "response_id")
    if skip_response_id is not None and response_id == skip_response_id:
        return 0, item_id, response_id
    text = _delta_text(event)
    if not text.isascii():
        raise _base64_error(text)
    raw = text.encode("ascii")
    written = _decode_text_into(raw, len(raw), fmt, ring)
    if written < 0:
        raise _base64_error(text)
    return written, item_id, response_id
