/* rta_echo_stage: see rta_echo_stage.h. */
#include "rta_echo_stage.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "rta_audio.h"

#define RLX memory_order_relaxed
/* The uplink is held until the canceller converges, but for no more than this much reference played: a microphone
 * that does not hear the speaker (headphones) never converges, and must not stay half-duplex for good. Convergence
 * takes 0.8-1.5 s of reference (docs/echo.md). */
#define HOLD_MAX_MS 3000
/* ...or this much with no delay found: the microphone does not hear the speaker (the delay locks within ~0.7 s of
 * reference when it does), and a person talking right after a reply must not lose their first words to the tail. */
#define HOLD_UNLOCKED_MS 1000
/* ...and for this much reference played after it converged: `converged` (a 1 s mean ERLE of 10 dB) comes while the
 * filter still leaks a frame or two of echo now and then, and a server VAD starts a turn on one frame. */
#define HOLD_AFTER_MS 1000
/* ...and again, for this long, from a discontinuity in either stream (an xrun on a loaded machine): the block or
 * two before it is confirmed are read at the old alignment, and the engine's filter settles after (measured: 50 ms
 * of echo near -28 dBFS after a burst of capture overruns, enough for a server VAD). */
#define HOLD_AFTER_JUMP_MS 300
/* ...and at the start of each reply after a silence (ONSET_QUIET_MS without echo): the engines leak the first
 * 100-400 ms of echo after a silence now and then (measured: replies cut 0.15-0.5 s in on the loudspeaker bench). A
 * person who talks over the first ONSET_HOLD_MS of a reply is heard from then on. */
#define ONSET_QUIET_MS 1000
#define ONSET_HOLD_MS 400
/* The reference is read this long before the microphone's ADC time, so a stamp a little off never makes it later
 * than its echo (the canceller's filter is causal); the canceller's estimator finds the room's delay on top. */
#define MARGIN_MS 20
/* Stamps jitter and wander: PortAudio's on PulseAudio stray from the sample count by ±2 ms over tens of seconds
 * (the server's latency estimates; the samples themselves are continuous), and a preempted callback reads the clock
 * late. So a track trusts the count and follows the stamps slowly (TRACK_GAIN a block: a time constant of seconds),
 * and only a stamp JUMP_US away from it in two blocks running is a discontinuity. */
#define JUMP_US 4000
#define TRACK_GAIN 0.005
/* The read position steps a sample at a time towards the tracks once it is SLIP_US away (two drifting clocks: 100
 * ppm is a step every 0.2 s once the first millisecond has gone by; the wander above stays inside), and jumps at
 * once beyond REALIGN_US (a track re-anchored). Each step is a small change of the echo path to the canceller. */
#define SLIP_US 1000
#define REALIGN_US 2000
#define DRIFT_WINDOW_S 10

/* A stream's clock: a position on its sample count and the time it was (or will be) at the converter. */
typedef struct {
    int init, pending; /* pending: the last stamp was a jump not yet confirmed */
    int64_t pos;
    double ns;
} clock_track;

struct rta_echo_stage {
    rta_echo *echo;
    rta_ring *ref;
    int rate;
    size_t max_frames, block;
    int16_t *ref_block;      /* this period's reference, handed to the canceller */
    int16_t *hist;           /* the speaker's output on the DAC's timeline, hist_len frames, circular */
    size_t hist_len;
    int64_t written;         /* timeline position after the newest reference frame */
    int64_t captured;        /* capture frames seen */
    clock_track dac, adc;
    int aligned;
    int64_t offset;          /* the reference's timeline position read for capture frame k is k + offset */
    double drift_from;       /* the drift window: its start (captured) and the read target then */
    int64_t drift_start;
    int drift_clean;         /* no jump in the window */
    uint64_t converged_at;   /* the canceller's echo blocks when it converged, 0 while it has not */
    uint64_t unconverged_from; /* ...and when it lost it (a new delay) */
    int64_t hold_until;      /* capture frames: the uplink is held until then (a discontinuity, an onset) */
    uint64_t echo_blocks;    /* the canceller's echo blocks at the last period, and the period they last grew */
    int64_t echo_at;
    _Atomic uint64_t short_frames, trimmed_frames, bypassed, realigned, slips;
    _Atomic float drift_ppm;
};

static inline void count(_Atomic uint64_t *c, uint64_t n) {
    atomic_store_explicit(c, atomic_load_explicit(c, RLX) + n, RLX); /* one writer: the capture callback */
}

