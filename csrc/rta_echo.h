/*
 * rta_echo: an acoustic echo canceller for the capture callback, at the device rate, mono int16.
 *
 * CONTRACT
 *  - One thread (the capture callback) calls rta_echo_process for every period: the microphone's samples, the
 *    reference (what the playout handed to the speaker over the same period, mono, device rate) and an output
 *    buffer of the same length. It allocates nothing, takes no lock and never waits. n must be a multiple of
 *    rta_echo_block_frames() (10 ms at the rate: the engines work on 10 ms blocks, and buffering a remainder
 *    would add a period of latency); out may be mic_in (in place).
 *  - Any thread may read the figures (rta_echo_read_figures): plain atomics, relaxed. Each figure is never torn;
 *    together they may be from neighbouring blocks.
 *  - rta_echo_create allocates everything (the delay line, the estimator's history, the engine); rta_echo_destroy
 *    frees it. Neither may run concurrently with rta_echo_process.
 *
 * ALIGNMENT
 *  The echo of a reference sample reaches the microphone a bulk delay later: the output buffer, the DAC, the air,
 *  the ADC, the input buffer (30-300 ms). Covering that with the adaptive filter would waste its taps and slow its
 *  convergence, so a delay line holds the reference back by the estimated bulk delay less a small margin, and the
 *  filter (tail_ms) only has to cover the room. The bulk delay is estimated by cross-correlating the microphone
 *  with the reference, both decimated to ~2 kHz and pre-whitened, over a leaky window of a few seconds, learning
 *  only while the reference is playing. A new estimate replaces the applied one only after it has stood still for
 *  a while (each change makes the filter re-adapt). config.delay_ms >= 0 fixes the delay instead.
 *
 * ENGINES
 *  RTA_ECHO_SPEEX  libspeexdsp's MDF frequency-domain adaptive filter (speex_echo_*) followed by the preprocessor's
 *                  residual echo suppression (speex_preprocess with SET_ECHO_STATE).
 *  RTA_ECHO_WEBRTC libwebrtc-audio-processing 0.3's AEC (the canceller PulseAudio's module-echo-cancel uses),
 *                  through a C shim (rta_echo_webrtc.cc); its non-linear processor is its residual suppression.
 *  RTA_ECHO_WEBRTC_SPEEX  both: webrtc's output, and speex run beside it on the same aligned reference, whose
 *                  output is taken while a person is heard and speex cancels well (rta_echo.c, SHADOW_TRUST_DB).
 *                  Keeps double talk on a reverberant path where webrtc's non-linear processor trims the person,
 *                  at the CPU of both (3.3x webrtc's) and the later engine's latency (10 ms at 16-48 kHz, webrtc 7-8).
 *  Chosen by measurement (benchmarks/echo_figures.py, docs/echo.md): RTA_ECHO_DEFAULT. webrtc holds against two
 *  device clocks whose drift nobody told it; speex keeps double talk better and cancels deeper on one clock, or with
 *  the drift told (rta_echo_set_drift), but falls to 13-17 dB at 50 ppm of drift it was not told, at 2.4x the CPU.
 *
 * WIRING (done: rta_echo_stage.h, the capture processor's stage in rta_audio.c; docs/echo.md, "In the capture path")
 *  - Created with the capture processor (rtaudiod/_ext/_audio.pyx, Capture(echo_engine=..., echo_ref=...)) at the
 *    device rate: rta_echo_config_default, the engine from audio.echo_engine, when rtaudiod/audio/echo.py chooses
 *    "internal" and both devices run at one rate.
 *  - The reference: the playout callback's mono block as handed to the device (channel 0 of the up-mix: after its
 *    resampler and fades; zeros when nothing plays), stamped with its DAC time, through an SPSC ring to the capture
 *    callback (rta_playout_set_reference), laid out on the DAC's timeline and read for the capture period's ADC
 *    time less a margin (rta_echo_stage.h: the devices' timestamps, not sample counts, align them).
 *  - In the capture callback, per period, on the device-rate signal: down-mix to mono, then
 *        rta_echo_process(echo, mic_mono, ref_mono, mic_mono, frames);
 *    then the wake-word tap (which so hears the cancelled signal), the resampler, gain, mute / half-duplex gating,
 *    meters and the capture ring. Before the gain so a clipping gain does not add a non-linearity to the echo path;
 *    before the gating so the filter keeps learning while the uplink is gated.
 *  - The latency modes' periods (10/20/40 ms) are whole 10 ms blocks at every rate the canceller takes; a period
 *    that is not passes through (counted).
 *  - Until `converged` (and a while after, and after a discontinuity or a reply's onset: rta_echo_stage.h) the
 *    capture holds the uplink while the speaker is audible (the half-duplex clock).
 *  - Two devices (two clocks): the stage measures their drift from the stamps and follows it by stepping the
 *    reference a sample at a time; rta_echo_set_drift is not fed (it stays 0). A device change makes a new
 *    canceller (the capture processor is made anew).
 *
 * AFTER THE ENGINE
 *  - The residual echo gate (rta_echo.c, GATE_DB): blocks of echo the engine left (the reference plays, the output
 *    10 dB or more under the microphone) are attenuated 26 dB more; a person talking passes. Blocks the echo alone
 *    explains (the microphone no louder than the aligned reference times the learnt echo path gain, EXPLAINED_GAIN)
 *    are attenuated 12 dB, unless a person was heard talking within 300 ms.
 *  - Nothing to cancel: with the reference silent for longer than the echo's delay and the filter's tail, the
 *    microphone passes untouched (the engine still runs).
 *  - status: rta_echo_read_figures from the Python side (any thread), no lock.
 */
