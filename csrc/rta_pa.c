/* rta_pa: see rta_pa.h. */
#define _GNU_SOURCE /* pthread_setname_np */
#include "rta_pa.h"

#include <portaudio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct rta_pa_stream {
    PaStream *pa;
    rta_capture *cap;
    rta_playout *play;
    int output, frames, channels, rate;
    _Atomic uint64_t xruns, callbacks;
};

int rta_pa_initialize(void) { return Pa_Initialize(); }
int rta_pa_terminate(void) { return Pa_Terminate(); }
const char *rta_pa_error_text(int err) { return Pa_GetErrorText(err); }

static void seen(rta_pa_stream *s, PaStreamCallbackFlags flags) {
    /* Once: name PortAudio's thread, so /proc/PID/task/TID/comm tells it from the Python threads in probes. */
    if (atomic_fetch_add_explicit(&s->callbacks, 1, memory_order_relaxed) == 0)
        pthread_setname_np(pthread_self(), s->output ? "rtaudiod-pa-out" : "rtaudiod-pa-in");
    if (flags)
        atomic_fetch_add_explicit(&s->xruns, 1, memory_order_relaxed);
}

static int input_cb(const void *in, void *out, unsigned long frames, const PaStreamCallbackTimeInfo *ti,
                    PaStreamCallbackFlags flags, void *user) {
    rta_pa_stream *s = user;
    seen(s, flags);
    const int16_t *x = in;
    int64_t now = rta_now_ns();
    /* The ADC clock: when this buffer's first frame was sampled, against the stream's time now (unknown: a period
     * ago). The echo canceller lines the speaker's reference up by it. */
    int64_t adc = now - (int64_t)frames * 1000000000 / s->rate;
    if (ti != NULL && ti->inputBufferAdcTime > 0 && ti->inputBufferAdcTime <= ti->currentTime)
        adc = now - (int64_t)((ti->currentTime - ti->inputBufferAdcTime) * 1e9);
    for (unsigned long done = 0; x != NULL && done < frames;) { /* PortAudio keeps to framesPerBuffer: one pass */
        unsigned long n = frames - done < (unsigned long)s->frames ? frames - done : (unsigned long)s->frames;
        rta_capture_process(s->cap, x + done * s->channels, n, now, adc + (int64_t)done * 1000000000 / s->rate);
        done += n;
    }
    return paContinue;
}

static int output_cb(const void *in, void *out, unsigned long frames, const PaStreamCallbackTimeInfo *ti,
                     PaStreamCallbackFlags flags, void *user) {
    rta_pa_stream *s = user;
    seen(s, flags);
    int64_t now = rta_now_ns(), delay = -1;
    /* The DAC clock: when this buffer's first frame will be heard, against the stream's time now. */
    if (ti != NULL && ti->outputBufferDacTime > 0 && ti->outputBufferDacTime >= ti->currentTime)
        delay = (int64_t)((ti->outputBufferDacTime - ti->currentTime) * 1e9);
    int16_t *y = out;
    for (unsigned long done = 0; done < frames;) {
        unsigned long n = frames - done < (unsigned long)s->frames ? frames - done : (unsigned long)s->frames;
        rta_playout_fill(s->play, y + done * s->channels, n, now, delay);
        done += n;
    }
    return paContinue;
}

static int open_stream(rta_pa_stream **out, int device, int rate, int channels, int frames, int output,
                       rta_capture *cap, rta_playout *play) {
    const PaDeviceInfo *info = Pa_GetDeviceInfo(device);
    if (info == NULL)
        return paInvalidDevice;
    rta_pa_stream *s = calloc(1, sizeof *s);
    if (s == NULL)
        return paInsufficientMemory;
    s->cap = cap, s->play = play, s->output = output, s->frames = frames, s->channels = channels;
    s->rate = rate;
    PaStreamParameters params = {
        .device = device,
        .channelCount = channels,
        .sampleFormat = paInt16,
        /* PyAudio's choice, so both backends ask the device for the same buffering. */
        .suggestedLatency = output ? info->defaultLowOutputLatency : info->defaultLowInputLatency,
        .hostApiSpecificStreamInfo = NULL,
    };
    int err = Pa_OpenStream(&s->pa, output ? NULL : &params, output ? &params : NULL, rate, (unsigned long)frames,
                            paClipOff, output ? output_cb : input_cb, s);
    if (err != paNoError) {
        free(s);
        return err;
    }
    *out = s;
    return paNoError;
}

int rta_pa_open_input(rta_pa_stream **out, int device, int rate, int channels, int frames, rta_capture *cap) {
    return open_stream(out, device, rate, channels, frames, 0, cap, NULL);
}

int rta_pa_open_output(rta_pa_stream **out, int device, int rate, int channels, int frames, rta_playout *play) {
    return open_stream(out, device, rate, channels, frames, 1, NULL, play);
}

int rta_pa_start(rta_pa_stream *s) { return Pa_StartStream(s->pa); }

int rta_pa_abort(rta_pa_stream *s) { return Pa_IsStreamStopped(s->pa) == 0 ? Pa_AbortStream(s->pa) : paNoError; }

int rta_pa_close(rta_pa_stream *s) {
    rta_pa_abort(s); /* a device that fails to stop (unplugged) must still be closed */
    int err = Pa_CloseStream(s->pa);
    free(s);
    return err;
}

int rta_pa_active(rta_pa_stream *s) { return Pa_IsStreamActive(s->pa) == 1; }

double rta_pa_latency(rta_pa_stream *s) {
    const PaStreamInfo *info = Pa_GetStreamInfo(s->pa);
    return info == NULL ? 0.0 : s->output ? info->outputLatency : info->inputLatency;
}

uint64_t rta_pa_xruns(rta_pa_stream *s) { return atomic_load_explicit(&s->xruns, memory_order_relaxed); }
uint64_t rta_pa_callbacks(rta_pa_stream *s) { return atomic_load_explicit(&s->callbacks, memory_order_relaxed); }
