/* rta_echo: see rta_echo.h for the contract, the alignment and the engines. */
#include "rta_echo.h"

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <speex/speex_echo.h>
#include <speex/speex_preprocess.h>

#include "rta_echo_webrtc.h"

/* The estimator's working rate: speech's correlation lives below 1 kHz, and 2 kHz keeps the per-sample
 * correlation update (one multiply-add per lag) at ~2 M/s for a 500 ms search. */
#define DECIMATED_HZ 2000
/* The delay line holds the reference back by the estimate less this margin, so an estimate a little late
 * still leaves the echo inside the filter (the filter is causal: an echo earlier than the reference is lost). Once
 * locked, a new peak moves the delay only when it leaves [applied + LEAD_MIN_MS, applied + 3 margins]: on a voiced
 * reply the correlation's peak hops by a pitch period or two (8-20 ms measured on the loudspeaker bench with an
 * espeak voice: 90.5, 81.5, 102, 94, 84 ms in one run on a still echo path), and each move made the engine relearn
 * and leak the echo for a second (the replies cut by their own echo). 20 ms of margin lets those hops pass. */
#define MARGIN_MS 20
#define LEAD_MIN_MS 2
/* Learn only while the reference plays: a block's mean power above -50 dBFS. */
#define REF_ACTIVE_POWER 1.07e4
/* The correlation window (the accumulators' time constant) and the ERLE window. The ERLE figure is a mean of each
 * echo block's ERLE in dB, each clipped to [ERLE_FLOOR_DB, ERLE_CEILING_DB]: a mean of powers would let one block of
 * a person talking (60 dB above a good residual) hide the echo blocks for seconds. */
#define XCORR_WINDOW_S 4.0
#define ERLE_WINDOW_S 1.0
#define ERLE_FLOOR_DB (-10.0)
#define ERLE_CEILING_DB 60.0
/* A new estimate is applied when, after at least LEARN_BLOCKS blocks of reference, its peak stands LOCK_PROMINENCE
 * times above every peak farther than a filter tail from it (a reflection within the tail is the same room; speech's
 * self-similarity and noise make the far peaks), its normalised correlation is at least LOCK_CORRELATION (low: a
 * person talking over the echo lowers it), and it held within LOCK_JITTER_MS for LOCK_BLOCKS blocks (each change
 * makes the filter re-adapt, so a passing peak must not move it). The prominence, a ratio, is what rejects a
 * microphone that does not hear the speaker. */
/* The residual echo gate, after the engine: a block where the reference plays (or played within the room's tail,
 * GATE_HANGOVER_BLOCKS) and whose output is GATE_DB or more below the microphone is echo the engine left, and is
 * attenuated by GATE_GAIN more (ramped across the block). A server VAD reacts to a single 10 ms frame, and the
 * engines leave a few frames near -35 dBFS after a change of the echo path (measured on the loudspeaker test
 * bench: the replies it cut). A person talking keeps the output within a few dB of the microphone, so their blocks
 * pass untouched; and while one is heard (NEAR_DB below) the gate stays open: under a loud echo webrtc's non-linear
 * processor takes 8 dB off their blocks (the median, reverberant path), and the gate took 26 dB more off those it
 * pushed past GATE_DB (double talk 0.775 with no gate, 0.689 with both; 0.734 now, docs/echo.md). */
#define GATE_DB 10.0
#define GATE_GAIN 0.05f
#define GATE_HANGOVER_BLOCKS 10
/* ...and, attenuated by EXPLAINED_GAIN (12 dB), a block the echo alone explains: the microphone is no louder than
 * the loudest aligned reference of the last ECHO_SPAN_BLOCKS (the echo comes up to three margins after it) times
 * the echo path's gain plus EXPLAINED_HEADROOM_DB, whatever the engine removed (traced on the loudspeaker bench:
 * blocks left at -29 dBFS had 0-4 dB removed, and a bar of 4 dB on the removal let them through). The gain (the
 * ERL, dB) is learnt from blocks the engine cancelled by ERL_LEARN_DB or more (nothing but echo in them), a leaky
 * mean over ERL_WINDOW_S. Why: on the loudspeaker bench webrtc weakens on some replies (blocks of 0-10 dB at -29 to
 * -35 dBFS, the engine's 1 s ERLE at 12-24 dB) and a server VAD starts a turn on one such frame; the echo-only
 * blocks there stay within 4.3 dB of the estimate (99th percentile).
 * A person talking makes blocks NEAR_DB above what the echo can make: the loudest aligned reference of the last
 * ECHO_SPAN_BLOCKS, or before them the room's tail (the loudest block decayed by TAIL_DECAY_DB a block, 60 dB in
 * 600 ms: without it a reverberant room's echo after a loud word passed for a person, and opened the gates).
 * NEAR_MIN_HITS of them within NEAR_HANGOVER_BLOCKS of each other hold both gates open for that hangover (their soft
 * syllables between). */
