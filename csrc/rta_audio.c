/*
 * rta_audio: see rta_audio.h for the contract. Each step below mirrors a line of the Python twins
 * (rtaudiod/audio/capture.py, playout.py, dsp.py), down to the rounding: numpy's float32 arithmetic, truncating
 * casts, and banker's rounding where Python calls round(). Keep them in step.
 */
#define _POSIX_C_SOURCE 200809L
#include "rta_audio.h"

#include <math.h>
#include <soxr.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* An edge quieter than this (-40 dBFS) does not click when cut, so it is left alone (dsp.EDGE_QUIET). */
#define EDGE_QUIET 328
#define HELD_RUNS 512        /* filler/real runs inside the resampler and the FIFO (a handful in practice) */
#define FIFO_EXTRA 16384     /* device samples beyond one period: soxr emits in blocks (playout.py's _fifo) */
#define MARKS 64             /* items waiting for their first byte to be handed (ledger.py's max_items) */
#define RANGES 1024          /* thrown-away ranges not yet drained by Python (one or two per flush) */

int64_t rta_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#define RLX memory_order_relaxed

static inline void count(_Atomic uint64_t *c, uint64_t n) {
    /* One writer (the callback): a relaxed load and store, no locked instruction. */
    atomic_store_explicit(c, atomic_load_explicit(c, RLX) + n, RLX);
}

/* ---- resampler: soxr in float32, as dsp.Resampler drives python-soxr ------------------------------------------- */
typedef struct {
    soxr_t soxr; /* NULL: equal rates, identity */
    double ratio;
    float *fin, *fout;
    int16_t *out;
    size_t max_in, max_out;
} resampler;

static rta_audio_status rs_init(resampler *r, int in_rate, int out_rate, int quality, size_t max_in) {
    memset(r, 0, sizeof *r);
    r->ratio = (double)out_rate / in_rate;
    r->max_in = max_in;
    if (in_rate == out_rate)
        return RTA_AUDIO_OK;
    soxr_error_t err = NULL;
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    soxr_quality_spec_t q = soxr_quality_spec((unsigned long)quality, 0);
    r->soxr = soxr_create(in_rate, out_rate, 1, &err, &io, &q, NULL);
    if (err != NULL || r->soxr == NULL)
        return RTA_AUDIO_ESOXR;
    /* soxr's delay (its filter) plus one chunk: ~70 ms at HQ for 8 kHz, so a generous margin. */
    r->max_out = (size_t)(max_in * r->ratio) + 16384;
    r->fin = malloc(max_in * sizeof(float));
    r->fout = malloc(r->max_out * sizeof(float));
    r->out = malloc(r->max_out * sizeof(int16_t));
    return r->fin && r->fout && r->out ? RTA_AUDIO_OK : RTA_AUDIO_ENOMEM;
}

static void rs_free(resampler *r) {
    if (r->soxr)
        soxr_delete(r->soxr);
    free(r->fin);
    free(r->fout);
    free(r->out);
    memset(r, 0, sizeof *r);
}

/* Resample n samples (n <= max_in); *y points at the result until the next call. last: flush soxr's tail too. */
static size_t rs_process(resampler *r, const int16_t *x, size_t n, int last, const int16_t **y) {
    if (r->soxr == NULL) {
        *y = x;
        return n;
    }
    for (size_t i = 0; i < n; i++)
        r->fin[i] = (float)(x[i] * (1.0 / 32768)); /* exact: a power-of-two scale */
    /* python-soxr's output size: the delay plus this chunk, so soxr emits as early as it can. */
    size_t olen = (size_t)(soxr_delay(r->soxr) + n * r->ratio + 1);
    if (olen > r->max_out)
        olen = r->max_out;
    size_t done = 0, odone = 0;
    if (n) {
        soxr_process(r->soxr, r->fin, n, NULL, r->fout, olen, &odone);
        done = odone;
    }
    if (last) {
        odone = 0;
        soxr_process(r->soxr, NULL, 0, NULL, r->fout + done, olen - done, &odone);
        done += odone;
    }
    for (size_t i = 0; i < done; i++) {
        float v = rintf(r->fout[i] * 32768.0f);
        r->out[i] = (int16_t)(v > 32767.0f ? 32767.0f : v < -32768.0f ? -32768.0f : v);
    }
    *y = r->out;
    return done;
}

static void rs_clear(resampler *r) {
    if (r->soxr)
        soxr_clear(r->soxr);
}

/* ---- level meter (dsp.LevelMeter): float32, as numpy computes it ------------------------------------------------- */
static void meter(const int16_t *x, size_t n, size_t stride, _Atomic float *rms, _Atomic float *peak) {
    if (n == 0)
        return;
    double sum = 0;
    float pk = 0;
    for (size_t i = 0; i < n; i++) {
        float f = (float)x[i * stride];
        sum += (double)f * f;
        f = fabsf(f);
        if (f > pk)
            pk = f;
    }
    atomic_store_explicit(rms, (float)sqrt(sum / n), RLX);
    atomic_store_explicit(peak, pk, RLX);
}

/* ---- fades (dsp.Fader) ------------------------------------------------------------------------------------------ */
typedef struct {
    size_t length;
    float *down, *up; /* numpy: linspace(1, 0, length + 2, float32)[1:-1] and its reverse */
} fader;

