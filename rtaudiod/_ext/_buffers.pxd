# Borrowing the bytes of Python objects for the C core, shared by the wrappers.
from cpython.buffer cimport PyBUF_SIMPLE, PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.unicode cimport PyUnicode_Check
from libc.string cimport memset

# Copies and codec loops at least this large run with the GIL released. Below it, dropping and
# re-taking the GIL costs more than the loop and risks a 5 ms wait behind a busy thread (the GIL switch
# interval), which is worse for a 20 ms audio frame than holding it for a microsecond.
cdef enum:
    NOGIL_MIN_BYTES = 65536


cdef extern from "Python.h":
    bint PyBytes_CheckExact(object o)
    char *PyBytes_AS_STRING(object o)
    Py_ssize_t PyBytes_GET_SIZE(object o)
    bint PyUnicode_IS_COMPACT_ASCII(object o)
    const char *PyUnicode_AsUTF8AndSize(object o, Py_ssize_t *size) except NULL
    void *PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)


cdef inline int get_bytes(object obj, Py_buffer *view) except -1:
    """A contiguous byte view of any bytes-like object (release with PyBuffer_Release).

    bytes, by far the most common argument, is borrowed directly: view.obj stays NULL, which makes
    PyBuffer_Release a no-op. That saves a fifth of the call on a 20 ms frame."""
    if PyBytes_CheckExact(obj):
        memset(view, 0, sizeof(Py_buffer))  # obj = NULL
        view.buf = <void *>PyBytes_AS_STRING(obj)
        view.len = PyBytes_GET_SIZE(obj)
        return 0
    PyObject_GetBuffer(obj, view, PyBUF_SIMPLE)
    return 0


cdef inline int get_writable(object obj, Py_buffer *view) except -1:
    try:
        PyObject_GetBuffer(obj, view, PyBUF_SIMPLE | PyBUF_WRITABLE)
    except BufferError:
        raise TypeError(f"a writable bytes-like object is required, not {type(obj).__name__!r}") from None
    return 0
