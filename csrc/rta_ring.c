/* rta_ring: SPSC byte ring. The contract is at the top of rta_ring.h. */
#define _POSIX_C_SOURCE 200809L
#include "rta_ring.h"

#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RTA_CACHE_LINE 64

struct rta_ring {
    /* Set once at creation, read by both sides. */
    unsigned char *data;
    size_t size;
    size_t mask;
    atomic_int closed;
    pthread_mutex_t lock; /* guards only the sleep/wake hand-shake, never the data */
    pthread_cond_t readable;
    pthread_cond_t writable;

    /* Producer's line: its index, its cache of the consumer's index, its counter and wait flag. */
    alignas(RTA_CACHE_LINE) atomic_size_t write_idx;
    size_t cached_read;
    _Atomic uint64_t overruns;
    atomic_size_t writer_waiting; /* the bytes of room the sleeping producer waits for; 0: it is not asleep */

    /* Consumer's line. */
    alignas(RTA_CACHE_LINE) atomic_size_t read_idx;
    size_t cached_write;
    _Atomic uint64_t underruns;
    atomic_size_t reader_waiting; /* the bytes the sleeping consumer waits for; 0: it is not asleep */

    char pad[RTA_CACHE_LINE]; /* keep whatever the allocator puts next off the consumer's line */
};

rta_ring *rta_ring_create(void *storage, size_t capacity, rta_ring_status *status) {
    rta_ring_status st = RTA_RING_OK;
    rta_ring *r = NULL;
    pthread_condattr_t attr;

    if (capacity == 0 || (capacity & (capacity - 1)) != 0 || storage == NULL) {
        st = RTA_RING_EINVAL;
        goto out;
    }
    r = aligned_alloc(RTA_CACHE_LINE, sizeof(*r));
    if (r == NULL) {
        st = RTA_RING_ENOMEM;
        goto out;
    }
    memset(r, 0, sizeof(*r));
    r->data = storage;
    r->size = capacity;
    r->mask = capacity - 1;
    atomic_init(&r->closed, 0);
    atomic_init(&r->write_idx, 0);
    atomic_init(&r->read_idx, 0);
    atomic_init(&r->overruns, 0);
    atomic_init(&r->underruns, 0);
    atomic_init(&r->writer_waiting, 0);
    atomic_init(&r->reader_waiting, 0);

    /* Timeouts are measured on the monotonic clock so a wall-clock step cannot stretch a wait. */
    if (pthread_condattr_init(&attr) != 0) {
        st = RTA_RING_ESYS;
        goto fail_free;
    }
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (pthread_mutex_init(&r->lock, NULL) != 0) {
        pthread_condattr_destroy(&attr);
        st = RTA_RING_ESYS;
        goto fail_free;
    }
    if (pthread_cond_init(&r->readable, &attr) != 0) {
        pthread_condattr_destroy(&attr);
        pthread_mutex_destroy(&r->lock);
        st = RTA_RING_ESYS;
        goto fail_free;
    }
    if (pthread_cond_init(&r->writable, &attr) != 0) {
        pthread_condattr_destroy(&attr);
        pthread_cond_destroy(&r->readable);
        pthread_mutex_destroy(&r->lock);
        st = RTA_RING_ESYS;
        goto fail_free;
    }
    pthread_condattr_destroy(&attr);
    goto out;

fail_free:
    free(r);
    r = NULL;
out:
    if (status)
        *status = st;
    return r;
}