static int fader_init(fader *f, size_t length) {
    f->length = length < 1 ? 1 : length;
    f->down = malloc(f->length * sizeof(float));
    f->up = malloc(f->length * sizeof(float));
    if (!f->down || !f->up)
        return -1;
    double step = -1.0 / (double)(f->length + 1);
    for (size_t i = 0; i < f->length; i++)
        f->down[i] = (float)((double)(i + 1) * step + 1.0);
    for (size_t i = 0; i < f->length; i++)
        f->up[i] = f->down[f->length - 1 - i];
    return 0;
}

static void fader_free(fader *f) {
    free(f->down);
    free(f->up);
}

static void fade_in(const fader *f, int16_t *x, size_t n) {
    if (n && abs(x[0]) > EDGE_QUIET) {
        size_t m = n < f->length ? n : f->length;
        for (size_t i = 0; i < m; i++)
            x[i] = (int16_t)((float)x[i] * f->up[i]); /* numpy's unsafe cast truncates toward zero */
    }
}

static void fade_decay(const fader *f, int16_t *x, size_t n, int last) {
    if (abs(last) > EDGE_QUIET) {
        size_t m = n < f->length ? n : f->length;
        for (size_t i = 0; i < m; i++)
            x[i] = (int16_t)(f->down[i] * (float)last);
    }
}

/* ---- the ledger's consumer side ------------------------------------------------------------------------------- */
struct rta_ledger {
    /* Callback only (and rta_ledger_skip_idle with no callback running). */
    uint64_t read_pos_own, pending, unplayed_total;
    rta_ring *marks, *ranges, *stamps; /* writer -> callback; callback -> Python; callback -> Python */
    unsigned char marks_buf[MARKS * sizeof(uint64_t)];
    unsigned char ranges_buf[RANGES * sizeof(rta_range)];
    unsigned char stamps_buf[MARKS * sizeof(rta_stamp)];
    /* Published. */
    _Atomic uint64_t read_pos, handed, played_total, lost_ranges;
    _Atomic int64_t end_mark;
    /* heard: played_total and when the newest handed buffer ends at the DAC, under a sequence count. */
    _Atomic uint64_t heard_seq, heard_played;
    _Atomic int64_t heard_dac_end_ns, heard_bytes_per_s;
};

rta_ledger *rta_ledger_create(void) {
    rta_ledger *led = calloc(1, sizeof *led);
    if (!led)
        return NULL;
    rta_ring_status st;
    led->marks = rta_ring_create(led->marks_buf, sizeof led->marks_buf, &st);
    led->ranges = rta_ring_create(led->ranges_buf, sizeof led->ranges_buf, &st);
    led->stamps = rta_ring_create(led->stamps_buf, sizeof led->stamps_buf, &st);
    if (!led->marks || !led->ranges || !led->stamps) {
        rta_ledger_destroy(led);
        return NULL;
    }
    atomic_store(&led->end_mark, -1);
    return led;
}

void rta_ledger_destroy(rta_ledger *led) {
    if (!led)
        return;
    if (led->marks)
        rta_ring_destroy(led->marks);
    if (led->ranges)
        rta_ring_destroy(led->ranges);
    if (led->stamps)
        rta_ring_destroy(led->stamps);
    free(led);
}

void rta_ledger_mark(rta_ledger *led, uint64_t start) {
    if (rta_ring_write_available(led->marks) >= sizeof start)
        rta_ring_write(led->marks, &start, sizeof start);
}

void rta_ledger_set_end_mark(rta_ledger *led, int64_t end_mark) {
    atomic_store_explicit(&led->end_mark, end_mark, memory_order_release);
}

uint64_t rta_ledger_handed(rta_ledger *led) { return atomic_load_explicit(&led->handed, memory_order_acquire); }
uint64_t rta_ledger_played_total(rta_ledger *led) { return atomic_load_explicit(&led->played_total, RLX); }
uint64_t rta_ledger_read_pos(rta_ledger *led) { return atomic_load_explicit(&led->read_pos, memory_order_acquire); }

uint64_t rta_ledger_heard_total(rta_ledger *led, int64_t now_ns) {
    uint64_t seq, played;
    int64_t dac_end, bps;
    do {
        seq = atomic_load_explicit(&led->heard_seq, memory_order_acquire);
        played = atomic_load_explicit(&led->heard_played, RLX);
        dac_end = atomic_load_explicit(&led->heard_dac_end_ns, RLX);
        bps = atomic_load_explicit(&led->heard_bytes_per_s, RLX);
        atomic_thread_fence(memory_order_acquire);
    } while ((seq & 1) || seq != atomic_load_explicit(&led->heard_seq, RLX));
    /* What is still on its way to the DAC, counted back from the newest real sample's DAC time at the session rate:
     * exact while audio flows, and once the device's delay has passed. */
    int64_t ahead = dac_end - now_ns;
    if (ahead <= 0)
        return played;
    uint64_t unheard = (uint64_t)((double)ahead * bps / 1e9) & ~(uint64_t)1;
    return unheard >= played ? 0 : played - unheard;
}

size_t rta_ledger_drain_ranges(rta_ledger *led, rta_range *out, size_t max) {
    return rta_ring_read(led->ranges, out, max * sizeof *out) / sizeof *out;
}

