/*
 * rta_pacer: a device clock for the headless backends (null and wav). One thread per stream calls the same C
 * processors a sound card's callback would (rta_audio.h), every `frames / rate` seconds on absolute deadlines
 * (clock_nanosleep, TIMER_ABSTIME: no drift; late ticks are caught up back to back, as a device's clock runs on,
 * unless a second behind: rta_pacer.c's CATCH_UP_NS).
 *
 * CONTRACT
 *  - rta_pacer_start makes and starts the thread; rta_pacer_stop asks it to end and joins it (within a period).
 *    One thread owns a pacer (the engine's, under its life-cycle lock).
 *  - Input: `input` holds the file's interleaved frames (the caller keeps it alive until stop); NULL feeds
 *    silence. The last frame is padded with silence. realtime=0 reads without waiting and ends at the file's end.
 *  - Output: every period's frames go to `out_fd` (-1: discarded) after a 44-byte WAV header the caller wrote;
 *    the header's two sizes are rewritten each period, so the file is a valid WAV at every step.
 *    realtime=0 writes without waiting while the playout hands real audio, and in real time otherwise.
 *  - Counters are atomics any thread may read.
 */
#ifndef RTA_PACER_H
#define RTA_PACER_H

#include <stddef.h>
#include <stdint.h>

#include "rta_audio.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rta_pacer rta_pacer;

typedef struct {
    int rate, channels, frames, realtime;
    rta_capture *capture;  /* an input stream ... */
    const int16_t *input;  /* ... fed from these frames (NULL: silence) */
    size_t input_frames;
    rta_playout *playout;  /* or an output stream ... */
    int out_fd;            /* ... writing here (-1: nowhere) */
    uint64_t out_data_bytes; /* bytes already in the file's data chunk (a restarted stream goes on) */
} rta_pacer_config;

rta_pacer *rta_pacer_start(const rta_pacer_config *cfg, rta_audio_status *status);
void rta_pacer_stop(rta_pacer *p); /* joins and frees */
int rta_pacer_active(rta_pacer *p);
int rta_pacer_finished(rta_pacer *p);        /* input: the file's last frame went to the capture */
uint64_t rta_pacer_out_bytes(rta_pacer *p);  /* output: bytes in the file's data chunk */
uint64_t rta_pacer_errors(rta_pacer *p);     /* output: failed writes (disk full) */
int rta_pacer_last_errno(rta_pacer *p);

#ifdef __cplusplus
}
#endif
#endif /* RTA_PACER_H */