#define EXPLAINED_HEADROOM_DB 5.0
#define TAIL_DECAY_DB 1.0
#define EXPLAINED_GAIN 0.25f
#define NEAR_DB 8.0
#define NEAR_HANGOVER_BLOCKS 30
#define NEAR_MIN_HITS 2
#define ECHO_SPAN_BLOCKS 5
#define ERL_LEARN_DB 20.0
#define ERL_WINDOW_S 1.0
/* webrtc+speex (RTA_ECHO_WEBRTC_SPEEX): speex runs beside webrtc on the same aligned reference, and while a person
 * is heard its output is taken instead (crossfaded across a block; the earlier of the two held back to the other's
 * latency, so the crossfade does not comb). Under a loud echo webrtc's non-linear processor, which this library
 * cannot switch off, takes ~8 dB off the person (double talk 0.734 on the reverberant path); speex keeps them.
 * Speex is trusted, to hear a person and to be heard, only while it removes SHADOW_TRUST_DB or more (a leaky mean)
 * from the blocks webrtc cancelled by ERL_LEARN_DB (echo only): with two clocks it was not told about it falls to
 * 7-14 dB, its output would carry the echo, and webrtc+speex is then webrtc alone. Trusted, it also hears a person
 * the level test cannot (it caught 52 % of their voiced blocks on the reverberant path: they are often 10-15 dB under
 * the echo): blocks it removes less than SHADOW_NEAR_DB from (echo only: 6 dB at the 1st percentile, 30 the median
 * there) and webrtc less than ERL_LEARN_DB, two within the hangover as near_*, take its output but open no gate (the
 * gates still judge webrtc's removal): opening them too gave 0.889 here but let 4 of 10 replies be cut by their echo
 * on the loudspeaker bench, where the level test alone keeps webrtc's 0 of 10. */
#define SHADOW_TRUST_DB 20.0
#define SHADOW_NEAR_DB 6.0
/* Nothing to cancel: the reference has been silent for longer than the echo's delay (once found; none before: the
 * microphone may not hear the speaker at all) and the filter's tail, so no echo of it can still arrive. The engine still runs (its state stays continuous) but the microphone passes untouched:
 * its high-pass filter and non-linear processor would otherwise colour a person talking to a silent device (a
 * pushed voice's correlation fell from > 0.9 to 0.85 through webrtc). */
#define LEARN_BLOCKS 50
#define LOCK_CORRELATION 0.1
#define LOCK_PROMINENCE 2.0
#define LOCK_JITTER_MS 2
#define LOCK_BLOCKS 20

struct rta_echo {
    rta_echo_config config;
    size_t block;        /* frames per 10 ms */
    size_t margin;       /* frames */
    size_t max_delay;    /* frames */

    SpeexEchoState *speex;
    SpeexPreprocessState *preprocess;
    rta_webrtc_aec *webrtc;

    /* The reference's delay line (line_len > max_delay + block) and the aligned block handed to the engine. */
    int16_t *line;
    size_t line_len, line_pos;
    size_t applied;      /* frames the reference is held back */
    double drift;        /* frames the echo's delay grows by per frame (two device clocks), rta_echo_set_drift */
    double slide;        /* what it grew by since the delay was applied: the line is read `applied + slide` back */
    size_t shown;        /* the bulk delay the figures report, at `slide` 0 */
    int16_t *aligned;
    int16_t *mic_copy;   /* speex reads the microphone after it starts writing out: a copy when out == mic */
    int16_t *shadow;     /* webrtc+speex: speex's output of the block, chosen while a person is heard */
    int16_t *held;       /* ...and webrtc's output held back by `hold` frames, to speex's latency (a ring) */
    size_t hold, held_pos;
    int hold_webrtc;     /* which of the two is held back: the earlier one */
    float pick;          /* ...its share of the output at the end of the last block (0: webrtc's, 1: speex's) */

    /* The bulk-delay estimator: boxcar decimation, a first difference (pre-whitening: speech's strong low
     * harmonics would blur the peak across pitch periods), a history of the decimated reference and leaky
     * cross-correlation accumulators, one per lag. */
    int decim, dcount;
    float msum, rsum, mprev, rprev;
    float *rhist;        /* hist_len decimated reference samples, hist_pos the next to write */
    size_t hist_len, hist_pos, lags;
    float *xcorr;
    double menergy, renergy;
    double xcorr_decay;  /* per block */
    size_t tail_lags;    /* the filter tail in decimated samples */
    uint64_t learnt;     /* blocks of reference learnt from */
    size_t candidate;    /* lag (decimated samples) of the last confident peak, and how long it held */
    int candidate_blocks;
    int locked;