size_t rta_ledger_drain_stamps(rta_ledger *led, rta_stamp *out, size_t max) {
    return rta_ring_read(led->stamps, out, max * sizeof *out) / sizeof *out;
}

static void led_range(rta_ledger *led, uint64_t begin, uint64_t end) {
    rta_range r = {begin, end};
    if (rta_ring_write_available(led->ranges) >= sizeof r)
        rta_ring_write(led->ranges, &r, sizeof r);
    else
        count(&led->lost_ranges, 1); /* nobody drained for a thousand flushes: played figures overcount */
}

static void led_consumed(rta_ledger *led, uint64_t n) { led->read_pos_own += n; }

static void led_skipped(rta_ledger *led, uint64_t n) {
    if (n) {
        led_range(led, led->read_pos_own, led->read_pos_own + n);
        led->read_pos_own += n;
        led->unplayed_total += n;
    }
}

static void led_dropped(rta_ledger *led, uint64_t n) {
    if (n) {
        led_range(led, led->read_pos_own - n, led->read_pos_own);
        led->unplayed_total += n;
    }
}

/* ledger.settle: publish handed, and stamp the items whose first byte it passed (heard_ns: when it sounds). */
static void led_settle(rta_ledger *led, int64_t heard_ns) {
    uint64_t handed = led->read_pos_own - led->pending;
    uint64_t played = handed > led->unplayed_total ? handed - led->unplayed_total : 0;
    atomic_store_explicit(&led->read_pos, led->read_pos_own, memory_order_release);
    atomic_store_explicit(&led->played_total, played, RLX);
    atomic_store_explicit(&led->handed, handed, memory_order_release); /* after the ranges it covers */
    rta_region reg[2];
    uint64_t start;
    while (rta_ring_read_regions(led->marks, sizeof start, reg) == sizeof start) {
        memcpy(&start, reg[0].data, reg[0].len);
        if (reg[1].len)
            memcpy((unsigned char *)&start + reg[0].len, reg[1].data, reg[1].len);
        if (start >= handed)
            break;
        rta_ring_advance_read(led->marks, sizeof start);
        rta_stamp s = {start, heard_ns};
        if (rta_ring_write_available(led->stamps) >= sizeof s)
            rta_ring_write(led->stamps, &s, sizeof s);
    }
}

void rta_ledger_skip_idle(rta_ledger *led, uint64_t n) {
    led_skipped(led, n);
    led->pending = 0;
    led_settle(led, rta_now_ns());
}

/* ---- capture ----------------------------------------------------------------------------------------------------- */
struct rta_capture {
    rta_capture_config cfg;
    rta_ring *ring;
    rta_duplex *duplex;
    resampler rs;
    int16_t *mono, *gained, *silence;
    rta_capture_stage_fn stage;
    void *stage_ctx;
    _Atomic(rta_ring *) tap;
    _Atomic int tap_busy, muted;
    _Atomic float gain;
    _Atomic uint64_t frames_in, bytes_written, dropped_bytes, gated_frames;
    _Atomic int gated;
    _Atomic float rms, peak;
};

/* A zeroed processor of `size` bytes, or NULL with *status saying why (a bad rate or count, no memory). */
static void *processor_alloc(size_t size, int device_rate, int session_rate, int channels, int frames,
                             rta_audio_status *status) {
    *status = RTA_AUDIO_EINVAL;
    if (device_rate <= 0 || session_rate <= 0 || channels < 1 || frames < 1)
        return NULL;
    void *p = calloc(1, size);
    *status = p ? RTA_AUDIO_OK : RTA_AUDIO_ENOMEM;
    return p;
}

rta_capture *rta_capture_create(const rta_capture_config *cfg, rta_ring *ring, rta_duplex *duplex,
                                rta_audio_status *status) {
    rta_capture *cap = processor_alloc(sizeof *cap, cfg->device_rate, cfg->session_rate, cfg->channels, cfg->frames,
                                       status);
    if (!cap)
        return NULL;
    cap->cfg = *cfg;
    cap->ring = ring;
    cap->duplex = duplex;
    size_t frames = (size_t)cfg->frames;
    *status = rs_init(&cap->rs, cfg->device_rate, cfg->session_rate, cfg->quality, frames);
    size_t out_max = cap->rs.soxr ? cap->rs.max_out : frames;
    cap->mono = malloc(frames * sizeof(int16_t));
    cap->gained = malloc(out_max * sizeof(int16_t));
    cap->silence = calloc(out_max, sizeof(int16_t));
    if (*status == RTA_AUDIO_OK && !(cap->mono && cap->gained && cap->silence))
        *status = RTA_AUDIO_ENOMEM;
    if (*status != RTA_AUDIO_OK) {
        rta_capture_destroy(cap);
        return NULL;
    }
    atomic_store(&cap->gain, 1.0f);
    return cap;
}

void rta_capture_destroy(rta_capture *cap) {
    if (!cap)
        return;
    rs_free(&cap->rs);
    free(cap->mono);
    free(cap->gained);
    free(cap->silence);
    free(cap);
}

