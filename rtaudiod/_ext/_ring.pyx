"""SPSC byte ring over csrc/rta_ring.c. The contract is at the top of csrc/rta_ring.h; the readable
reference with the same API is rtaudiod/_py/ring.py."""

import mmap

cimport cython
from cpython.buffer cimport PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from libc.stdint cimport int64_t

from rtaudiod._ext._buffers cimport NOGIL_MIN_BYTES, get_bytes, get_writable
from rtaudiod._ext.rta_ring cimport (
    RTA_RING_ENOMEM, rta_region, rta_ring_advance_read, rta_ring_advance_write, rta_ring_close, rta_ring_closed,
    rta_ring_create, rta_ring_destroy, rta_ring_note_underrun, rta_ring_overruns, rta_ring_read,
    rta_ring_read_available, rta_ring_read_regions, rta_ring_skip, rta_ring_status, rta_ring_underruns,
    rta_ring_wait_readable, rta_ring_wait_writable, rta_ring_write, rta_ring_write_available,
    rta_ring_write_regions,
)

# From this size on the storage is an anonymous mapping, whose pages the kernel maps as the ring is first written
# through (a bytearray is zero-filled at once: the 60 s playout ring was 4 MiB resident from the start).
MAPPED_MIN_BYTES = 65536

cdef extern from "Python.h":
    bytes PyBytes_FromStringAndSize(const char *v, Py_ssize_t len)
    char *PyBytes_AS_STRING(object o)


cdef int64_t _timeout_ns(object timeout) except? -2:
    """None waits forever (-1); negative timeouts do not wait at all; NaN is a ValueError (casting it to
    an integer is undefined behaviour)."""
    if timeout is None:
        return -1
    cdef double t = timeout
    if t != t:
        raise ValueError("timeout must be a number of seconds or None, not NaN")
    if t <= 0:
        return 0
    if t > 1e9:  # ~31 years: forever, without overflowing int64 nanoseconds
        return -1
    return <int64_t>(t * 1e9)


cdef size_t _round_up_pow2(size_t n):
    cdef size_t p = 1
    while p < n:
        p <<= 1
    return p