    double erle_decay, erle;   /* the leaky mean of the blocks' ERLE, dB */
    float gate;                /* the residual echo gate's gain at the end of the last block */
    size_t quiet_blocks;       /* blocks since the (undelayed) reference last played */
    int since_echo;            /* blocks since the aligned reference last played */
    double span_power[ECHO_SPAN_BLOCKS]; /* the aligned reference's last blocks' powers, for the echo alone */
    size_t span_pos;
    double tail_power;         /* the loudest of them, decayed by TAIL_DECAY_DB a block since: the room's tail */
    double erl_db, erl_decay;  /* the echo path's gain (mic over aligned reference, dB), learnt; erl_known */
    int erl_known;
    int near_blocks;           /* blocks since one the echo alone could not make (a person talking) */
    int near_hits;             /* ...and how many such came each within the hangover of the one before */
    double shadow_db;          /* webrtc+speex: what speex removes from echo-only blocks (dB, leaky mean) */
    int shadow_trusted;        /* ...enough to hear a person by it, and to take its output */
    int shadow_blocks, shadow_hits, shadow_heard; /* ...and a person it heard, as near_* (its output only) */
    int near;                  /* a person is talking: both gates stay open */

    /* Published for other threads (relaxed: each figure stands alone). */
    _Atomic float erle_db;
    _Atomic uint32_t delay_frames;
    _Atomic int delay_locked;
    _Atomic int converged;
    _Atomic uint64_t blocks;
    _Atomic uint64_t echo_blocks;
};

const char *rta_echo_engine_name(rta_echo_engine engine) {
    switch (engine) {
    case RTA_ECHO_SPEEX: return "speex";
    case RTA_ECHO_WEBRTC: return "webrtc";
    case RTA_ECHO_WEBRTC_SPEEX: return "webrtc+speex";
    }
    return "unknown";
}

void rta_echo_config_default(rta_echo_config *config, int rate) {
    config->engine = RTA_ECHO_DEFAULT;
    config->rate = rate;
    config->tail_ms = 128;
    config->max_delay_ms = 500;
    config->delay_ms = -1;
    config->suppress = 1;
}

static size_t ms_to_frames(const rta_echo *e, int ms) { return (size_t)e->config.rate * (size_t)ms / 1000; }

static void engine_destroy(rta_echo *e) {
    if (e->preprocess) speex_preprocess_state_destroy(e->preprocess);
    if (e->speex) speex_echo_state_destroy(e->speex);
    if (e->webrtc) rta_webrtc_aec_destroy(e->webrtc);
    e->preprocess = NULL;
    e->speex = NULL;
    e->webrtc = NULL;
}

/* webrtc's output delay at `rate`, in frames: measured once on a spare instance (a click of noise, no echo), as it
 * depends on the library's band splitting and resampling (7 ms at 16 and 48 kHz, 14 ms at 8 kHz here). */
static long webrtc_latency(int rate) {
    rta_webrtc_aec *probe = rta_webrtc_aec_create(rate);
    size_t block = (size_t)rate / 100, n = 30 * block, max_lag = 2 * block;
    int16_t *in = calloc(n, sizeof *in), *out = calloc(n, sizeof *out), *zeros = calloc(block, sizeof *zeros);
    long best_lag = 0;
    if (probe && in && out && zeros) {
        uint32_t seed = 18;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1664525u + 1013904223u;
            in[i] = (int16_t)((int32_t)(seed >> 16) - 32768) / 4;
        }
        memcpy(out, in, n * sizeof *out);
        for (size_t done = 0; done < n; done += block) rta_webrtc_aec_process(probe, zeros, out + done);
        double best = 0.0;
        for (size_t lag = 0; lag <= max_lag; lag++) {
            double sum = 0.0;
            for (size_t i = 10 * block; i < n; i++) sum += (double)out[i] * in[i - lag];
            if (sum > best) {
                best = sum;
                best_lag = (long)lag;
            }
        }
    }
    rta_webrtc_aec_destroy(probe);
    free(in);
    free(out);
    free(zeros);
    return best_lag;
}