void rta_capture_set_muted(rta_capture *cap, int muted) { atomic_store_explicit(&cap->muted, !!muted, RLX); }
void rta_capture_set_gain(rta_capture *cap, float gain) { atomic_store_explicit(&cap->gain, gain, RLX); }

void rta_capture_set_tap(rta_capture *cap, rta_ring *tap) {
    /* Dekker with the callback (both sequentially consistent): either it sees the new tap, or we see it busy and
     * wait for that run to end. Bounded: a callback runs for microseconds. */
    atomic_store(&cap->tap, tap);
    struct timespec ms = {0, 1000000};
    for (int i = 0; i < 1000 && atomic_load(&cap->tap_busy); i++)
        nanosleep(&ms, NULL);
}

void rta_capture_set_stage(rta_capture *cap, rta_capture_stage_fn fn, void *ctx) {
    cap->stage = fn;
    cap->stage_ctx = ctx;
}

/* Down-mix to the channel mean, rounded toward minus infinity (numpy's floor_divide), into cap->mono (a stage
 * works in place there); without a stage, mono input is used as it is. */
static int16_t *downmix(rta_capture *cap, const int16_t *in, size_t n) {
    int ch = cap->cfg.channels;
    if (ch == 1) {
        if (cap->stage == NULL)
            return (int16_t *)in; /* read only below */
        memcpy(cap->mono, in, n * sizeof(int16_t));
        return cap->mono;
    }
    for (size_t i = 0; i < n; i++) {
        int32_t acc = 0;
        for (int c = 0; c < ch; c++)
            acc += in[i * ch + c];
        int32_t q = acc / ch;
        if ((acc % ch) != 0 && acc < 0)
            q--;
        cap->mono[i] = (int16_t)q;
    }
    return cap->mono;
}

void rta_capture_process(rta_capture *cap, const int16_t *in, size_t frames, int64_t now_ns, int64_t adc_ns) {
    if (frames > (size_t)cap->cfg.frames)
        frames = (size_t)cap->cfg.frames;
    count(&cap->frames_in, 1);
    int muted = atomic_load_explicit(&cap->muted, RLX);
    int16_t *mono = downmix(cap, in, frames);
    /* The canceller (the tap hears its output), told when the period was sampled. */
    int hold = cap->stage ? cap->stage(cap->stage_ctx, mono, frames, adc_ns) : 0;
    atomic_store(&cap->tap_busy, 1);
    rta_ring *tap = atomic_load(&cap->tap);
    if (tap != NULL && !muted)
        rta_ring_write(tap, mono, frames * 2); /* full: the detector is behind; the rest is dropped (counted) */
    atomic_store_explicit(&cap->tap_busy, 0, memory_order_release);
    const int16_t *x;
    size_t n = rs_process(&cap->rs, mono, frames, 0, &x);
    /* Gain and levels, in float32 like dsp.LevelMeter. */
    float gain = atomic_load_explicit(&cap->gain, RLX);
    if (gain != 1.0f && n) {
        for (size_t i = 0; i < n; i++) {
            float f = (float)x[i] * gain;
            f = f > 32767.0f ? 32767.0f : f < -32768.0f ? -32768.0f : f;
            cap->gained[i] = (int16_t)rintf(f);
        }
        x = cap->gained;
    }
    meter(x, n, 1, &cap->rms, &cap->peak);
    int gated = 0;
    rta_duplex *d = cap->duplex;
    if (d && (hold || atomic_load_explicit(&d->enabled, RLX))) /* half-duplex, or a canceller not converged yet */
        gated = now_ns < atomic_load_explicit(&d->audible_until_ns, RLX) + atomic_load_explicit(&d->tail_ns, RLX);
    atomic_store_explicit(&cap->gated, gated, RLX);
    if (gated)
        count(&cap->gated_frames, 1);
    if (muted || gated)
        x = cap->silence;
    if (n) {
        size_t written = rta_ring_write(cap->ring, x, n * 2);
        count(&cap->bytes_written, written);
        count(&cap->dropped_bytes, n * 2 - written);
    }
}

void rta_capture_stats_get(rta_capture *cap, rta_capture_stats *st) {
    st->frames_in = atomic_load_explicit(&cap->frames_in, RLX);
    st->bytes_written = atomic_load_explicit(&cap->bytes_written, RLX);
    st->dropped_bytes = atomic_load_explicit(&cap->dropped_bytes, RLX);
    st->gated_frames = atomic_load_explicit(&cap->gated_frames, RLX);
    st->gated = atomic_load_explicit(&cap->gated, RLX);
    st->rms = atomic_load_explicit(&cap->rms, RLX);
    st->peak = atomic_load_explicit(&cap->peak, RLX);
    st->gain = atomic_load_explicit(&cap->gain, RLX);
}

/* ---- playout ----------------------------------------------------------------------------------------------------- */
typedef struct {
    int real;
    double n;
} held_run;

