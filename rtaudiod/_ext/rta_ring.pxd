# Declarations of csrc/rta_ring.h (only what the wrappers use).
from libc.stdint cimport int64_t, uint64_t


cdef extern from "rta_ring.h" nogil:
    ctypedef struct rta_ring:
        pass

    ctypedef enum rta_ring_status:
        RTA_RING_OK
        RTA_RING_EINVAL
        RTA_RING_ENOMEM
        RTA_RING_ESYS

    ctypedef struct rta_region:
        unsigned char *data
        size_t len

    rta_ring *rta_ring_create(void *storage, size_t capacity, rta_ring_status *status)
    void rta_ring_destroy(rta_ring *ring)
    size_t rta_ring_capacity(const rta_ring *ring)
    size_t rta_ring_read_available(rta_ring *ring)
    size_t rta_ring_write_available(rta_ring *ring)
    uint64_t rta_ring_overruns(rta_ring *ring)
    uint64_t rta_ring_underruns(rta_ring *ring)
    size_t rta_ring_write(rta_ring *ring, const void *src, size_t n)
    size_t rta_ring_write_regions(rta_ring *ring, size_t n, rta_region *regions)
    void rta_ring_advance_write(rta_ring *ring, size_t n)
    size_t rta_ring_read(rta_ring *ring, void *dst, size_t n)
    void rta_ring_note_underrun(rta_ring *ring)
    size_t rta_ring_skip(rta_ring *ring, size_t n)
    size_t rta_ring_read_regions(rta_ring *ring, size_t n, rta_region *regions)
    void rta_ring_advance_read(rta_ring *ring, size_t n)
    int rta_ring_wait_readable(rta_ring *ring, size_t n, int64_t timeout_ns)
    int rta_ring_wait_writable(rta_ring *ring, size_t n, int64_t timeout_ns)
    void rta_ring_close(rta_ring *ring)
    int rta_ring_closed(rta_ring *ring)