static rta_echo_status engine_create(rta_echo *e) {
    int rate = e->config.rate;
    if (e->config.engine != RTA_ECHO_SPEEX) {
        e->webrtc = rta_webrtc_aec_create(rate);
        if (!e->webrtc) return RTA_ECHO_EENGINE;
        if (e->config.engine == RTA_ECHO_WEBRTC) return RTA_ECHO_OK;
    }
    e->speex = speex_echo_state_init((int)e->block, (int)ms_to_frames(e, e->config.tail_ms));
    if (!e->speex) return RTA_ECHO_ENOMEM;
    speex_echo_ctl(e->speex, SPEEX_ECHO_SET_SAMPLING_RATE, &rate);
    if (e->config.suppress) {
        /* The preprocessor's residual echo suppression works through its noise-suppression gains, so denoise
         * stays on (at its default -15 dB); AGC, VAD and dereverb stay off. */
        e->preprocess = speex_preprocess_state_init((int)e->block, rate);
        if (!e->preprocess) return RTA_ECHO_ENOMEM;
        speex_preprocess_ctl(e->preprocess, SPEEX_PREPROCESS_SET_ECHO_STATE, e->speex);
    }
    return RTA_ECHO_OK;
}

static void estimator_reset(rta_echo *e) {
    e->dcount = 0;
    e->msum = e->rsum = e->mprev = e->rprev = 0.0f;
    memset(e->rhist, 0, e->hist_len * sizeof *e->rhist);
    memset(e->xcorr, 0, e->lags * sizeof *e->xcorr);
    e->hist_pos = 0;
    e->menergy = e->renergy = 0.0;
    e->learnt = 0;
    e->candidate = 0;
    e->candidate_blocks = 0;
    e->locked = e->config.delay_ms >= 0;
}

rta_echo *rta_echo_create(const rta_echo_config *config, rta_echo_status *status) {
    rta_echo_status st = RTA_ECHO_EINVAL;
    rta_echo *e = NULL;
    if (!config || config->rate < 8000 || config->rate > 48000 || config->tail_ms < 10 || config->tail_ms > 1000 ||
        config->max_delay_ms < MARGIN_MS || config->max_delay_ms > 2000 || config->delay_ms > config->max_delay_ms ||
        (config->engine != RTA_ECHO_SPEEX && config->engine != RTA_ECHO_WEBRTC &&
         config->engine != RTA_ECHO_WEBRTC_SPEEX) || config->rate % 100 != 0)
        goto fail;
    st = RTA_ECHO_ENOMEM;
    e = calloc(1, sizeof *e);
    if (!e) goto fail;
    e->config = *config;
    e->block = ms_to_frames(e, 10);
    e->margin = ms_to_frames(e, MARGIN_MS);
    e->max_delay = ms_to_frames(e, config->max_delay_ms);
    e->line_len = e->max_delay + 2 * e->block;
    e->line = calloc(e->line_len, sizeof *e->line);
    e->aligned = calloc(e->block, sizeof *e->aligned);
    e->mic_copy = calloc(e->block, sizeof *e->mic_copy);
    e->shadow = calloc(e->block, sizeof *e->shadow);
    e->held = calloc(e->block, sizeof *e->held);
    e->decim = config->rate / DECIMATED_HZ > 1 ? config->rate / DECIMATED_HZ : 1;
    e->lags = (size_t)config->max_delay_ms * (size_t)(config->rate / e->decim) / 1000 + 1;
    e->hist_len = e->lags;
    e->tail_lags = (size_t)config->tail_ms * (size_t)(config->rate / e->decim) / 1000;
    e->rhist = calloc(e->hist_len, sizeof *e->rhist);
    e->xcorr = calloc(e->lags, sizeof *e->xcorr);
    if (!e->line || !e->aligned || !e->mic_copy || !e->shadow || !e->held || !e->rhist || !e->xcorr) goto fail;
    e->xcorr_decay = exp(-0.01 / XCORR_WINDOW_S);
    e->erle_decay = exp(-0.01 / ERLE_WINDOW_S);
    e->erl_decay = exp(-0.01 / ERL_WINDOW_S);
    if ((st = engine_create(e)) != RTA_ECHO_OK) goto fail;
    if (e->webrtc && e->speex) {
        /* speex's preprocessor delays its output by one block; webrtc's delay depends on the rate (7-14 ms): the
         * earlier one is held back to the other's (2 ms more latency at 48 kHz than webrtc alone) */
        long lag = (long)(e->preprocess ? e->block : 0) - webrtc_latency(config->rate);
        e->hold = (size_t)labs(lag) < e->block ? (size_t)labs(lag) : e->block - 1;
        e->hold_webrtc = lag > 0;
    }
    rta_echo_reset(e);
    if (status) *status = RTA_ECHO_OK;
    return e;
fail:
    rta_echo_destroy(e);
    if (status) *status = st;
    return NULL;
}

void rta_echo_destroy(rta_echo *e) {
    if (!e) return;
    engine_destroy(e);
    free(e->line);
    free(e->aligned);
    free(e->mic_copy);
    free(e->shadow);
    free(e->held);
    free(e->rhist);
    free(e->xcorr);
    free(e);
}

