/*
 * rta_echo_stage: the echo canceller (rta_echo.h) as the capture processor's stage (rta_capture_set_stage), fed
 * with the playout's reference through an SPSC ring (rta_playout_set_reference): the speaker and the microphone are
 * two streams, two callbacks (PortAudio's two, or the pacer's two threads).
 *
 * CONTRACT
 *  - rta_echo_stage_process is the capture's stage: the capture callback's thread only. It allocates nothing,
 *    takes no lock and never waits. It returns 1 until the canceller has converged (the capture then holds the
 *    uplink while the speaker is audible, as half-duplex does), 0 after (`converged` latches), or after 3 s of
 *    reference played without converging (a microphone that does not hear the speaker never converges).
 *  - Alignment: capture sample k meets reference sample k - margin (both counted from the time reading began, at
 *    one device rate). The two callbacks tick on their own (PortAudio's two streams, the pacer's two threads; a
 *    10 ms playout period against a 20 ms capture one; a sound server's bursts), so reading begins once the ring
 *    holds a period plus a margin of one capture period (never more than the input's own latency, so the reference
 *    stays ahead of its echo). A playout later than that is read as silence for the frames it lacks, which are
 *    skipped when they arrive, so the echo's delay does not move. The delay the canceller sees is the devices' and
 *    the room's less the margin; its bulk-delay estimator finds it. A ring filled beyond
 *    max_fill_ms (the capture was not reading), or owed more than that (no playout), starts over.
 *  - A period that is not whole 10 ms blocks (never with the latency modes' 10/20/40 ms periods at a rate that is
 *    a multiple of 100 Hz) passes the microphone through unchanged, counted in `bypassed`, its reference consumed.
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

/* max_frames: the capture's period; ref: the ring the playout writes (mono int16 at config->rate). */
rta_echo_stage *rta_echo_stage_create(const rta_echo_config *config, rta_ring *ref, size_t max_frames,
                                      int max_fill_ms, rta_echo_status *status);
void rta_echo_stage_destroy(rta_echo_stage *stage);
/* An rta_capture_stage_fn: ctx is the stage. */
int rta_echo_stage_process(void *ctx, int16_t *mono, size_t frames);
rta_echo *rta_echo_stage_echo(rta_echo_stage *stage);

typedef struct {
    uint64_t short_frames;   /* reference frames the playout had not written in time (read as silence) */
    uint64_t trimmed_frames; /* reference frames thrown away: the ring had filled beyond max_fill_ms */
    uint64_t bypassed;       /* periods passed through (not whole 10 ms blocks) */
} rta_echo_stage_stats;
void rta_echo_stage_stats_get(rta_echo_stage *stage, rta_echo_stage_stats *st);

#ifdef __cplusplus
}
#endif
#endif /* RTA_ECHO_STAGE_H */