@cython.no_gc_clear  # the storage's buffer is held until __dealloc__: a GC clear must not drop the storage first
cdef class RingBuffer:
    """Single-producer/single-consumer byte ring.

    The producer thread calls write / get_write_regions / advance_write / wait_writable; the consumer
    thread calls read / readinto / skip / get_read_regions / advance_read / wait_readable.
    """

    def __cinit__(self, capacity):
        if not isinstance(capacity, int) or isinstance(capacity, bool):
            raise TypeError("capacity must be an int")
        if capacity < 1 or capacity > (1 << 40):
            raise ValueError(f"capacity must be between 1 and 2**40 bytes, got {capacity}")
        self._size = _round_up_pow2(<size_t>capacity)
        self._storage = mmap.mmap(-1, self._size, flags=mmap.MAP_PRIVATE) if self._size >= MAPPED_MIN_BYTES else bytearray(self._size)
        PyObject_GetBuffer(self._storage, &self._buf, PyBUF_WRITABLE)  # held for the ring's life
        self._base = <char *>self._buf.buf
        cdef rta_ring_status status
        self._ring = rta_ring_create(self._base, self._size, &status)
        if self._ring == NULL:
            if status == RTA_RING_ENOMEM:
                raise MemoryError()
            raise OSError(f"cannot create ring buffer (status {status})")

    def __dealloc__(self):
        if self._ring != NULL:
            rta_ring_destroy(self._ring)
            self._ring = NULL
        if self._base != NULL:
            PyBuffer_Release(&self._buf)
            self._base = NULL

    # -- state ---------------------------------------------------------------------------------------
    @property
    def capacity(self):
        return self._size

    @property
    def read_available(self):
        return rta_ring_read_available(self._ring)

    @property
    def write_available(self):
        return rta_ring_write_available(self._ring)

    @property
    def overruns(self):
        """Writes that could not store all their bytes (the rest was dropped)."""
        return rta_ring_overruns(self._ring)

    @property
    def underruns(self):
        """Reads that got fewer bytes than they asked for."""
        return rta_ring_underruns(self._ring)

    @property
    def closed(self):
        return bool(rta_ring_closed(self._ring))

    def close(self):
        """Wake every waiter now and make later waits return at once (for shutdown)."""
        with nogil:
            rta_ring_close(self._ring)

    # -- producer ------------------------------------------------------------------------------------
    def write(self, data, timeout=0.0):
        """Copy as much of `data` as fits; returns the bytes written. A short write counts an overrun.

        With a timeout (None: forever) first wait, GIL released, until all of `data` fits, like
        Queue.put; what still does not fit when it runs out (or the ring is closed) is dropped."""
        cdef Py_buffer view
        cdef size_t n
        cdef int64_t ns = _timeout_ns(timeout)
        get_bytes(data, &view)
        try:
            if ns != 0 and rta_ring_write_available(self._ring) < <size_t>view.len:
                if <size_t>view.len > self._size:
                    raise ValueError(f"cannot wait for room for {view.len} bytes in a ring of {self._size}")
                with nogil:
                    rta_ring_wait_writable(self._ring, <size_t>view.len, ns)
            if view.len >= NOGIL_MIN_BYTES:
                with nogil:
                    n = rta_ring_write(self._ring, view.buf, <size_t>view.len)
            else:
                n = rta_ring_write(self._ring, view.buf, <size_t>view.len)
        finally:
            PyBuffer_Release(&view)
        return n

    def release_pages(self):
        """Producer side, on an empty ring: its pages go back to the kernel (zeros when next written through), so a
        long session's playout ring stays as resident as its longest reply. False (nothing done) when bytes are
        unread or the ring is too small to be mapped."""
        if not isinstance(self._storage, mmap.mmap) or rta_ring_read_available(self._ring):
            return False
        self._storage.madvise(mmap.MADV_DONTNEED)  # nothing readable is in it, and only we write
        return True

    def get_write_regions(self, Py_ssize_t nbytes):
        """Up to `nbytes` of free space as two writable views (the second is empty unless it wraps)."""
        _check_count(nbytes)
        cdef rta_region reg[2]
        rta_ring_write_regions(self._ring, <size_t>nbytes, reg)
        return self._views(reg)

    def advance_write(self, Py_ssize_t nbytes):
        """Publish `nbytes` written through get_write_regions."""
        cdef size_t free_bytes = rta_ring_write_available(self._ring)
        if nbytes < 0 or <size_t>nbytes > free_bytes:
            raise ValueError(f"cannot advance the write index by {nbytes}: only {free_bytes} free")
        rta_ring_advance_write(self._ring, <size_t>nbytes)

    def wait_writable(self, Py_ssize_t nbytes, timeout=None):
        """Sleep until `nbytes` can be written, the timeout passes or the ring is closed. True if writable."""
        self._check_wait(nbytes)
        cdef int64_t ns = _timeout_ns(timeout)
        cdef int ok = rta_ring_write_available(self._ring) >= <size_t>nbytes
        if ok or ns == 0:  # answered without sleeping: keep the GIL (dropping it invites a 5 ms convoy)
            return bool(ok)
        with nogil:
            ok = rta_ring_wait_writable(self._ring, <size_t>nbytes, ns)
        return bool(ok)

    # -- consumer ------------------------------------------------------------------------------------
    def read(self, Py_ssize_t nbytes, timeout=0.0):
        """Take up to `nbytes`; fewer than asked counts an underrun. With a timeout (None: forever)
        first wait, GIL released, until `nbytes` are there, like Queue.get."""
        _check_count(nbytes)
        self._wait_for_data(nbytes, timeout)
        cdef size_t avail = rta_ring_read_available(self._ring)
        cdef size_t n = <size_t>nbytes if <size_t>nbytes < avail else avail
        cdef bytes out = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>n)
        cdef char *dst = PyBytes_AS_STRING(out)
        if n >= NOGIL_MIN_BYTES:
            with nogil:
                rta_ring_read(self._ring, dst, n)
        else:
            rta_ring_read(self._ring, dst, n)
        if n < <size_t>nbytes:
            rta_ring_note_underrun(self._ring)
        return out

    def readinto(self, buf, timeout=0.0):
        """Fill `buf` with up to len(buf) bytes; returns the count. Fewer than len(buf) counts an
        underrun. With a timeout (None: forever) first wait until len(buf) bytes are there."""
        cdef Py_buffer view
        cdef size_t n
        get_writable(buf, &view)
        try:
            self._wait_for_data(view.len, timeout)
            if view.len >= NOGIL_MIN_BYTES:
                with nogil:
                    n = rta_ring_read(self._ring, view.buf, <size_t>view.len)
            else:
                n = rta_ring_read(self._ring, view.buf, <size_t>view.len)
        finally:
            PyBuffer_Release(&view)
        return n

    def skip(self, Py_ssize_t nbytes):
        """Drop up to `nbytes` unread bytes (a flush); returns the count dropped. Never an underrun."""
        _check_count(nbytes)
        return rta_ring_skip(self._ring, <size_t>nbytes)

    def get_read_regions(self, Py_ssize_t nbytes):
        """Up to `nbytes` of unread data as two views (the second is empty unless it wraps)."""
        _check_count(nbytes)
        cdef rta_region reg[2]
        rta_ring_read_regions(self._ring, <size_t>nbytes, reg)
        return self._views(reg)

    def advance_read(self, Py_ssize_t nbytes):
        """Release `nbytes` read through get_read_regions."""
        cdef size_t avail = rta_ring_read_available(self._ring)
        if nbytes < 0 or <size_t>nbytes > avail:
            raise ValueError(f"cannot advance the read index by {nbytes}: only {avail} unread")
        rta_ring_advance_read(self._ring, <size_t>nbytes)

    def wait_readable(self, Py_ssize_t nbytes, timeout=None):
        """Sleep until `nbytes` are readable, the timeout passes or the ring is closed. True if readable."""
        self._check_wait(nbytes)
        cdef int64_t ns = _timeout_ns(timeout)
        cdef int ok = rta_ring_read_available(self._ring) >= <size_t>nbytes
        if ok or ns == 0:  # answered without sleeping: keep the GIL
            return bool(ok)
        with nogil:
            ok = rta_ring_wait_readable(self._ring, <size_t>nbytes, ns)
        return bool(ok)

    # -- helpers -------------------------------------------------------------------------------------
    cdef tuple _views(self, rta_region *reg):
        cdef Py_ssize_t a = <char *>reg[0].data - self._base
        view = memoryview(self._storage)
        return view[a:a + <Py_ssize_t>reg[0].len], view[0:<Py_ssize_t>reg[1].len]

    cdef int _wait_for_data(self, Py_ssize_t nbytes, object timeout) except -1:
        cdef int64_t ns = _timeout_ns(timeout)
        if ns == 0 or rta_ring_read_available(self._ring) >= <size_t>nbytes:
            return 0
        self._check_wait(nbytes)
        with nogil:
            rta_ring_wait_readable(self._ring, <size_t>nbytes, ns)
        return 0

    cdef int _check_wait(self, Py_ssize_t nbytes) except -1:
        if nbytes < 0 or <size_t>nbytes > self._size:
            raise ValueError(f"cannot wait for {nbytes} bytes in a ring of {self._size}")
        return 0

    def __repr__(self):
        return (
            f"<RingBuffer capacity={self._size} readable={self.read_available} "
            f"overruns={self.overruns} underruns={self.underruns}>"
        )


cdef int _check_count(Py_ssize_t nbytes) except -1:
    if nbytes < 0:
        raise ValueError(f"byte count must be >= 0, got {nbytes}")
    return 0