size_t rta_echo_block_frames(const rta_echo *e) { return e->block; }

/* Hold the reference back by `frames`; `shown` is the bulk delay the figures report. */
static void apply_delay(rta_echo *e, size_t frames, size_t shown) {
    e->applied = frames > e->max_delay ? e->max_delay : frames;
    e->slide = 0.0;
    e->shown = shown;
    atomic_store_explicit(&e->delay_frames, (uint32_t)shown, memory_order_relaxed);
}

void rta_echo_set_drift(rta_echo *e, double ppm) { e->drift = ppm * 1e-6; }

/* The reference `back` frames (fractional) before the newest sample in the line: Catmull-Rom cubic through the four
 * samples around it. back >= 2, so the newest of them is at most the newest written. */
static int16_t line_at(const rta_echo *e, double back) {
    double pos = (double)e->line_pos - 1.0 - back;
    while (pos < 0.0) pos += (double)e->line_len;
    size_t i = (size_t)pos;
    float f = (float)(pos - (double)i);
    size_t n = e->line_len;
    float y0 = e->line[(i + n - 1) % n], y1 = e->line[i % n], y2 = e->line[(i + 1) % n], y3 = e->line[(i + 2) % n];
    float v = y1 + 0.5f * f * (y2 - y0 + f * (2.0f * y0 - 5.0f * y1 + 4.0f * y2 - y3
                                              + f * (3.0f * (y1 - y2) + y3 - y0)));
    return (int16_t)(v > 32767.0f ? 32767.0f : v < -32768.0f ? -32768.0f : v);
}

void rta_echo_reset(rta_echo *e) {
    memset(e->line, 0, e->line_len * sizeof *e->line);
    e->line_pos = 0;
    estimator_reset(e);
    size_t fixed = e->config.delay_ms >= 0 ? ms_to_frames(e, e->config.delay_ms) : 0;
    apply_delay(e, fixed, fixed);
    if (e->speex) speex_echo_state_reset(e->speex);
    e->erle = 0.0;
    e->gate = 1.0f;
    e->pick = 0.0f;
    memset(e->held, 0, e->block * sizeof *e->held);
    e->held_pos = 0;
    e->quiet_blocks = SIZE_MAX / 2;
    e->since_echo = GATE_HANGOVER_BLOCKS;
    memset(e->span_power, 0, sizeof e->span_power);
    e->tail_power = 0.0;
    e->erl_known = 0;
    e->shadow_trusted = 0;
    e->shadow_blocks = NEAR_HANGOVER_BLOCKS;
    e->shadow_hits = 0;
    e->shadow_heard = 0;
    e->near_blocks = NEAR_HANGOVER_BLOCKS;
    e->near_hits = 0;
    e->near = 0;
    atomic_store_explicit(&e->erle_db, 0.0f, memory_order_relaxed);
    atomic_store_explicit(&e->delay_locked, e->locked, memory_order_relaxed);
    atomic_store_explicit(&e->converged, 0, memory_order_relaxed);
}

static double block_power(const int16_t *x, size_t n) {
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += (double)x[i] * x[i];
    return sum / (double)n;
}

/* One block into the correlation accumulators; afterwards, maybe a new bulk delay. Runs only while the
 * reference plays. The history keeps the reference's decimated past, newest at hist_pos - 1. */
