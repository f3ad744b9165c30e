/*
 * rta_echo_stage: the echo canceller (rta_echo.h) as the capture processor's stage (rta_capture_set_stage), fed
 * with the playout's reference through an SPSC ring (rta_playout_set_reference): the speaker and the microphone are
 * two streams, two callbacks (PortAudio's two, or the pacer's two threads).
 *
 * CONTRACT
 *  - rta_echo_stage_process is the capture's stage: the capture callback's thread only. It allocates nothing,
 *    takes no lock and never waits. It returns 1 while the uplink must be held whenever the speaker is audible (as
 *    half-duplex does): until the canceller has converged and 1 s of reference after, again after a new delay
 *    until it reconverges, for 300 ms after a discontinuity, for the first 400 ms of a reply after a second of
 *    silence; but never past 3 s of reference without converging, or 1 s with no delay found (a microphone that
 *    does not hear the speaker never converges). The reasons and the figures behind them: rta_echo_stage.c.
 *  - Alignment by the devices' clocks, not by sample counts. Each reference record is stamped with the time its
 *    first frame leaves the DAC (rta_ref_header), each captured period with the time its first frame was sampled
 *    (adc_ns). The stage drains the records into a history of the speaker's output laid out on the DAC's timeline
 *    (a stamp later than the count says is a gap the device played as silence: zeros; earlier: the timeline is
 *    re-anchored), and reads, for a period sampled at t, the reference that left the DAC at t - MARGIN_MS: the
 *    echo comes later than its sound, never earlier, and the canceller's bulk-delay estimator finds the room's
 *    delay on top. Two callbacks that tick out of step (a loaded machine, a sound server's bursts, 10 ms playout
 *    periods against 20 ms capture ones) no longer move the alignment: only the stamps do.
 *  - Each stream's stamps are followed by a track (the sample count at the nominal rate, pulled towards the stamps
 *    slowly: the stamps jitter); a stamp more than JUMP_US from its track in two blocks running is a discontinuity
 *    (an underrun, an overrun, a restarted stream) and re-anchors the track (`realigned`). The read position (the
 *    reference's timeline position less the capture's sample count) follows the two tracks sample by sample when
 *    they drift apart (two device clocks), and jumps when a track did. The drift is measured from it (`drift_ppm`:
 *    the speaker's clock against the microphone's, over DRIFT_WINDOW_S windows free of jumps).
 *  - A period that is not whole 10 ms blocks (never with the latency modes' 10/20/40 ms periods at a rate that is
 *    a multiple of 100 Hz) passes the microphone through unchanged, counted in `bypassed`.
 *  - Figures: rta_echo_read_figures on rta_echo_stage_echo(), and the counters here, from any thread.
 */
#ifndef RTA_ECHO_STAGE_H
#define RTA_ECHO_STAGE_H

#include <stddef.h>
#include <stdint.h>

#include "rta_echo.h"
#include "rta_ring.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rta_echo_stage rta_echo_stage;

/* max_frames: the capture's period; ref: the ring the playout writes its stamped records into (mono int16 at
 * config->rate); history_ms: how much of the speaker's output is kept (more than both devices' latencies). */
rta_echo_stage *rta_echo_stage_create(const rta_echo_config *config, rta_ring *ref, size_t max_frames,
                                      int history_ms, rta_echo_status *status);
void rta_echo_stage_destroy(rta_echo_stage *stage);
/* An rta_capture_stage_fn: ctx is the stage; adc_ns, when the period's first frame was sampled (CLOCK_MONOTONIC). */
int rta_echo_stage_process(void *ctx, int16_t *mono, size_t frames, int64_t adc_ns);
rta_echo *rta_echo_stage_echo(rta_echo_stage *stage);

typedef struct {
    uint64_t short_frames;   /* reference frames not written yet when read (the playout behind): read as silence */
    uint64_t trimmed_frames; /* reference frames gone from the history when read (the capture behind): silence */
    uint64_t bypassed;       /* periods passed through (not whole 10 ms blocks) */
    uint64_t realigned;      /* discontinuities in either stream's stamps, each a jump of the read position */
    uint64_t slips;          /* one-sample steps of the read position (the two clocks drifting apart) */
    float drift_ppm;         /* the speaker's clock against the microphone's, measured (0 until measured) */
} rta_echo_stage_stats;
void rta_echo_stage_stats_get(rta_echo_stage *stage, rta_echo_stage_stats *st);

#ifdef __cplusplus
}
#endif
#endif /* RTA_ECHO_STAGE_H */