struct rta_playout {
    rta_playout_config cfg;
    rta_ring *ring;
    rta_ledger *led;
    rta_duplex *duplex;
    rta_ring *ref;   /* the echo canceller's reference (or NULL) */
    unsigned char *ref_block; /* one record: rta_ref_header, then the mono frames */
    resampler rs;
    fader fade;
    size_t fade_dev, chunk, quiet_min;
    int16_t *sess, *fifo;
    size_t sess_cap, fifo_cap, fifo_len;
    double ratio; /* session / device */
    int64_t period_ns;
    /* Callback state. */
    int playing, from_silence, got_audio, last;
    int dry;                /* ran dry mid-item and no audio since: dry_ns is being measured */
    int64_t waited_ns, stable_ns, dry_ns;
    size_t seen, newest; /* the ring's level when the waiting playout last looked; the last rise of it seen */
    size_t quiet;
    uint64_t flush_served;
    held_run held[HELD_RUNS];
    size_t held_head, held_len;
    uint64_t target_bytes;
    /* Flush requests (any thread -> callback). */
    _Atomic uint64_t flush_gen, flush_target;
    /* Published. */
    _Atomic uint64_t underruns, drained, flushes, callbacks, raises, ref_dropped;
    _Atomic int playing_pub, target_ms;
    _Atomic float rms, peak;
    _Atomic int64_t audible_until_ns;
};

/* _Held (playout.py): what the resampler and the FIFO hold, oldest first, as runs of real audio or filler. */
static held_run *held_at(rta_playout *p, size_t i) { return &p->held[(p->held_head + i) % HELD_RUNS]; }

static double held_real(rta_playout *p) {
    double r = 0;
    for (size_t i = 0; i < p->held_len; i++)
        if (held_at(p, i)->real)
            r += held_at(p, i)->n;
    return r;
}

static void held_push(rta_playout *p, int real, double n) {
    if (n <= 0)
        return;
    if (p->held_len && held_at(p, p->held_len - 1)->real == real) {
        held_at(p, p->held_len - 1)->n += n;
    } else if (p->held_len < HELD_RUNS) {
        *held_at(p, p->held_len++) = (held_run){real, n};
    } else {
        held_at(p, p->held_len - 1)->n += n; /* never seen: 512 alternations inside ~0.3 s of pipeline */
    }
}

static double held_hand(rta_playout *p, double n) {
    double real = 0;
    while (n > 0 && p->held_len) {
        held_run *run = held_at(p, 0);
        double m = n < run->n ? n : run->n;
        run->n -= m;
        n -= m;
        if (run->real)
            real += m;
        if (run->n <= 0) {
            p->held_head = (p->held_head + 1) % HELD_RUNS;
            p->held_len--;
        }
    }
    return real;
}

static double held_keep(rta_playout *p, double n) {
    double before = held_real(p);
    size_t kept = 0;
    while (n > 0 && kept < p->held_len) {
        held_run *run = held_at(p, kept);
        double m = run->n;
        if (m > n)
            run->n = n;
        n -= m;
        kept++;
    }
    p->held_len = kept;
    return before - held_real(p);
}

static uint64_t ms_bytes(const rta_playout *p, int ms) { return (uint64_t)ms * p->cfg.session_rate / 1000 * 2; }

rta_playout *rta_playout_create(const rta_playout_config *cfg, rta_ring *ring, rta_ledger *led, rta_duplex *duplex,
                                rta_audio_status *status) {
    rta_playout *p = processor_alloc(sizeof *p, cfg->device_rate, cfg->session_rate, cfg->channels, cfg->frames,
                                     status);
    if (!p)
        return NULL;
    p->cfg = *cfg;
    if (p->cfg.max_prebuffer_ms < p->cfg.prebuffer_ms)
        p->cfg.max_prebuffer_ms = p->cfg.prebuffer_ms;
    p->ring = ring;
    p->led = led;
    p->duplex = duplex;
    size_t frames = (size_t)cfg->frames;
    int sr = cfg->session_rate, dr = cfg->device_rate;
    p->chunk = (frames * sr + dr - 1) / dr;
    p->ratio = (double)sr / dr;
    p->period_ns = (int64_t)frames * 1000000000 / dr;
    p->quiet_min = (size_t)sr / 5;
    p->fade_dev = (size_t)fmax(1.0, nearbyint(cfg->fade_ms * dr / 1000.0));
    *status = RTA_AUDIO_ENOMEM;
    if (fader_init(&p->fade, (size_t)nearbyint(cfg->fade_ms * sr / 1000.0)) != 0)
        goto fail;
    p->sess_cap = p->chunk + p->fade.length;
    p->sess = malloc(p->sess_cap * sizeof(int16_t));
    p->fifo_cap = frames + FIFO_EXTRA;
    p->fifo = malloc(p->fifo_cap * sizeof(int16_t));
    p->ref_block = malloc(sizeof(rta_ref_header) + frames * sizeof(int16_t));
    if (!p->sess || !p->fifo || !p->ref_block)
        goto fail;
    *status = rs_init(&p->rs, sr, dr, cfg->quality, p->sess_cap);
    if (*status != RTA_AUDIO_OK)
        goto fail;
    p->from_silence = 1;
    p->target_bytes = ms_bytes(p, cfg->prebuffer_ms);
    atomic_store(&p->target_ms, cfg->prebuffer_ms);
    return p;
fail:
    rta_playout_destroy(p);
    return NULL;
}

void rta_playout_destroy(rta_playout *p) {
    if (!p)
        return;
    rs_free(&p->rs);
    fader_free(&p->fade);
    free(p->sess);
    free(p->fifo);
    free(p->ref_block);
    free(p);
}