static void estimate_delay(rta_echo *e, const int16_t *mic, const int16_t *ref) {
    float *xc = e->xcorr;
    for (size_t l = 0; l < e->lags; l++) xc[l] *= (float)e->xcorr_decay;
    e->menergy *= e->xcorr_decay;
    e->renergy *= e->xcorr_decay;
    for (size_t i = 0; i < e->block; i++) {
        e->msum += mic[i];
        e->rsum += ref[i];
        if (++e->dcount < e->decim) continue;
        float m = e->msum - e->mprev, r = e->rsum - e->rprev;
        e->mprev = e->msum;
        e->rprev = e->rsum;
        e->msum = e->rsum = 0.0f;
        e->dcount = 0;
        e->rhist[e->hist_pos] = r;
        e->menergy += (double)m * m;
        e->renergy += (double)r * r;
        /* xc[l] += m(t) r(t - l): the history from hist_pos backwards, in two runs around the wrap. */
        size_t head = e->hist_pos + 1 < e->lags ? e->hist_pos + 1 : e->lags;
        for (size_t l = 0; l < head; l++) xc[l] += m * e->rhist[e->hist_pos - l];
        for (size_t l = head; l < e->lags; l++) xc[l] += m * e->rhist[e->hist_len + e->hist_pos - l];
        e->hist_pos = e->hist_pos + 1 == e->hist_len ? 0 : e->hist_pos + 1;
    }
    size_t best = 0;
    float peak = 0.0f;
    for (size_t l = 0; l < e->lags; l++) {
        float v = fabsf(xc[l]);
        if (v > peak) {
            peak = v;
            best = l;
        }
    }
    float far = 0.0f;
    for (size_t l = 0; l < e->lags; l++)
        if ((l + e->tail_lags < best || l > best + e->tail_lags) && fabsf(xc[l]) > far) far = fabsf(xc[l]);
    double norm = sqrt(e->menergy * e->renergy);
    if (++e->learnt < LEARN_BLOCKS || norm <= 0.0 || peak / norm < LOCK_CORRELATION || peak < LOCK_PROMINENCE * far)
        return;
    size_t jitter = (size_t)LOCK_JITTER_MS * (size_t)(e->config.rate / e->decim) / 1000;
    if (e->candidate_blocks > 0 && best + jitter >= e->candidate && best <= e->candidate + jitter)
        e->candidate_blocks++;
    else {
        e->candidate = best;
        e->candidate_blocks = 1;
    }
    if (e->candidate_blocks < LOCK_BLOCKS) return;
    size_t delay = e->candidate * (size_t)e->decim;
    /* Once locked, the filter covers [applied, applied + tail]: a direct path from LEAD_MIN_MS to three margins
     * into it is well placed (early reflections and pitch make the peak hop, and each move is a re-adaptation). */
    size_t now = e->applied + (size_t)(e->slide > 0.0 ? e->slide : 0.0);
    if (e->locked && delay >= now + ms_to_frames(e, LEAD_MIN_MS) && delay <= now + 3 * e->margin) return;
    size_t target = delay > e->margin ? delay - e->margin : 0;
    /* A direct path closer than the lead, with the filter at 0 already: there is no better place; moving "again"
     * would reset the filter and the ERLE every block, and it would never converge. */
    if (e->locked && target == e->applied && e->slide == 0.0) return;
    apply_delay(e, target, delay);
    /* The filter learnt the old alignment: start it again rather than let it unlearn. */
    if (e->speex) speex_echo_state_reset(e->speex);
    /* The ERLE measured at the old alignment says nothing of the new one: converged must be earned again (the
     * stage holds the uplink meanwhile). Kept, it re-set `converged` on the next block, and the reply leaked. */
    e->erle = 0.0;
    atomic_store_explicit(&e->converged, 0, memory_order_relaxed);
    e->locked = 1;
    atomic_store_explicit(&e->delay_locked, 1, memory_order_relaxed);
}

/* The residual echo gate: towards the gain `target` (1: open), linearly across the block. */
static void gate_residual(rta_echo *e, int16_t *out, float target) {
    float from = e->gate;
    if (from == 1.0f && target == 1.0f) return;
    for (size_t i = 0; i < e->block; i++) {
        float g = from + (target - from) * (float)(i + 1) / (float)e->block;
        out[i] = (int16_t)lrintf((float)out[i] * g);
    }
    e->gate = target;
}

/* The earlier engine's block, held back `hold` frames (< a block) so both line up when crossfaded. */
static void hold_back(rta_echo *e, int16_t *out) {
    if (!e->hold) return;
    for (size_t i = 0; i < e->block; i++) {
        int16_t v = out[i];
        out[i] = e->held[e->held_pos];
        e->held[e->held_pos] = v;
        e->held_pos = e->held_pos + 1 == e->hold ? 0 : e->held_pos + 1;
    }
}

/* webrtc+speex: towards speex's output while a person is heard (webrtc's non-linear processor takes ~8 dB off their
 * voice under a loud echo, speex keeps it), webrtc's otherwise; crossfaded linearly across the block. */
static void pick_shadow(rta_echo *e, int16_t *out, float target) {
    float from = e->pick;
    if (from == 0.0f && target == 0.0f) return;
    for (size_t i = 0; i < e->block; i++) {
        float g = from + (target - from) * (float)(i + 1) / (float)e->block;
        out[i] = (int16_t)lrintf((float)out[i] * (1.0f - g) + (float)e->shadow[i] * g);
    }
    e->pick = target;
}

static double db10(double power) { return 10.0 * log10(power + 1.0); }

/* A person heard: NEAR_MIN_HITS blocks that `hit`, each within NEAR_HANGOVER_BLOCKS of the last, and that hangover
 * after them. `blocks` counts the blocks since the last hit, `hits` the run of them. */
