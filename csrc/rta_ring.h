/*
 * rta_ring: a lock-free single-producer/single-consumer byte ring buffer.
 *
 * CONTRACT
 *  - One producer thread calls the write side: rta_ring_write, rta_ring_write_regions,
 *    rta_ring_advance_write, rta_ring_note_overrun, rta_ring_wait_writable. One consumer thread calls
 *    the read side: rta_ring_read, rta_ring_skip, rta_ring_read_regions, rta_ring_advance_read,
 *    rta_ring_note_underrun, rta_ring_wait_readable.
 *    Any thread may read the fill level and the counters; the figure may be stale but is never torn.
 *    rta_ring_close may be called from any thread.
 *  - The capacity is a power of two. The indices are free-running size_t counters, masked into the
 *    storage only when bytes are touched, so empty (write == read) and full (write - read == size) are
 *    told apart without sacrificing a byte, and unsigned wrap-around of the counters is harmless.
 *  - Memory ordering: each side loads its OWN index relaxed (only it ever stores it), loads the OTHER
 *    side's index with acquire (so the bytes the other side published are visible before we touch them)
 *    and publishes its own index with release (so our data copy is visible before the index says so).
 *  - Each index sits on its own cache line with the state only its owner writes (a cached copy of the
 *    other side's index, its counter, its waiter flag), so producer and consumer never false-share.
 *    The cached copy (rigtorp/SPSCQueue's trick) is refreshed only when it says there is not enough
 *    room or data, which keeps the other side's line out of our cache in the steady state. It is
 *    always a bound we may trust (never more room or data than there is): an advance past what the
 *    last *_regions call showed, which is allowed up to the real fill level, moves it along.
 *  - Waiting: a side that wants more than is there sleeps on a condition variable with a timeout. The
 *    other side signals only when the waiter flag is set, so the fast path costs one relaxed load and
 *    takes no lock. The flag and the index form a Dekker pair (see rta_ring.c) so no wake-up is lost.
 *  - Storage is provided by the caller and outlives the ring. rta_ring_create never touches it.
 *
 * Counters: `overruns` counts writes that could not store all their bytes, `underruns` counts reads
 * that got fewer bytes than asked for. rta_ring_skip (a flush) never counts an underrun.
 */
#ifndef RTA_RING_H
#define RTA_RING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rta_ring rta_ring;

typedef enum {
    RTA_RING_OK = 0,
    RTA_RING_EINVAL = -1, /* capacity not a power of two, or zero */
    RTA_RING_ENOMEM = -2,
    RTA_RING_ESYS = -3,   /* pthread initialisation failed */
} rta_ring_status;

/* A contiguous piece of the storage: regions[0] then regions[1] (empty unless the span wraps). */
typedef struct {
    unsigned char *data;
    size_t len;
} rta_region;

rta_ring *rta_ring_create(void *storage, size_t capacity, rta_ring_status *status);
void rta_ring_destroy(rta_ring *ring);

size_t rta_ring_capacity(const rta_ring *ring);
size_t rta_ring_read_available(rta_ring *ring);
size_t rta_ring_write_available(rta_ring *ring);
uint64_t rta_ring_overruns(rta_ring *ring);
uint64_t rta_ring_underruns(rta_ring *ring);

/* Producer side. advance_write publishes n bytes written into the free space: n at most what is free
 * (not only what the last write_regions showed). */
size_t rta_ring_write(rta_ring *ring, const void *src, size_t n);
size_t rta_ring_write_regions(rta_ring *ring, size_t n, rta_region regions[2]);
void rta_ring_advance_write(rta_ring *ring, size_t n);
/* Count an overrun seen outside rta_ring_write (a caller that wrote through the regions only what fit). */
void rta_ring_note_overrun(rta_ring *ring);

/* Consumer side. advance_read releases n bytes: n at most what is readable. */
size_t rta_ring_read(rta_ring *ring, void *dst, size_t n);
size_t rta_ring_skip(rta_ring *ring, size_t n);
/* Count an underrun seen outside rta_ring_read (a caller that sized its read to what was there). */
void rta_ring_note_underrun(rta_ring *ring);
size_t rta_ring_read_regions(rta_ring *ring, size_t n, rta_region regions[2]);
void rta_ring_advance_read(rta_ring *ring, size_t n);

/*
 * Sleep until `n` bytes are readable (writable), `timeout_ns` passes (negative: forever) or the ring is
 * closed. Returns 1 when the condition holds on return, 0 otherwise. Call with n <= capacity.
 */
int rta_ring_wait_readable(rta_ring *ring, size_t n, int64_t timeout_ns);
int rta_ring_wait_writable(rta_ring *ring, size_t n, int64_t timeout_ns);

/* Wake both sides now and make every later wait return at once. Idempotent. */
void rta_ring_close(rta_ring *ring);
int rta_ring_closed(rta_ring *ring);

#ifdef __cplusplus
}
#endif
#endif /* RTA_RING_H */
