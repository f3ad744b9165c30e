/*
 * rta_pa: PortAudio streams whose callbacks are the C processors of rta_audio.h. PortAudio's own thread calls
 * them; nothing here takes the GIL or knows Python. Devices are PortAudio's indices (PyAudio lists the same ones:
 * both use the system libportaudio in one process; Pa_Initialize is reference-counted).
 *
 * CONTRACT
 *  - rta_pa_open_* create a stopped stream; start/stop/abort/close from one thread (the engine's, under its lock).
 *    rta_pa_close aborts first (Pa_StopStream would wait for every queued buffer to play).
 *  - The callbacks count any status flag PortAudio reports (underflow, overflow, priming) in `xruns`.
 *  - Errors come back as PortAudio's PaError (negative); rta_pa_error_text names them.
 */
#ifndef RTA_PA_H
#define RTA_PA_H

#include <stdint.h>

#include "rta_audio.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rta_pa_stream rta_pa_stream;

int rta_pa_initialize(void);
int rta_pa_terminate(void);
const char *rta_pa_error_text(int err);

int rta_pa_open_input(rta_pa_stream **out, int device, int rate, int channels, int frames, rta_capture *cap);
int rta_pa_open_output(rta_pa_stream **out, int device, int rate, int channels, int frames, rta_playout *play);
int rta_pa_start(rta_pa_stream *s);
int rta_pa_abort(rta_pa_stream *s);
int rta_pa_close(rta_pa_stream *s); /* frees s */
int rta_pa_active(rta_pa_stream *s);
double rta_pa_latency(rta_pa_stream *s);
uint64_t rta_pa_xruns(rta_pa_stream *s);
uint64_t rta_pa_callbacks(rta_pa_stream *s);

#ifdef __cplusplus
}
#endif
#endif /* RTA_PA_H */