static int heard(int *blocks, int *hits, int hit) {
    if (hit) {
        *hits = *blocks < NEAR_HANGOVER_BLOCKS ? *hits + 1 : 1;
        *blocks = 0;
    } else if (*blocks < NEAR_HANGOVER_BLOCKS) {
        ++*blocks;
    }
    return *blocks < NEAR_HANGOVER_BLOCKS && *hits >= NEAR_MIN_HITS;
}

/* Whether the echo alone explains the microphone's block (EXPLAINED_GAIN's comment); learns the echo path's gain
 * and follows a person talking on the way (e->near). Once a block, after the engine. */
static int echo_explains(rta_echo *e, double mic_power, double out_power, int echo_live) {
    double now = block_power(e->aligned, e->block);
    e->span_power[e->span_pos] = now;
    e->span_pos = (e->span_pos + 1) % ECHO_SPAN_BLOCKS;
    e->tail_power *= pow(10.0, -TAIL_DECAY_DB / 10.0);
    if (now > e->tail_power) e->tail_power = now;
    double span = 0.0;
    for (size_t i = 0; i < ECHO_SPAN_BLOCKS; i++)
        if (e->span_power[i] > span) span = e->span_power[i];
    e->near = e->shadow_heard = 0;
    if (!echo_live || span <= REF_ACTIVE_POWER) return 0;
    double mic_db = db10(mic_power), span_db = db10(span), removed_db = mic_db - db10(out_power);
    double shadow_removed_db = e->speex && e->webrtc ? mic_db - db10(block_power(e->shadow, e->block)) : 0.0;
    if (removed_db >= ERL_LEARN_DB && mic_power > REF_ACTIVE_POWER) {
        e->erl_db = e->erl_known ? e->erl_db * e->erl_decay + (mic_db - span_db) * (1.0 - e->erl_decay)
                                 : mic_db - span_db;
        e->shadow_db = e->erl_known ? e->shadow_db * e->erl_decay + shadow_removed_db * (1.0 - e->erl_decay)
                                    : shadow_removed_db;
        e->erl_known = 1;
    }
    if (!e->erl_known) return 0;
    /* A person talking: blocks well above what the echo alone makes (NEAR_MIN_HITS of them, each within the
     * hangover of the last: one alone is a reply's onset now and then, its echo ahead of its stamps), and the
     * NEAR_HANGOVER_BLOCKS after them (their soft syllables between) are theirs, not the echo's. */
    double echo_db = db10(e->tail_power > span ? e->tail_power : span);
    e->shadow_trusted = e->speex && e->webrtc && e->shadow_db >= SHADOW_TRUST_DB;
    e->shadow_heard = heard(&e->shadow_blocks, &e->shadow_hits, mic_power > REF_ACTIVE_POWER && e->shadow_trusted &&
                            shadow_removed_db < SHADOW_NEAR_DB && removed_db < ERL_LEARN_DB);
    e->near = heard(&e->near_blocks, &e->near_hits,
                    mic_power > REF_ACTIVE_POWER && mic_db > echo_db + e->erl_db + NEAR_DB);
    return !e->near && mic_db <= span_db + e->erl_db + EXPLAINED_HEADROOM_DB;
}