#ifndef RTA_ECHO_H
#define RTA_ECHO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rta_echo rta_echo;

typedef enum {
    RTA_ECHO_SPEEX = 0,
    RTA_ECHO_WEBRTC = 1,
    RTA_ECHO_WEBRTC_SPEEX = 2, /* webrtc, and speex as a shadow whose output is taken while a person is heard */
} rta_echo_engine;

#define RTA_ECHO_DEFAULT RTA_ECHO_WEBRTC

typedef enum {
    RTA_ECHO_OK = 0,
    RTA_ECHO_EINVAL = -1,  /* a bad rate, length or block multiple */
    RTA_ECHO_ENOMEM = -2,
    RTA_ECHO_EENGINE = -3, /* the engine refused its configuration */
} rta_echo_status;

typedef struct {
    rta_echo_engine engine;
    int rate;             /* device rate, 8000..48000 Hz */
    int tail_ms;          /* the room the adaptive filter covers after the bulk delay (speex; webrtc's is fixed) */
    int max_delay_ms;     /* longest bulk delay searched and held in the delay line */
    int delay_ms;         /* < 0: estimate the bulk delay; >= 0: use this one */
    int suppress;         /* speex: the preprocessor's residual echo suppression after the filter, 1 on, 0 off;
                             webrtc: its non-linear processor is always on, at its lowest level */
} rta_echo_config;

/* Defaults for a loudspeaker at `rate`: the default engine, 128 ms tail, 500 ms delay search, suppression on. */
void rta_echo_config_default(rta_echo_config *config, int rate);

rta_echo *rta_echo_create(const rta_echo_config *config, rta_echo_status *status);
void rta_echo_destroy(rta_echo *echo);

/* Frames of one engine block (10 ms at the rate). */
size_t rta_echo_block_frames(const rta_echo *echo);

/* One period: n frames of mic_in and ref_in, n frames into out (may be mic_in). */
rta_echo_status rta_echo_process(rta_echo *echo, const int16_t *mic_in, const int16_t *ref_in, int16_t *out,
                                 size_t n);

/* Two device clocks: the echo's delay grows by `ppm` microseconds a second (the microphone's clock against the
 * speaker's, as the capture callback measures it from the devices' sample counts and timestamps; negative when it
 * shrinks). The reference is then read from the delay line at a sliding, fractional position (cubic interpolation),
 * so the adaptive filter sees a still room. 0 (the default) for one card. Same thread as process. */
void rta_echo_set_drift(rta_echo *echo, double ppm);

/* Forget the room and the delay (a device change): the next blocks learn again. Same thread as process. */
void rta_echo_reset(rta_echo *echo);

/* Live figures, readable from any thread. */
typedef struct {
    float erle_db;        /* mean of 10 log10(mic power / output power) over the last ~1 s of blocks where the
                             (aligned) reference plays, each block clipped to [-10, 60] dB */
    float delay_ms;       /* the bulk delay applied to the reference (estimated, or fixed) */
    int delay_locked;     /* the estimator found a confident delay (always 1 with a fixed delay) */
    int converged;        /* erle_db reached RTA_ECHO_CONVERGED_DB with the delay locked; stays set through double
                             talk, cleared by a reset or a new delay */
    uint64_t blocks;      /* blocks processed */
    uint64_t echo_blocks; /* ...of which the reference was playing */
} rta_echo_figures;

#define RTA_ECHO_CONVERGED_DB 10.0f

void rta_echo_read_figures(const rta_echo *echo, rta_echo_figures *figures);

const char *rta_echo_engine_name(rta_echo_engine engine);

#ifdef __cplusplus
}
#endif
#endif /* RTA_ECHO_H */