void rta_playout_flush(rta_playout *p, uint64_t written) {
    atomic_store_explicit(&p->flush_target, written, RLX);
    atomic_fetch_add_explicit(&p->flush_gen, 1, memory_order_release); /* the target is visible with the gen */
}

int rta_playout_flush_pending(rta_playout *p) {
    return atomic_load_explicit(&p->flush_gen, memory_order_acquire) != p->flush_served;
}

void rta_playout_unhand(rta_playout *p, int64_t ns) {
    rta_ledger *led = p->led;
    uint64_t handed = led->read_pos_own - led->pending;
    uint64_t bytes = ns > 0 ? (uint64_t)(ns * p->cfg.session_rate / 1000000000) * 2 : 0;
    /* The server's queue counts the silence filled while idle too, and a second flush finds the audio the first
     * one counted still queued: only real audio handed and not heard yet can be unheard. */
    uint64_t played = handed > led->unplayed_total ? handed - led->unplayed_total : 0;
    uint64_t heard = rta_ledger_heard_total(led, rta_now_ns());
    uint64_t cap = played > heard ? played - heard : 0;
    if (bytes > cap)
        bytes = cap;
    if (bytes) { /* below handed already published: a reader that looked meanwhile counted them, as heard soon */
        led_range(led, handed - bytes, handed);
        led->unplayed_total += bytes;
    }
}

static void push_fifo(rta_playout *p, const int16_t *y, size_t n) {
    size_t room = p->fifo_cap - p->fifo_len;
    size_t m = n < room ? n : room;
    memmove(p->fifo + p->fifo_len, y, m * sizeof(int16_t));
    p->fifo_len += m;
}

static void set_target(rta_playout *p, int ms) {
    p->target_bytes = ms_bytes(p, ms);
    atomic_store_explicit(&p->target_ms, ms, RLX);
}

/* An underrun's gap (how long the ring stayed dry) is over: the start target rises by it and raise_ms more, up to
 * max_prebuffer_ms, so the same stall is covered next time. A gap longer than max_prebuffer_ms is an outage no
 * bounded buffer covers, not jitter: it raises by raise_ms only. */
static void raise_by_gap(rta_playout *p) {
    int64_t gap = (p->dry_ns + 999999) / 1000000; /* a silence of weeks after an underrun must not wrap an int */
    int gap_ms = gap > p->cfg.max_prebuffer_ms ? p->cfg.max_prebuffer_ms + 1 : (int)gap;
    int ms = atomic_load_explicit(&p->target_ms, RLX);
    int raised = ms + (gap_ms > p->cfg.max_prebuffer_ms ? 0 : gap_ms) + p->cfg.raise_ms;
    if (raised > p->cfg.max_prebuffer_ms)
        raised = p->cfg.max_prebuffer_ms;
    if (raised != ms) {
        set_target(p, raised);
        count(&p->raises, 1);
    }
    p->dry = 0;
}

/* Jitter-adaptive start: the ring holds the target beyond its newest arrival, or audio has waited that long (a
 * short reply still plays). Beyond the newest arrival: the next one is due a delta after it, so what plays until
 * then must be the target's lead (100 ms deltas and a 100 ms target would start with no lead at all). An arrival
 * larger than the target counts as the target (the sender is ahead: a whole reply at once starts at once). */
static void maybe_start(rta_playout *p) {
    size_t avail = rta_ring_read_available(p->ring);
    if (p->dry) {
        if (!avail) {
            p->dry_ns += p->period_ns;
            return;
        }
        raise_by_gap(p);
    }
    int target_ms = atomic_load_explicit(&p->target_ms, RLX);
    if (avail > p->seen)
        p->newest = avail - p->seen < p->target_bytes ? avail - p->seen : p->target_bytes;
    p->seen = avail;
    if (avail >= p->target_bytes + p->newest || (avail > 0 && p->waited_ns >= (int64_t)target_ms * 1000000)) {
        p->playing = 1;
        p->waited_ns = 0;
        p->seen = p->newest = 0;
    } else if (avail > 0) {
        p->waited_ns += p->period_ns;
    }
}

/* At least n session samples: from the ring while playing, silence otherwise. Returns the count (may be more). */
static size_t pull(rta_playout *p, size_t n) {
    int16_t *x = p->sess;
    if (!p->playing) {
        memset(x, 0, n * sizeof(int16_t));
        held_push(p, 0, (double)n);
        p->quiet += n;
        return n;
    }
    p->quiet = 0;
    size_t avail = rta_ring_read_available(p->ring);
    size_t k = (n * 2 < avail ? n * 2 : avail) & ~(size_t)1;
    if (k) {
        rta_ring_read(p->ring, x, k);
        led_consumed(p->led, k);
        p->got_audio = 1;
    }
    size_t got = k / 2, len = n;
    if (p->from_silence && got) {
        fade_in(&p->fade, x, got);
        p->from_silence = 0;
    }
    if (got)
        p->last = x[got - 1];
    if (got < n) { /* ran dry: the last sample decays to zero, silence after, gather the target again */
        len = got + p->fade.length > n ? got + p->fade.length : n;
        memset(x + got, 0, (len - got) * sizeof(int16_t));
        fade_decay(&p->fade, x + got, len - got, p->last);
        p->last = 0;
        if ((int64_t)p->led->read_pos_own == atomic_load_explicit(&p->led->end_mark, memory_order_acquire)) {
            count(&p->drained, 1); /* the item's audio is over: a normal end */
        } else {
            count(&p->underruns, 1); /* starved mid-item: measure the gap, then wait that much longer */
            p->dry = 1;
            p->dry_ns = 0;
        }
        p->stable_ns = 0;
        p->playing = 0;
        p->from_silence = 1;
    }
    held_push(p, 1, (double)got);
    held_push(p, 0, (double)(len - got));
    return len;
}