static void process_block(rta_echo *e, const int16_t *mic, const int16_t *ref, int16_t *out) {
    if (e->config.delay_ms < 0 && block_power(ref, e->block) > REF_ACTIVE_POWER) estimate_delay(e, mic, ref);

    /* Into the delay line, then the block `applied` frames older out of it; with two clocks, `applied + slide`
     * frames older, the slide growing by the drift each frame (bounded by the line). */
    if (e->drift == 0.0 && e->slide == 0.0) {
        for (size_t i = 0; i < e->block; i++) {
            e->line[e->line_pos] = ref[i];
            size_t back = e->line_pos >= e->applied ? e->line_pos - e->applied : e->line_pos + e->line_len - e->applied;
            e->aligned[i] = e->line[back];
            e->line_pos = e->line_pos + 1 == e->line_len ? 0 : e->line_pos + 1;
        }
    } else {
        for (size_t i = 0; i < e->block; i++) {
            e->line[e->line_pos] = ref[i];
            e->line_pos = e->line_pos + 1 == e->line_len ? 0 : e->line_pos + 1;
            double back = (double)e->applied + e->slide;
            back = back < 2.0 ? 2.0 : back > (double)e->max_delay ? (double)e->max_delay : back;
            e->aligned[i] = line_at(e, back);
            e->slide += e->drift;
        }
        double shown = (double)e->shown + e->slide;
        atomic_store_explicit(&e->delay_frames, (uint32_t)(shown > 0.0 ? shown : 0.0), memory_order_relaxed);
    }

    /* The echo in this block is the aligned reference's (once locked): the ERLE counts those blocks only. */
    int echo_here = (e->locked ? block_power(e->aligned, e->block) : block_power(ref, e->block)) > REF_ACTIVE_POWER;
    double mic_power = block_power(mic, e->block);
    size_t echo_span = ((e->locked ? e->applied + e->margin : 0) + ms_to_frames(e, e->config.tail_ms)) / e->block + 1;
    if (block_power(ref, e->block) > REF_ACTIVE_POWER)
        e->quiet_blocks = 0;
    else if (e->quiet_blocks <= echo_span)
        e->quiet_blocks++;
    int nothing_to_cancel = e->quiet_blocks > echo_span;
    if (nothing_to_cancel || out == mic) { /* keep the microphone: engines write in place */
        memcpy(e->mic_copy, mic, e->block * sizeof *mic);
        mic = e->mic_copy;
    }
    if (e->webrtc) {
        memcpy(out, mic, e->block * sizeof *out);
        rta_webrtc_aec_process(e->webrtc, e->aligned, out);
        if (e->speex && e->hold_webrtc) hold_back(e, out);
    }
    if (e->speex) {
        int16_t *into = e->webrtc ? e->shadow : out;
        speex_echo_cancellation(e->speex, mic, e->aligned, into);
        if (e->preprocess) speex_preprocess_run(e->preprocess, into);
        if (e->webrtc && !e->hold_webrtc) hold_back(e, into);
    }

    if (nothing_to_cancel) {
        memcpy(out, mic, e->block * sizeof *out);
        e->gate = 1.0f;
    }
    double out_power = block_power(out, e->block);
    e->since_echo = echo_here ? 0 : e->since_echo < GATE_HANGOVER_BLOCKS ? e->since_echo + 1 : e->since_echo;
    int echo_live = !nothing_to_cancel && e->locked && e->since_echo < GATE_HANGOVER_BLOCKS;
    int explained = echo_explains(e, mic_power, out_power, echo_live); /* every block: it learns as well */
    if (e->webrtc && e->speex)
        pick_shadow(e, out, !nothing_to_cancel && e->shadow_trusted && (e->near || e->shadow_heard) ? 1.0f : 0.0f);
    gate_residual(e, out, !echo_live || e->near ? 1.0f
                          : mic_power > out_power * pow(10.0, GATE_DB / 10.0) ? GATE_GAIN
                          : explained ? EXPLAINED_GAIN : 1.0f);

    atomic_fetch_add_explicit(&e->blocks, 1, memory_order_relaxed);
    if (!echo_here) return;
    atomic_fetch_add_explicit(&e->echo_blocks, 1, memory_order_relaxed);
    /* The canceller's own ERLE: the engine's output, before the gate (which only deepens what it did). */
    double block_erle = 10.0 * log10((mic_power + 1.0) / (out_power + 1.0));
    if (block_erle < ERLE_FLOOR_DB) block_erle = ERLE_FLOOR_DB;
    if (block_erle > ERLE_CEILING_DB) block_erle = ERLE_CEILING_DB;
    e->erle = e->erle * e->erle_decay + block_erle * (1.0 - e->erle_decay);
    atomic_store_explicit(&e->erle_db, (float)e->erle, memory_order_relaxed);
    /* Converged latches (until a reset or a new delay): a person talking lowers the ERLE for a while, and whoever
     * reads the flag (to stop gating the microphone, say) must not gate them for it. */
    if (e->locked && e->erle >= RTA_ECHO_CONVERGED_DB)
        atomic_store_explicit(&e->converged, 1, memory_order_relaxed);
}

rta_echo_status rta_echo_process(rta_echo *e, const int16_t *mic_in, const int16_t *ref_in, int16_t *out, size_t n) {
    if (n % e->block != 0) return RTA_ECHO_EINVAL;
    for (size_t done = 0; done < n; done += e->block) process_block(e, mic_in + done, ref_in + done, out + done);
    return RTA_ECHO_OK;
}

void rta_echo_read_figures(const rta_echo *e, rta_echo_figures *f) {
    rta_echo *m = (rta_echo *)e; /* atomic loads take a non-const pointer in C11 */
    f->erle_db = atomic_load_explicit(&m->erle_db, memory_order_relaxed);
    f->delay_ms = (float)atomic_load_explicit(&m->delay_frames, memory_order_relaxed) * 1000.0f / (float)e->config.rate;
    f->delay_locked = atomic_load_explicit(&m->delay_locked, memory_order_relaxed);
    f->converged = atomic_load_explicit(&m->converged, memory_order_relaxed);
    f->blocks = atomic_load_explicit(&m->blocks, memory_order_relaxed);
    f->echo_blocks = atomic_load_explicit(&m->echo_blocks, memory_order_relaxed);
}
