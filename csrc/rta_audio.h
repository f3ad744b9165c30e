/*
 * rta_audio: the real-time audio path. A capture processor (device frames -> the capture ring) and a playout
 * processor (the playout ring -> device frames), plain C with every buffer allocated at create time, so the
 * device's thread (PortAudio's, or the pacer's in rta_pacer.h) runs them with no Python, no GIL, no lock, no
 * allocation and no logging. The readable twins are rtaudiod/audio/capture.py and playout.py; the tests run
 * both on the same input.
 *
 * CONTRACT
 *  - rta_capture_process is called by one thread at a time (the input device's); rta_playout_fill likewise (the
 *    output device's). Both may run at once with the other side's Python threads.
 *  - Settings changed from other threads (mute, gain, tap, half-duplex) are atomics the callback loads relaxed:
 *    a change takes effect from the next period. Counters and levels are atomics any thread may read (relaxed:
 *    a figure may be a period stale, never torn).
 *  - Barge-in: rta_playout_flush (any one thread at a time; the engine serialises) stores the target and then
 *    bumps a generation with release; the callback sees the new generation with acquire and serves the flush on
 *    its next run. No lock.
 *  - The ledger (rta_ledger) outlives playouts: it is the consumer side of PlayoutLedger (rtaudiod/audio/
 *    ledger.py), written by the callback only. What Python needs from it crosses in SPSC rings (rta_ring.h):
 *    item starts from the writer (marks), and back thrown-away byte ranges and first-handed stamps, which Python
 *    drains under the ledger's lock. The callback pushes a range before it publishes the `handed` that covers it
 *    (release), so a reader that loads `handed` (acquire) and then drains finds every range below it.
 *  - Times are CLOCK_MONOTONIC nanoseconds (Python's time.monotonic() on Linux).
 */
#ifndef RTA_AUDIO_H
#define RTA_AUDIO_H

#include <stddef.h>
#include <stdint.h>

#include "rta_ring.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    RTA_AUDIO_OK = 0,
    RTA_AUDIO_EINVAL = -1, /* a rate, channel count or frame count out of range */
    RTA_AUDIO_ENOMEM = -2,
    RTA_AUDIO_ESOXR = -3,  /* libsoxr refused the rates or the quality */
} rta_audio_status;

int64_t rta_now_ns(void); /* CLOCK_MONOTONIC */

/* ---- half-duplex: the playout publishes when its audio stops sounding, the capture gates on it --------------- */
typedef struct {
    _Atomic int64_t audible_until_ns; /* playout: the last handed audio stops sounding then */
    _Atomic int64_t tail_ns;          /* the room's echo dies down this long after */
    _Atomic int enabled;
} rta_duplex;

/* ---- the played-sample ledger's consumer side ------------------------------------------------------------------ */
typedef struct {
    uint64_t start;       /* the item's first byte in the stream of everything written */
    int64_t heard_ns;     /* when that byte reaches the DAC (the callback's time plus the device's delay) */
} rta_stamp;

typedef struct {
    uint64_t begin, end;  /* bytes thrown away (skipped in the ring, or dropped from the resampler/FIFO) */
} rta_range;

typedef struct rta_ledger rta_ledger;

rta_ledger *rta_ledger_create(void);
void rta_ledger_destroy(rta_ledger *led);
/* Writer (the receive thread): an item starts at `start` (stamped once the callback passes it; dropped when 64
 * items wait); the item's audio is complete at `end_mark` (running dry there is the end, not an underrun). */
void rta_ledger_mark(rta_ledger *led, uint64_t start);
void rta_ledger_set_end_mark(rta_ledger *led, int64_t end_mark);
/* Readers (any thread, one at a time: Python holds the ledger's lock). */
uint64_t rta_ledger_handed(rta_ledger *led);       /* every byte below was handed to the device or thrown away */
uint64_t rta_ledger_played_total(rta_ledger *led); /* bytes handed to the device, ever */
uint64_t rta_ledger_heard_total(rta_ledger *led, int64_t now_ns); /* of those, what the DAC has played by now */
uint64_t rta_ledger_read_pos(rta_ledger *led);
size_t rta_ledger_drain_ranges(rta_ledger *led, rta_range *out, size_t max);
size_t rta_ledger_drain_stamps(rta_ledger *led, rta_stamp *out, size_t max);
/* With no callback running (stream stopped): throw away `n` bytes the caller skipped in the ring, and publish. */
void rta_ledger_skip_idle(rta_ledger *led, uint64_t n);

/* ---- capture --------------------------------------------------------------------------------------------------- */
typedef struct rta_capture rta_capture;

typedef struct {
    int device_rate, channels, frames, session_rate;
    int quality; /* soxr recipe: SOXR_QQ .. SOXR_VHQ (0..4) */
} rta_capture_config;

rta_capture *rta_capture_create(const rta_capture_config *cfg, rta_ring *ring, rta_duplex *duplex,
                                rta_audio_status *status);
void rta_capture_destroy(rta_capture *cap);
/* The input callback: `frames` interleaved int16 frames of the device (at most cfg->frames). adc_ns: when the
 * first of them was sampled (PortAudio's inputBufferAdcTime on our clock, the pacer's deadline less a period); the
 * echo stage aligns the speaker's reference by it. */
