/*
 * rta_pulse: the sound server's streams, natively (libpulse), whose callbacks are the C processors of rta_audio.h.
 * The way through PortAudio and ALSA's pulse plugin costs two threads a stream and wakes them ~10 times a period
 * (docs/performance.md); here one pa_threaded_mainloop thread serves both streams, woken once a server request, and
 * the server's own buffer is sized for the latency mode and flushed on barge-in (pa_stream_flush), so it can be
 * larger than a device buffer without making the speaker slower to go quiet.
 *
 * CONTRACT
 *  - rta_pulse_connect makes the mainloop thread (named "rtaudiod-pulse") and connects to the server (PULSE_SERVER
 *    or the default; never autospawns), giving up after timeout_ms. Streams are opened on it, stopped (corked); all of these, and start/stop/
 *    close/flush, from one thread at a time (the engine's, under its life-cycle lock), never from a callback.
 *  - The mainloop thread calls rta_playout_fill when the server asks for audio and rta_capture_process for every
 *    fragment it sends, with the DAC delay / ADC time from the stream's timing (pa_stream_get_latency).
 *  - Barge-in: rta_pulse_flush, never rta_playout_flush on a stream's playout: the playout's flush is asked and served
 *    under the mainloop lock (the fade-out), the server's queue dropped before the fade-out is written, so the speaker
 *    is quiet after the fade and the sink's latency, and no fill sees a flush half way through a request. On a stopped
 *    stream the first fill after the start serves it.
 *  - Stopped (corked), the server's queue is dropped (its reply audio unplayed in the ledger) and the server's requests
 *    get silence, not the playout's audio; the start drops that silence before the stream runs.
 *  - A stream the server ends (sink removed, server gone) is not active any more; errors are libpulse's (negative
 *    PA_ERR_*), the text in the `err` buffer.
 */
#ifndef RTA_PULSE_H
#define RTA_PULSE_H

#include <stddef.h>
#include <stdint.h>

#include "rta_audio.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rta_pulse rta_pulse;
typedef struct rta_pulse_stream rta_pulse_stream;

typedef struct {
    const char *device;  /* a sink or source name; NULL: the server's default */
    int rate, channels;
    int frames;          /* the processor's period (its cfg->frames): the most one call handles */
    int buffer_frames;   /* playback: the server's target fill (tlength); capture: unused */
    int period_frames;   /* playback: the request size (minreq); capture: the fragment (fragsize) */
    const char *role;    /* media.role, or NULL */
    rta_playout *playout; /* one of the two */
    rta_capture *capture;
} rta_pulse_stream_config;

int rta_pulse_connect(rta_pulse **out, const char *app_name, int timeout_ms, char *err, size_t errlen);
void rta_pulse_disconnect(rta_pulse *p); /* close its streams first */
int rta_pulse_connected(rta_pulse *p);

int rta_pulse_open(rta_pulse_stream **out, rta_pulse *p, const rta_pulse_stream_config *cfg, char *err,
                   size_t errlen);
int rta_pulse_start(rta_pulse_stream *s); /* uncork */
int rta_pulse_stop(rta_pulse_stream *s);  /* cork and drop the server's queue */
void rta_pulse_close(rta_pulse_stream *s); /* frees s */
/* playback: barge-in, everything below `written` (the playout ring's writer position) discarded (see above) */
void rta_pulse_flush(rta_pulse_stream *s, uint64_t written);
int rta_pulse_active(rta_pulse_stream *s);
double rta_pulse_latency(rta_pulse_stream *s); /* seconds: the buffer the server was asked for */
uint64_t rta_pulse_xruns(rta_pulse_stream *s);
uint64_t rta_pulse_callbacks(rta_pulse_stream *s);
const char *rta_pulse_error_text(int err);

#ifdef __cplusplus
}
#endif
#endif /* RTA_PULSE_H */
