"""G.711 and base64 over csrc/rta_g711.c and csrc/rta_b64.c. The readable reference with the same API
is rtaudiod/_py/codecs.py."""

from cpython.buffer cimport PyBuffer_Release

from rtaudiod._ext._buffers cimport (
    NOGIL_MIN_BYTES, PyUnicode_DATA, PyUnicode_GET_LENGTH, PyUnicode_IS_COMPACT_ASCII, get_bytes,
)
from rtaudiod._ext.rta_b64 cimport (
    RTA_B64_ELENGTH, RTA_B64_OK, rta_b64_decode, rta_b64_decoded_size, rta_b64_encode, rta_b64_encoded_size,
    rta_b64_force_impl, rta_b64_impl, rta_b64_status, rta_b64_strerror,
)
from rtaudiod._ext.rta_g711 cimport (
    rta_alaw_decode, rta_alaw_encode, rta_g711_init, rta_ulaw_decode, rta_ulaw_encode,
)

cdef extern from "Python.h":
    bytes PyBytes_FromStringAndSize(const char *v, Py_ssize_t len)
    char *PyBytes_AS_STRING(object o)

ctypedef void (*g711_fn)(const unsigned char *, size_t, unsigned char *) noexcept nogil

rta_g711_init()


cdef bytes _encode(object pcm, g711_fn encode):
    cdef Py_buffer view
    cdef unsigned char *dst
    get_bytes(pcm, &view)
    try:
        if view.len % 2:
            raise ValueError(f"16-bit PCM must have an even number of bytes, got {view.len}")
        out = PyBytes_FromStringAndSize(NULL, view.len // 2)
        dst = <unsigned char *>PyBytes_AS_STRING(out)
        if view.len >= NOGIL_MIN_BYTES:
            with nogil:
                encode(<const unsigned char *>view.buf, <size_t>view.len // 2, dst)
        else:
            encode(<const unsigned char *>view.buf, <size_t>view.len // 2, dst)
        return out
    finally:
        PyBuffer_Release(&view)


cdef bytes _decode(object data, g711_fn decode):
    cdef Py_buffer view
    cdef unsigned char *dst
    get_bytes(data, &view)
    try:
        out = PyBytes_FromStringAndSize(NULL, view.len * 2)
        dst = <unsigned char *>PyBytes_AS_STRING(out)
        if view.len >= NOGIL_MIN_BYTES:
            with nogil:
                decode(<const unsigned char *>view.buf, <size_t>view.len, dst)
        else:
            decode(<const unsigned char *>view.buf, <size_t>view.len, dst)
        return out
    finally:
        PyBuffer_Release(&view)


def ulaw_encode(pcm):
    """16-bit little-endian PCM -> G.711 mu-law, one byte a sample (audioop.lin2ulaw(pcm, 2))."""
    return _encode(pcm, rta_ulaw_encode)


def alaw_encode(pcm):
    """16-bit little-endian PCM -> G.711 A-law, one byte a sample (audioop.lin2alaw(pcm, 2))."""
    return _encode(pcm, rta_alaw_encode)


def ulaw_decode(data):
    """G.711 mu-law -> 16-bit little-endian PCM (audioop.ulaw2lin(data, 2))."""
    return _decode(data, rta_ulaw_decode)


def alaw_decode(data):
    """G.711 A-law -> 16-bit little-endian PCM (audioop.alaw2lin(data, 2))."""
    return _decode(data, rta_alaw_decode)


def b64encode(data):
    """Standard base64 with padding."""
    cdef Py_buffer view
    cdef char *dst
    get_bytes(data, &view)
    try:
        out = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>rta_b64_encoded_size(<size_t>view.len))
        dst = PyBytes_AS_STRING(out)
        if view.len >= NOGIL_MIN_BYTES:
            with nogil:
                rta_b64_encode(<const unsigned char *>view.buf, <size_t>view.len, dst)
        else:
            rta_b64_encode(<const unsigned char *>view.buf, <size_t>view.len, dst)
        return out
    finally:
        PyBuffer_Release(&view)


cdef object b64_error(rta_b64_status status, size_t pos, const char *src, size_t n):
    """The ValueError for a failed decode, naming the offending character and its offset."""
    if status == RTA_B64_ELENGTH:
        return ValueError(f"invalid base64: length {n} is not a multiple of 4")
    return ValueError(f"invalid base64: {rta_b64_strerror(status).decode()}: {chr(<unsigned char>src[pos])!r} at offset {pos}")


cdef bytes b64decode_chars(const char *src, size_t n):
    """Decode n characters; raises ValueError (the C core's verdict) on anything but strict base64."""
    cdef size_t out_len = 0, err_pos = 0
    cdef rta_b64_status status
    out = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>rta_b64_decoded_size(src, n))
    cdef unsigned char *dst = <unsigned char *>PyBytes_AS_STRING(out)
    if n >= NOGIL_MIN_BYTES:
        with nogil:
            status = rta_b64_decode(src, n, dst, &out_len, &err_pos)
    else:
        status = rta_b64_decode(src, n, dst, &out_len, &err_pos)
    if status != RTA_B64_OK:
        raise b64_error(status, err_pos, src, n)
    return out


def b64decode(data):
    """Strict base64 (what binascii.a2b_base64(strict_mode=True) accepts) -> bytes; ValueError otherwise."""
    cdef Py_buffer view
    if isinstance(data, str):
        if PyUnicode_IS_COMPACT_ASCII(data):  # the common case: the characters are the bytes
            return b64decode_chars(<const char *>PyUnicode_DATA(data), <size_t>PyUnicode_GET_LENGTH(data))
        if not data.isascii():
            raise ValueError("invalid base64: string argument should contain only ASCII characters")
        data = data.encode("ascii")  # ASCII but not stored compactly: a str subclass
    get_bytes(data, &view)
    try:
        return b64decode_chars(<const char *>view.buf, <size_t>view.len)
    finally:
        PyBuffer_Release(&view)


def _b64_impl():
    """The base64 kernel in use in this module: "avx2", "ssse3", "neon" or "scalar". For tests and benchmarks."""
    return rta_b64_impl().decode()


def _b64_force_impl(name):
    """Use base64 kernel `name` in this module from now on (not in _framing, which links its own copy);
    ValueError if this build or CPU has no such kernel. For tests and benchmarks."""
    if rta_b64_force_impl(name.encode()) != 0:
        raise ValueError(f"base64 kernel {name!r} is not available on this CPU")