rta_echo_stage *rta_echo_stage_create(const rta_echo_config *config, rta_ring *ref, size_t max_frames,
                                      int history_ms, rta_echo_status *status) {
    *status = RTA_ECHO_EINVAL;
    if (ref == NULL || max_frames == 0 || history_ms <= 0)
        return NULL;
    *status = RTA_ECHO_ENOMEM;
    rta_echo_stage *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->ref = ref;
    s->rate = config->rate;
    s->max_frames = max_frames;
    s->hist_len = (size_t)config->rate * (size_t)history_ms / 1000 + max_frames;
    s->ref_block = calloc(max_frames, sizeof(int16_t));
    s->hist = calloc(s->hist_len, sizeof(int16_t));
    if (s->ref_block && s->hist)
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
    free(s->hist);
    free(s);
}

rta_echo *rta_echo_stage_echo(rta_echo_stage *s) { return s->echo; }

/* The block at `pos` on the stream's count is stamped `stamp`. Returns how far (ns) the stamp is from where the
 * track put it when that is a confirmed discontinuity (the track is re-anchored at the stamp), else 0 (the track
 * follows the stamp a little). */
static double track(rta_echo_stage *s, clock_track *k, int64_t pos, int64_t stamp) {
    if (!k->init) {
        k->init = 1;
        k->pos = pos;
        k->ns = (double)stamp;
        return 0.0;
    }
    double predicted = k->ns + (double)(pos - k->pos) * 1e9 / s->rate;
    double err = (double)stamp - predicted;
    k->pos = pos;
    if (fabs(err) > JUMP_US * 1e3) {
        if (k->pending) {
            k->pending = 0;
            k->ns = (double)stamp;
            return err;
        }
        k->pending = 1; /* one stamp out of line: a preempted callback, maybe; wait for the next */
        k->ns = predicted;
        return 0.0;
    }
    k->pending = 0;
    k->ns = predicted + TRACK_GAIN * err;
    return 0.0;
}

/* n frames from `src` (NULL: silence) into the history at timeline position `pos` on. */
static void hist_put(rta_echo_stage *s, int64_t pos, const int16_t *src, size_t n) {
    if (n > s->hist_len) { /* only the newest hist_len frames can be kept */
        if (src)
            src += n - s->hist_len;
        pos += (int64_t)(n - s->hist_len);
        n = s->hist_len;
    }
    for (size_t done = 0; done < n;) {
        size_t at = (size_t)(pos + (int64_t)done) % s->hist_len;
        size_t m = s->hist_len - at < n - done ? s->hist_len - at : n - done;
        if (src)
            memcpy(s->hist + at, src + done, m * sizeof(int16_t));
        else
            memset(s->hist + at, 0, m * sizeof(int16_t));
        done += m;
    }
}

static void hold_for(rta_echo_stage *s, int ms) {
    int64_t until = s->captured + (int64_t)s->rate * ms / 1000;
    if (until > s->hold_until)
        s->hold_until = until;
}

static void hold_a_while(rta_echo_stage *s) { hold_for(s, HOLD_AFTER_JUMP_MS); }

/* Drain the playout's stamped records into the history, each where its DAC time puts it. */
static void take_reference(rta_echo_stage *s) {
    rta_ref_header h;
    while (rta_ring_read_available(s->ref) >= sizeof h) {
        rta_ring_read(s->ref, &h, sizeof h); /* one record is one write: its frames are there too */
        double jump = track(s, &s->dac, s->written, h.dac_ns);
        if (jump != 0.0)
            count(&s->realigned, 1);
        if (jump != 0.0 || s->dac.pending)
            hold_a_while(s);
        if (jump > 0.0) { /* the device played silence meanwhile (an underrun): so does the timeline */
            int64_t gap = llround(jump * s->rate / 1e9);
            hist_put(s, s->written, NULL, (size_t)gap);
            s->written += gap;
            s->dac.pos = s->written;
        }
        /* Straight from the ring into the history, in at most two runs around the history's wrap. */
        size_t n = h.frames;
        for (size_t done = 0; done < n;) {
            size_t at = (size_t)(s->written % (int64_t)s->hist_len);
            size_t m = s->hist_len - at < n - done ? s->hist_len - at : n - done;
            rta_ring_read(s->ref, s->hist + at, m * sizeof(int16_t));
            s->written += (int64_t)m;
            done += m;
        }
    }
}

/* Where the reference for capture frame `captured` is on the timeline (fractional), from the two tracks. */
static double read_target(const rta_echo_stage *s) {
    double t = s->adc.ns - MARGIN_MS * 1e6;
    return (double)s->dac.pos + (t - s->dac.ns) * s->rate / 1e9;
}