static void serve_flush(rta_playout *p, uint64_t target) {
    rta_ledger *led = p->led;
    p->quiet = 0;
    uint64_t pending = (target > led->read_pos_own ? target - led->read_pos_own : 0) & ~(uint64_t)1;
    if (p->playing) {
        /* The next few ms of audio, ramped to zero, so the cut does not click. */
        uint64_t k = p->fade.length * 2;
        size_t avail = rta_ring_read_available(p->ring);
        if (pending < k)
            k = pending;
        if (avail < k)
            k = avail;
        k &= ~(uint64_t)1;
        if (k) {
            rta_ring_read(p->ring, p->sess, k);
            led_consumed(led, k);
            pending -= k;
            p->got_audio = 1;
            held_push(p, 1, (double)(k / 2));
        }
        const int16_t *y;
        size_t m = rs_process(&p->rs, p->sess, k / 2, 1, &y);
        push_fifo(p, y, m);
        size_t keep = p->fifo_len < p->fade_dev ? p->fifo_len : p->fade_dev;
        for (size_t j = 0; j < keep; j++) { /* numpy: linspace(1, 0, keep + 1, float32)[1:] */
            float g = j + 1 == keep ? 0.0f : (float)((double)(j + 1) * (-1.0 / keep) + 1.0);
            p->fifo[j] = (int16_t)((float)p->fifo[j] * g);
        }
        p->fifo_len = keep;
    }
    /* What the FIFO no longer holds, and all the resampler holds, is thrown away (the newest consumed). */
    led_dropped(led, (uint64_t)llrint(held_keep(p, p->fifo_len * p->ratio)) * 2);
    rs_clear(&p->rs);
    size_t avail = rta_ring_read_available(p->ring);
    led_skipped(led, rta_ring_skip(p->ring, pending < avail ? pending : avail));
    p->playing = 0;
    p->from_silence = 1;
    p->waited_ns = 0;
    p->dry = 0; /* a barge-in, not the network: no gap to learn from */
    p->seen = p->newest = 0;
    count(&p->flushes, 1);
}

void rta_playout_set_reference(rta_playout *p, rta_ring *ref) { p->ref = ref; }

/* The echo canceller's reference: the mono block as handed to the device (channel 0 of the up-mix), stamped with
 * the time its first frame leaves the DAC; one write, so the reader sees the header and the frames together. */
static void publish_reference(rta_playout *p, const int16_t *out, size_t frames, int64_t dac_ns) {
    if (p->ref == NULL)
        return;
    size_t ch = (size_t)p->cfg.channels;
    rta_ref_header h = {dac_ns, (uint32_t)frames, 0};
    memcpy(p->ref_block, &h, sizeof h);
    int16_t *x = (int16_t *)(p->ref_block + sizeof h);
    for (size_t i = 0; i < frames; i++)
        x[i] = out[i * ch];
    size_t n = sizeof h + frames * 2;
    if (rta_ring_write_available(p->ref) < n)
        count(&p->ref_dropped, 1); /* the capture does not read (stopped, or no input stream) */
    else
        rta_ring_write(p->ref, p->ref_block, n);
}

static int fill(rta_playout *p, int16_t *out, size_t frames, int64_t now_ns, int64_t dac_delay_ns);

int rta_playout_fill_stamped(rta_playout *p, int16_t *out, size_t frames, int64_t now_ns, int64_t dac_delay_ns,
                             int64_t ref_dac_ns) {
    int audio = fill(p, out, frames, now_ns, dac_delay_ns);
    publish_reference(p, out, frames < (size_t)p->cfg.frames ? frames : (size_t)p->cfg.frames, ref_dac_ns);
    return audio;
}

int rta_playout_fill(rta_playout *p, int16_t *out, size_t frames, int64_t now_ns, int64_t dac_delay_ns) {
    int64_t dac_ns = now_ns + (dac_delay_ns >= 0 ? dac_delay_ns : p->cfg.device_latency_ns);
    return rta_playout_fill_stamped(p, out, frames, now_ns, dac_delay_ns, dac_ns);
}

