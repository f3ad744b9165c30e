# Borrowing the bytes of Python objects for the C core, shared by the wrappers.
from cpython.buffer cimport PyBUF_SIMPLE, PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.unicode cimport PyUnicode_Check

# Copies and codec loops at least this large run with the GIL released. Below it, dropping and
# re-taking the GIL costs more than the loop and risks a 5 ms wait behind a busy thread (the GIL switch
# interval), which is worse for a 20 ms audio frame than holding it for a microsecond.
cdef enum:
    NOGIL_MIN_BYTES = 65536


cdef extern from "Python.h":
    bint PyUnicode_IS_COMPACT_ASCII(object o)
    const char *PyUnicode_AsUTF8AndSize(object o, Py_ssize_t *size) except NULL
    void *PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)


cdef inline int get_bytes(object obj, Py_buffer *view) except -1:
    """A contiguous byte view of any bytes-like object (release with PyBuffer_Release)."""
    PyObject_GetBuffer(obj, view, PyBUF_SIMPLE)
    return 0


cdef inline int get_writable(object obj, Py_buffer *view) except -1:
    try:
        PyObject_GetBuffer(obj, view, PyBUF_SIMPLE | PyBUF_WRITABLE)
    except BufferError:
        raise TypeError(f"a writable bytes-like object is required, not {type(obj).__name__!r}") from None
    return 0