static void follow(rta_echo_stage *s) {
    double target = read_target(s) - (double)s->captured;
    double diff = target - (double)s->offset;
    double slip = SLIP_US * 1e-6 * s->rate, realign = REALIGN_US * 1e-6 * s->rate;
    if (!s->aligned || fabs(diff) > realign) { /* the first period, or a track jumped (counted there) */
        s->offset = llround(target);
        s->aligned = 1;
        s->drift_clean = 0;
    } else if (diff > slip || diff < -slip) {
        s->offset += diff > 0 ? 1 : -1;
        count(&s->slips, 1);
    }
    /* The drift: how fast the target moves against the capture's count, over windows with no jump. */
    int64_t window = (int64_t)s->rate * DRIFT_WINDOW_S;
    if (!s->drift_clean) {
        s->drift_clean = 1;
        s->drift_start = s->captured;
        s->drift_from = target;
    } else if (s->captured - s->drift_start >= window) {
        float ppm = (float)((target - s->drift_from) / (double)(s->captured - s->drift_start) * 1e6);
        atomic_store_explicit(&s->drift_ppm, ppm, RLX);
        s->drift_start = s->captured;
        s->drift_from = target;
    }
}

/* This period's reference: the timeline from captured + offset on. */
static void read_reference(rta_echo_stage *s, size_t frames) {
    int64_t from = s->captured + s->offset;
    for (size_t i = 0; i < frames; i++) {
        int64_t pos = from + (int64_t)i;
        if (pos >= s->written) {
            s->ref_block[i] = 0;
            count(&s->short_frames, 1);
        } else if (pos < s->written - (int64_t)s->hist_len || pos < 0) {
            s->ref_block[i] = 0;
            if (pos >= 0)
                count(&s->trimmed_frames, 1);
        } else {
            s->ref_block[i] = s->hist[pos % (int64_t)s->hist_len];
        }
    }
}

int rta_echo_stage_process(void *ctx, int16_t *mono, size_t frames, int64_t adc_ns) {
    rta_echo_stage *s = ctx;
    if (frames > s->max_frames)
        frames = s->max_frames;
    take_reference(s);
    if (track(s, &s->adc, s->captured, adc_ns) != 0.0) {
        count(&s->realigned, 1);
        hold_a_while(s);
    } else if (s->adc.pending) {
        hold_a_while(s);
    }
    if (s->dac.init) {
        follow(s);
        read_reference(s, frames);
    } else { /* the speaker has not played yet */
        memset(s->ref_block, 0, frames * sizeof(int16_t));
    }
    s->captured += (int64_t)frames;
    if (frames % s->block != 0)
        count(&s->bypassed, 1);
    else
        rta_echo_process(s->echo, mono, s->ref_block, mono, frames);
    rta_echo_figures f;
    rta_echo_read_figures(s->echo, &f);
    if (f.converged && !s->converged_at) {
        s->converged_at = f.echo_blocks;
    } else if (!f.converged && s->converged_at) { /* a new delay (the room changed): held again until it converges */
        s->converged_at = 0;
        s->unconverged_from = f.echo_blocks;
    }
    if (f.echo_blocks > s->echo_blocks) { /* the reference plays: after a silence, a reply's onset */
        if (s->echo_blocks && s->captured - s->echo_at > (int64_t)s->rate * ONSET_QUIET_MS / 1000)
            hold_for(s, ONSET_HOLD_MS);
        s->echo_blocks = f.echo_blocks;
        s->echo_at = s->captured;
    }
    if (s->captured < s->hold_until)
        return 1;
    if (!s->converged_at) {
        uint64_t played_ms = (f.echo_blocks - s->unconverged_from) * 10;
        return played_ms < (f.delay_locked ? HOLD_MAX_MS : HOLD_UNLOCKED_MS);
    }
    return (f.echo_blocks - s->converged_at) * 10 < HOLD_AFTER_MS;
}

void rta_echo_stage_stats_get(rta_echo_stage *s, rta_echo_stage_stats *st) {
    st->short_frames = atomic_load_explicit(&s->short_frames, RLX);
    st->trimmed_frames = atomic_load_explicit(&s->trimmed_frames, RLX);
    st->bypassed = atomic_load_explicit(&s->bypassed, RLX);
    st->realigned = atomic_load_explicit(&s->realigned, RLX);
    st->slips = atomic_load_explicit(&s->slips, RLX);
    st->drift_ppm = atomic_load_explicit(&s->drift_ppm, RLX);
}
