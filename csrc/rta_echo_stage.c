/* rta_echo_stage: see rta_echo_stage.h. */
#include "rta_echo_stage.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define RLX memory_order_relaxed
/* The uplink is held until the canceller converges, but for no more than this much reference played: a microphone
 * that does not hear the speaker (headphones) never converges, and must not stay half-duplex for good. Convergence
 * takes 0.8-1.5 s of reference (docs/echo.md). */
#define HOLD_MAX_MS 3000

struct rta_echo_stage {
    rta_echo *echo;
    rta_ring *ref;
    int16_t *ref_block;
    size_t max_frames, block, max_fill, margin;
    int primed;    /* the ring has held a period plus the margin once: reading has begun */
    uint64_t owed; /* reference frames read as silence (the playout was late), skipped when they arrive */
    _Atomic uint64_t short_frames, trimmed_frames, bypassed;
};

static inline void count(_Atomic uint64_t *c, uint64_t n) {
    atomic_store_explicit(c, atomic_load_explicit(c, RLX) + n, RLX); /* one writer: the capture callback */
}

rta_echo_stage *rta_echo_stage_create(const rta_echo_config *config, rta_ring *ref, size_t max_frames,
                                      int max_fill_ms, rta_echo_status *status) {
    *status = RTA_ECHO_EINVAL;
    if (ref == NULL || max_frames == 0 || max_fill_ms <= 0)
        return NULL;
    *status = RTA_ECHO_ENOMEM;
    rta_echo_stage *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->ref = ref;
    s->max_frames = max_frames;
    s->max_fill = (size_t)config->rate * (size_t)max_fill_ms / 1000;
    /* The callbacks' phase and the sound server's bursts. Never later than the echo: the microphone's samples reach
     * the callback at least a period after they were recorded, so a period's margin keeps the reference causal. */
    s->margin = max_frames;
    s->ref_block = calloc(max_frames, sizeof(int16_t));
    if (s->ref_block)
        s->echo = rta_echo_create(config, status);
    if (!s->echo) {
        rta_echo_stage_destroy(s);
        return NULL;
    }
    s->block = rta_echo_block_frames(s->echo);
    *status = RTA_ECHO_OK;
    return s;
}

void rta_echo_stage_destroy(rta_echo_stage *s) {
    if (!s)
        return;
    rta_echo_destroy(s->echo);
    free(s->ref_block);
    free(s);
}

rta_echo *rta_echo_stage_echo(rta_echo_stage *s) { return s->echo; }

/* This period's reference, sample-aligned with the microphone's (see the contract). */
static void read_reference(rta_echo_stage *s, size_t frames) {
    size_t avail = rta_ring_read_available(s->ref) / 2;
    if (!s->primed && avail < frames + s->margin) { /* not yet a margin ahead: silence, nothing consumed */
        memset(s->ref_block, 0, frames * sizeof(int16_t));
        return;
    }
    s->primed = 1;
    if (s->owed) {
        size_t k = s->owed < avail ? (size_t)s->owed : avail;
        rta_ring_skip(s->ref, k * 2);
        s->owed -= k;
        avail -= k;
    }
    if (avail > s->max_fill + frames) { /* the capture was not reading: start over a margin behind */
        size_t k = avail - frames - s->margin;
        rta_ring_skip(s->ref, k * 2);
        count(&s->trimmed_frames, k);
        avail = frames + s->margin;
    }
    size_t got = avail < frames ? avail : frames;
    if (got)
        rta_ring_read(s->ref, s->ref_block, got * 2);
    if (got < frames) { /* the playout is late beyond the margin: silence now, skipped when it comes */
        memset(s->ref_block + got, 0, (frames - got) * sizeof(int16_t));
        count(&s->short_frames, frames - got);
        s->owed += frames - got;
        if (s->owed > s->max_fill) { /* no playout at all: start over */
            s->owed = 0;
            s->primed = 0;
        }
    }
}

int rta_echo_stage_process(void *ctx, int16_t *mono, size_t frames) {
    rta_echo_stage *s = ctx;
    if (frames > s->max_frames)
        frames = s->max_frames;
    read_reference(s, frames);
    if (frames % s->block != 0)
        count(&s->bypassed, 1);
    else
        rta_echo_process(s->echo, mono, s->ref_block, mono, frames);
    rta_echo_figures f;
    rta_echo_read_figures(s->echo, &f);
    return !f.converged && f.echo_blocks * 10 < HOLD_MAX_MS;
}

void rta_echo_stage_stats_get(rta_echo_stage *s, rta_echo_stage_stats *st) {
    st->short_frames = atomic_load_explicit(&s->short_frames, RLX);
    st->trimmed_frames = atomic_load_explicit(&s->trimmed_frames, RLX);
    st->bypassed = atomic_load_explicit(&s->bypassed, RLX);
}