void rta_ring_destroy(rta_ring *r) {
    if (r == NULL)
        return;
    pthread_cond_destroy(&r->readable);
    pthread_cond_destroy(&r->writable);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

size_t rta_ring_capacity(const rta_ring *r) { return r->size; }

/* Fill level as seen from any thread. Loading read before write keeps the difference >= 0 (the write
 * index only grows, and was >= the read index when that was loaded); the clamp covers a third-party
 * caller between whose two loads both sides moved on, so that the write index is > size past the
 * stale read index. */
size_t rta_ring_read_available(rta_ring *r) {
    size_t rd = atomic_load_explicit(&r->read_idx, memory_order_acquire);
    size_t wr = atomic_load_explicit(&r->write_idx, memory_order_acquire);
    size_t n = wr - rd;
    return n > r->size ? r->size : n;
}

size_t rta_ring_write_available(rta_ring *r) { return r->size - rta_ring_read_available(r); }

uint64_t rta_ring_overruns(rta_ring *r) { return atomic_load_explicit(&r->overruns, memory_order_relaxed); }

uint64_t rta_ring_underruns(rta_ring *r) { return atomic_load_explicit(&r->underruns, memory_order_relaxed); }

static int readable_now(rta_ring *r, size_t n) { return rta_ring_read_available(r) >= n; }
static int writable_now(rta_ring *r, size_t n) { return rta_ring_write_available(r) >= n; }

/* Wake the other side if it is asleep and what it waits for is there (not on every write: a consumer waiting
 * for two 20 ms frames sleeps through the first). The seq_cst fence pairs with the one in wait_for(): either the
 * waiter sees our index store, or we see its flag and take the lock (the waiter holds it from setting its flag
 * until it is inside pthread_cond_wait), then signal after unlocking, so the woken thread does not find the
 * lock still held and sleep again. */
static void wake(rta_ring *r, atomic_size_t *waiting, pthread_cond_t *cond, int (*ready)(rta_ring *, size_t)) {
    atomic_thread_fence(memory_order_seq_cst);
    size_t need = atomic_load_explicit(waiting, memory_order_relaxed);
    if (need && ready(r, need)) {
        pthread_mutex_lock(&r->lock);
        pthread_mutex_unlock(&r->lock);
        pthread_cond_signal(cond);
    }
}

/* ---- producer ------------------------------------------------------------------------------------ */

/* Free bytes from the producer's point of view, refreshing its cache of the read index only when the
 * cached value says there is less than `want`. acquire: the consumer is done with those bytes. */
static size_t producer_free(rta_ring *r, size_t wr, size_t want) {
    size_t free_bytes = r->size - (wr - r->cached_read);
    if (free_bytes < want) {
        r->cached_read = atomic_load_explicit(&r->read_idx, memory_order_acquire);
        free_bytes = r->size - (wr - r->cached_read);
    }
    return free_bytes;
}

static size_t regions_at(rta_ring *r, size_t index, size_t n, rta_region regions[2]) {
    size_t pos = index & r->mask;
    size_t first = r->size - pos;
    if (first > n)
        first = n;
    regions[0].data = r->data + pos;
    regions[0].len = first;
    regions[1].data = r->data;
    regions[1].len = n - first;
    return n;
}

size_t rta_ring_write_regions(rta_ring *r, size_t n, rta_region regions[2]) {
    size_t wr = atomic_load_explicit(&r->write_idx, memory_order_relaxed); /* our own index */
    size_t free_bytes = producer_free(r, wr, n);
    return regions_at(r, wr, n < free_bytes ? n : free_bytes, regions);
}

void rta_ring_advance_write(rta_ring *r, size_t n) {
    size_t wr = atomic_load_explicit(&r->write_idx, memory_order_relaxed) + n;
    /* A caller may publish more than the last write_regions showed (it waited with wait_writable, which
     * reads the consumer's index itself). Room for wr means read_idx >= wr - size: take that as the
     * cached read index when ours is older, or `wr - cached_read` would exceed the size and the next
     * producer_free() would wrap around to a huge figure and write over unread bytes and past the
     * storage. */
    if (wr - r->cached_read > r->size)
        r->cached_read = wr - r->size;
    /* release: the bytes written into the regions are visible before the consumer can see the index. */
    atomic_store_explicit(&r->write_idx, wr, memory_order_release);
    if (n)
        wake(r, &r->reader_waiting, &r->readable, readable_now);
}

size_t rta_ring_write(rta_ring *r, const void *src, size_t n) {
    rta_region reg[2];
    size_t done = rta_ring_write_regions(r, n, reg);
    memcpy(reg[0].data, src, reg[0].len);
    memcpy(reg[1].data, (const unsigned char *)src + reg[0].len, reg[1].len);
    if (done < n)
        rta_ring_note_overrun(r);
    rta_ring_advance_write(r, done);
    return done;
}

void rta_ring_note_overrun(rta_ring *r) {
    /* only the producer stores this counter: a relaxed load + store is enough */
    atomic_store_explicit(&r->overruns, atomic_load_explicit(&r->overruns, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* ---- consumer ------------------------------------------------------------------------------------ */

static size_t consumer_avail(rta_ring *r, size_t rd, size_t want) {
    size_t avail = r->cached_write - rd;
    if (avail < want) {
        /* acquire: the producer's copy into these bytes happened before it published the index. */
        r->cached_write = atomic_load_explicit(&r->write_idx, memory_order_acquire);
        avail = r->cached_write - rd;
    }
    return avail;
}

size_t rta_ring_read_regions(rta_ring *r, size_t n, rta_region regions[2]) {
    size_t rd = atomic_load_explicit(&r->read_idx, memory_order_relaxed); /* our own index */
    size_t avail = consumer_avail(r, rd, n);
    return regions_at(r, rd, n < avail ? n : avail, regions);
}

void rta_ring_advance_read(rta_ring *r, size_t n) {
    size_t rd = atomic_load_explicit(&r->read_idx, memory_order_relaxed) + n;
    /* The same on this side: having read up to rd means write_idx >= rd. An older cached write index
     * would make `cached_write - rd` wrap around, and consumer_avail() would let us read past the
     * producer and past the storage. */
    if (r->cached_write - rd > r->size)
        r->cached_write = rd;
    /* release: our reads of the bytes are complete before the producer may overwrite them. */
    atomic_store_explicit(&r->read_idx, rd, memory_order_release);
    if (n)
        wake(r, &r->writer_waiting, &r->writable, writable_now);
}

void rta_ring_note_underrun(rta_ring *r) {
    /* only the consumer stores this counter: a relaxed load + store is enough */
    atomic_store_explicit(&r->underruns, atomic_load_explicit(&r->underruns, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

size_t rta_ring_read(rta_ring *r, void *dst, size_t n) {
    rta_region reg[2];
    size_t done = rta_ring_read_regions(r, n, reg);
    memcpy(dst, reg[0].data, reg[0].len);
    memcpy((unsigned char *)dst + reg[0].len, reg[1].data, reg[1].len);
    if (done < n)
        rta_ring_note_underrun(r);
    rta_ring_advance_read(r, done);
    return done;
}

size_t rta_ring_skip(rta_ring *r, size_t n) {
    rta_region reg[2];
    size_t done = rta_ring_read_regions(r, n, reg);
    rta_ring_advance_read(r, done);
    return done;
}

/* ---- waiting ------------------------------------------------------------------------------------- */

static void deadline_after(struct timespec *ts, int64_t ns) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ns / 1000000000);
    ts->tv_nsec += (long)(ns % 1000000000);
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec += 1;
        ts->tv_nsec -= 1000000000;
    }
}

static int wait_for(rta_ring *r, size_t n, int64_t timeout_ns, int (*ready)(rta_ring *, size_t),
                    atomic_size_t *waiting, pthread_cond_t *cond) {
    struct timespec deadline;
    int ok;

    if (ready(r, n))
        return 1;
    if (timeout_ns == 0 || atomic_load_explicit(&r->closed, memory_order_acquire))
        return 0;
    if (timeout_ns > 0)
        deadline_after(&deadline, timeout_ns);

    pthread_mutex_lock(&r->lock);
    atomic_store_explicit(waiting, n ? n : 1, memory_order_relaxed);
    /* Pairs with the fence in wake(): after it, we either see the other side's new index in ready()
     * or it sees our flag and signals under the lock we hold. */
    atomic_thread_fence(memory_order_seq_cst);
    while (!(ok = ready(r, n)) && !atomic_load_explicit(&r->closed, memory_order_acquire)) {
        int rc = timeout_ns < 0 ? pthread_cond_wait(cond, &r->lock)
                                : pthread_cond_timedwait(cond, &r->lock, &deadline);
        if (rc == ETIMEDOUT) {
            ok = ready(r, n);
            break;
        }
    }
    atomic_store_explicit(waiting, 0, memory_order_relaxed);
    pthread_mutex_unlock(&r->lock);
    return ok;
}

int rta_ring_wait_readable(rta_ring *r, size_t n, int64_t timeout_ns) {
    return wait_for(r, n, timeout_ns, readable_now, &r->reader_waiting, &r->readable);
}

int rta_ring_wait_writable(rta_ring *r, size_t n, int64_t timeout_ns) {
    return wait_for(r, n, timeout_ns, writable_now, &r->writer_waiting, &r->writable);
}

void rta_ring_close(rta_ring *r) {
    pthread_mutex_lock(&r->lock);
    atomic_store_explicit(&r->closed, 1, memory_order_release);
    pthread_cond_broadcast(&r->readable);
    pthread_cond_broadcast(&r->writable);
    pthread_mutex_unlock(&r->lock);
}

int rta_ring_closed(rta_ring *r) { return atomic_load_explicit(&r->closed, memory_order_acquire); }