void rta_capture_process(rta_capture *cap, const int16_t *in, size_t frames, int64_t now_ns, int64_t adc_ns);
void rta_capture_set_muted(rta_capture *cap, int muted);
void rta_capture_set_gain(rta_capture *cap, float gain);
/* A second reader of the microphone (mono int16 at the device rate, before the resampler and the gate; never while
 * muted), or NULL. Returns once no callback can still be writing into the previous one. */
void rta_capture_set_tap(rta_capture *cap, rta_ring *tap);
/* A stage run in place on the mono device-rate microphone, after the down-mix and before the tap, the resampler,
 * the gain and the gating (the echo canceller: rta_echo_stage.h), given the period's ADC time. It returns 1 while
 * the uplink must be held whenever the speaker is audible (the canceller has not converged yet), else 0. Set it
 * before the first rta_capture_process (the stream is not started yet); ctx outlives the capture. */
typedef int (*rta_capture_stage_fn)(void *ctx, int16_t *mono, size_t frames, int64_t adc_ns);
void rta_capture_set_stage(rta_capture *cap, rta_capture_stage_fn fn, void *ctx);

typedef struct {
    uint64_t frames_in, bytes_written, dropped_bytes, gated_frames;
    int gated;
    float rms, peak, gain;
} rta_capture_stats;
void rta_capture_stats_get(rta_capture *cap, rta_capture_stats *st);

/* ---- playout --------------------------------------------------------------------------------------------------- */
typedef struct rta_playout rta_playout;

typedef struct {
    int session_rate, device_rate, channels, frames;
    int quality;
    float fade_ms;
    /* Jitter-adaptive start: play once the ring holds target_ms beyond its newest arrival, or once audio has
     * waited that long. The target starts at prebuffer_ms; an underrun raises it by its gap (how long the ring ran
     * dry) + raise_ms, up to max_prebuffer_ms (a longer gap is an outage: raise_ms only); after relax_ms of
     * playback without an underrun it comes down by lower_ms, never below prebuffer_ms. */
    int prebuffer_ms, max_prebuffer_ms, raise_ms, lower_ms, relax_ms;
    int64_t device_latency_ns; /* used when the device gives no timing of its own (dac_delay_ns < 0) */
} rta_playout_config;

rta_playout *rta_playout_create(const rta_playout_config *cfg, rta_ring *ring, rta_ledger *led, rta_duplex *duplex,
                                rta_audio_status *status);
void rta_playout_destroy(rta_playout *p);
/* The output callback: fill `frames` interleaved frames (at most cfg->frames). dac_delay_ns: how long until the
 * buffer's first frame reaches the DAC (PortAudio's outputBufferDacTime - currentTime), or -1 when unknown.
 * Returns 1 when the buffer holds real audio, 0 for silence. */
int rta_playout_fill(rta_playout *p, int16_t *out, size_t frames, int64_t now_ns, int64_t dac_delay_ns);
/* The same, with the echo reference's stamp given (rta_playout_fill stamps it now_ns + the DAC delay): a device
 * whose clock is not the callback's time (the pacer's file, whose clock counts frames). */
int rta_playout_fill_stamped(rta_playout *p, int16_t *out, size_t frames, int64_t now_ns, int64_t dac_delay_ns,
                             int64_t ref_dac_ns);
/* Barge-in (any thread): discard everything below `written` (the writer's position now); served by the next fill. */
void rta_playout_flush(rta_playout *p, uint64_t written);
int rta_playout_flush_pending(rta_playout *p);
/* A device that throws away what it still queues when a flush is served (the sound server's pa_stream_flush,
 * rta_pulse.c): the newest `ns` of the audio handed so far never sounds, and the ledger counts it as unplayed, so a
 * truncation says what was heard; capped at the real audio handed and not heard yet (the queue counts silence too,
 * and a second flush finds what the first counted still queued). The filling thread, before the fill serving it. */
void rta_playout_unhand(rta_playout *p, int64_t ns);
/* The stream stopped for good: what the resampler and FIFO hold is never handed over (call with no fill running). */
void rta_playout_close(rta_playout *p);
/* The echo canceller's reference: every fill writes the mono block it hands to the device (zeros when idle) into
 * `ref` (an SPSC ring the capture's echo stage reads; full: the block is dropped, counted), as one record: an
 * rta_ref_header stamped with the time the block's first frame leaves the DAC (now_ns + the DAC delay), then its
 * frames. Set it before the first fill (the stream is not started yet); NULL: none. */
typedef struct {
    int64_t dac_ns;  /* CLOCK_MONOTONIC */
    uint32_t frames; /* mono int16 frames after the header */
    uint32_t reserved;
} rta_ref_header;
void rta_playout_set_reference(rta_playout *p, rta_ring *ref);

typedef struct {
    uint64_t underruns, drained, flushes, callbacks, raises, ref_dropped;
    int playing;
    int target_ms;
    float rms, peak;
    int64_t audible_until_ns;
} rta_playout_stats;
void rta_playout_stats_get(rta_playout *p, rta_playout_stats *st);

#ifdef __cplusplus
}
#endif
#endif /* RTA_AUDIO_H */