static int fill(rta_playout *p, int16_t *out, size_t frames, int64_t now_ns, int64_t dac_delay_ns) {
    int ch = p->cfg.channels;
    if (frames > (size_t)p->cfg.frames) { /* never with a fixed period; play the rest as silence */
        memset(out + (size_t)p->cfg.frames * ch, 0, (frames - p->cfg.frames) * ch * sizeof(int16_t));
        frames = (size_t)p->cfg.frames;
    }
    count(&p->callbacks, 1);
    p->got_audio = 0;
    uint64_t gen = atomic_load_explicit(&p->flush_gen, memory_order_acquire);
    if (p->quiet >= p->quiet_min && !p->playing && gen == p->flush_served && !rta_ring_read_available(p->ring)) {
        /* Idle (most of a session): the silence the full path would hand, for a fraction of its cost. */
        memset(out, 0, frames * ch * sizeof(int16_t));
        if (p->dry)
            p->dry_ns += p->period_ns; /* an underrun's gap goes on */
        return 0;
    }
    if (gen != p->flush_served) {
        serve_flush(p, atomic_load_explicit(&p->flush_target, RLX));
        p->flush_served = gen;
    }
    if (!p->playing)
        maybe_start(p);
    int sr = p->cfg.session_rate, dr = p->cfg.device_rate;
    for (int loops = 0; p->fifo_len < frames && loops < 8; loops++) {
        /* At least a period's worth: soxr may answer a small chunk with nothing, then emit a block. */
        size_t need = ((frames - p->fifo_len) * sr + dr - 1) / dr;
        if (need < p->chunk)
            need = p->chunk;
        size_t got = pull(p, need);
        const int16_t *y;
        size_t m = rs_process(&p->rs, p->sess, got, 0, &y);
        push_fifo(p, y, m);
    }
    size_t n = frames < p->fifo_len ? frames : p->fifo_len;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < ch; c++)
            out[i * ch + c] = p->fifo[i];
    memset(out + n * ch, 0, (frames - n) * ch * sizeof(int16_t));
    meter(out, frames, (size_t)ch, &p->rms, &p->peak);
    memmove(p->fifo, p->fifo + n, (p->fifo_len - n) * sizeof(int16_t));
    p->fifo_len -= n;
    double real_handed = held_hand(p, n * p->ratio);
    p->got_audio = p->got_audio || real_handed > 0;
    /* Adaptive target: after relax_ms of playback with no underrun, come down a step. */
    if (p->playing) {
        p->stable_ns += p->period_ns;
        int ms = atomic_load_explicit(&p->target_ms, RLX);
        if (p->cfg.relax_ms > 0 && p->stable_ns >= (int64_t)p->cfg.relax_ms * 1000000 && ms > p->cfg.prebuffer_ms) {
            ms -= p->cfg.lower_ms;
            set_target(p, ms < p->cfg.prebuffer_ms ? p->cfg.prebuffer_ms : ms);
            p->stable_ns = 0;
        }
    }
    /* The ledger: consumed but not yet handed (FIFO + resampler), then publish. */
    rta_ledger *led = p->led;
    led->pending = (uint64_t)llrint(held_real(p)) * 2;
    int64_t delay = dac_delay_ns >= 0 ? dac_delay_ns : p->cfg.device_latency_ns;
    led_settle(led, now_ns + delay);
    atomic_store_explicit(&p->playing_pub, p->playing, RLX);
    if (p->got_audio) {
        /* The DAC clock: the newest real sample handed sounds at dac_end (the buffer's end, or where the audio in
         * it stopped: a reply's end is heard when it is, not when the filler after it is). */
        int64_t sound_ns = p->playing ? p->period_ns : (int64_t)(real_handed * 1e9 / sr);
        uint64_t seq = atomic_load_explicit(&led->heard_seq, RLX);
        atomic_store_explicit(&led->heard_seq, seq + 1, RLX);
        atomic_thread_fence(memory_order_release);
        atomic_store_explicit(&led->heard_played, atomic_load_explicit(&led->played_total, RLX), RLX);
        atomic_store_explicit(&led->heard_dac_end_ns, now_ns + delay + sound_ns, RLX);
        atomic_store_explicit(&led->heard_bytes_per_s, (int64_t)sr * 2, RLX);
        atomic_store_explicit(&led->heard_seq, seq + 2, memory_order_release);
        int64_t until = now_ns + p->period_ns + delay;
        atomic_store_explicit(&p->audible_until_ns, until, RLX);
        if (p->duplex)
            atomic_store_explicit(&p->duplex->audible_until_ns, until, RLX);
    }
    return p->got_audio;
}

void rta_playout_close(rta_playout *p) {
    rta_ledger *led = p->led;
    led_dropped(led, (uint64_t)llrint(held_keep(p, 0)) * 2);
    led->pending = 0;
    led_settle(led, rta_now_ns());
    p->fifo_len = 0;
    p->playing = 0;
    atomic_store_explicit(&p->playing_pub, 0, RLX);
}

void rta_playout_stats_get(rta_playout *p, rta_playout_stats *st) {
    st->underruns = atomic_load_explicit(&p->underruns, RLX);
    st->drained = atomic_load_explicit(&p->drained, RLX);
    st->flushes = atomic_load_explicit(&p->flushes, RLX);
    st->callbacks = atomic_load_explicit(&p->callbacks, RLX);
    st->raises = atomic_load_explicit(&p->raises, RLX);
    st->ref_dropped = atomic_load_explicit(&p->ref_dropped, RLX);
    st->playing = atomic_load_explicit(&p->playing_pub, RLX);
    st->target_ms = atomic_load_explicit(&p->target_ms, RLX);
    st->rms = atomic_load_explicit(&p->rms, RLX);
    st->peak = atomic_load_explicit(&p->peak, RLX);
    st->audible_until_ns = atomic_load_explicit(&p->audible_until_ns, RLX);
}
