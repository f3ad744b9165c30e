/* rta_pulse: see rta_pulse.h. */
#include "rta_pulse.h"

#include <pulse/pulseaudio.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rta_pulse {
    pa_threaded_mainloop *loop;
    pa_context *ctx;
};

struct rta_pulse_stream {
    rta_pulse *p;
    pa_stream *st;
    rta_playout *play;
    rta_capture *cap;
    int rate, channels, frames;
    double latency;
    int16_t *buf; /* one period: the fill's output, or silence for a hole in the capture */
    int16_t *part; /* capture: the start of a period the server's fragments have not completed yet */
    size_t part_frames;
    int64_t part_adc;
    _Atomic int failed;
    _Atomic uint64_t xruns, callbacks;
};

const char *rta_pulse_error_text(int err) { return pa_strerror(err < 0 ? -err : err); }

static void say(char *err, size_t errlen, const char *what, int code) {
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s: %s", what, pa_strerror(code));
}

static void context_state(pa_context *c, void *u) {
    (void)c;
    pa_threaded_mainloop_signal(((rta_pulse *)u)->loop, 0);
}

int rta_pulse_connect(rta_pulse **out, const char *app_name, char *err, size_t errlen) {
    rta_pulse *p = calloc(1, sizeof *p);
    if (p == NULL)
        return -PA_ERR_INTERNAL;
    int code = 0;
    p->loop = pa_threaded_mainloop_new();
    if (p->loop == NULL) {
        free(p);
        say(err, errlen, "pa_threaded_mainloop_new", PA_ERR_INTERNAL);
        return -PA_ERR_INTERNAL;
    }
    pa_threaded_mainloop_set_name(p->loop, "rtaudiod-pulse"); /* the wake-ups probe counts it as the C path */
    p->ctx = pa_context_new(pa_threaded_mainloop_get_api(p->loop), app_name);
    if (p->ctx == NULL) {
        pa_threaded_mainloop_free(p->loop);
        free(p);
        say(err, errlen, "pa_context_new", PA_ERR_INTERNAL);
        return -PA_ERR_INTERNAL;
    }
    pa_context_set_state_callback(p->ctx, context_state, p);
    pa_threaded_mainloop_lock(p->loop);
    if (pa_threaded_mainloop_start(p->loop) < 0 || pa_context_connect(p->ctx, NULL, PA_CONTEXT_NOAUTOSPAWN, NULL) < 0) {
        code = pa_context_errno(p->ctx) ? pa_context_errno(p->ctx) : PA_ERR_INTERNAL;
    } else {
        for (;;) {
            pa_context_state_t state = pa_context_get_state(p->ctx);
            if (state == PA_CONTEXT_READY)
                break;
            if (!PA_CONTEXT_IS_GOOD(state)) {
                code = pa_context_errno(p->ctx) ? pa_context_errno(p->ctx) : PA_ERR_CONNECTIONREFUSED;
                break;
            }
            pa_threaded_mainloop_wait(p->loop);
        }
    }
    pa_threaded_mainloop_unlock(p->loop);
    if (code) {
        say(err, errlen, "cannot connect to the sound server", code);
        rta_pulse_disconnect(p);
        return -code;
    }
    *out = p;
    return 0;
}

void rta_pulse_disconnect(rta_pulse *p) {
    pa_threaded_mainloop_lock(p->loop);
    pa_context_disconnect(p->ctx);
    pa_threaded_mainloop_unlock(p->loop);
    pa_threaded_mainloop_stop(p->loop);
    pa_context_unref(p->ctx);
    pa_threaded_mainloop_free(p->loop);
    free(p);
}

int rta_pulse_connected(rta_pulse *p) {
    pa_threaded_mainloop_lock(p->loop);
    int good = pa_context_get_state(p->ctx) == PA_CONTEXT_READY;
    pa_threaded_mainloop_unlock(p->loop);
    return good;
}

/* ---- the callbacks (the mainloop thread, its lock held) -------------------------------------------------------- */

static void seen(rta_pulse_stream *s) { atomic_fetch_add_explicit(&s->callbacks, 1, memory_order_relaxed); }

/* How long until the next frame written is heard (playback), or since the next frame read was sampled (capture);
 * -1 before the server's first timing report. */
static int64_t stream_latency_ns(pa_stream *st) {
    pa_usec_t usec;
    int negative = 0;
    if (pa_stream_get_latency(st, &usec, &negative) < 0)
        return -1;
    return negative ? 0 : (int64_t)usec * 1000;
}

/* What a flush drops: the stream's queue in the server, the latency less what the sink has already taken. */
static int64_t queued_ns(pa_stream *st) {
    int64_t latency = stream_latency_ns(st);
    const pa_timing_info *ti = pa_stream_get_timing_info(st);
    if (latency < 0 || ti == NULL)
        return 0;
    int64_t sink = (int64_t)ti->sink_usec * 1000;
    return latency > sink ? latency - sink : 0;
}

/* Hand the server `frames` frames of the playout, one pa_stream_write a request (each write is a message to the
 * server), filled a period at a time in libpulse's own buffer. A flush the fill serves (barge-in) first drops what the
 * server still queues, so the fade-out that follows is the next thing heard. */
static void play(rta_pulse_stream *s, size_t frames) {
    int64_t now = rta_now_ns(), delay = stream_latency_ns(s->st);
    size_t frame_bytes = (size_t)s->channels * 2;
    while (frames > 0) {
        void *data = NULL;
        size_t bytes = frames * frame_bytes;
        if (pa_stream_begin_write(s->st, &data, &bytes) < 0 || data == NULL || bytes < frame_bytes) {
            if (data != NULL) /* less than a frame of libpulse's buffer: give it back before writing ours */
                pa_stream_cancel_write(s->st);
            data = s->buf, bytes = (size_t)s->frames * frame_bytes; /* one period in ours */
        }
        size_t count = bytes / frame_bytes < frames ? bytes / frame_bytes : frames;
        for (size_t done = 0; done < count;) {
            size_t n = count - done < (size_t)s->frames ? count - done : (size_t)s->frames;
            if (rta_playout_flush_pending(s->play)) { /* this fill serves it */
                int64_t queued = queued_ns(s->st);
                rta_playout_unhand(s->play, queued);
                pa_operation *op = pa_stream_flush(s->st, NULL, NULL); /* sent before this write: drops the queue */
                if (op != NULL)
                    pa_operation_unref(op);
                if (delay >= 0) /* next after what the sink has already taken; unknown (-1) stays unknown */
                    delay = delay > queued ? delay - queued : 0;
            }
            rta_playout_fill(s->play, (int16_t *)data + done * s->channels, n, now, delay);
            if (delay >= 0)
                delay += (int64_t)n * 1000000000 / s->rate;
            done += n;
        }
        pa_stream_write(s->st, data, count * frame_bytes, NULL, 0, PA_SEEK_RELATIVE);
        frames -= count;
    }
}

static void write_cb(pa_stream *st, size_t nbytes, void *u) {
    (void)st;
    rta_pulse_stream *s = u;
    seen(s);
    play(s, nbytes / ((size_t)s->channels * 2));
}

/* Hand the capture callback whole periods: the server's fragments come in any length, and the echo canceller takes
 * whole 10 ms blocks only (a period's remainder passed through it uncancelled, counted in `bypassed`: on the
 * loudspeaker bench every period did, and the uplink was held for good). x NULL: a hole, silence. */
static void capture(rta_pulse_stream *s, const int16_t *x, size_t frames, int64_t now, int64_t adc) {
    size_t ch = (size_t)s->channels, period = (size_t)s->frames;
    for (size_t done = 0; done < frames;) {
        int64_t at = adc + (int64_t)done * 1000000000 / s->rate;
        if (s->part_frames == 0 && frames - done >= period) {
            rta_capture_process(s->cap, x != NULL ? x + done * ch : s->buf, period, now, at);
            done += period;
            continue;
        }
        if (s->part_frames == 0)
            s->part_adc = at;
        size_t n = period - s->part_frames < frames - done ? period - s->part_frames : frames - done;
        if (x != NULL)
            memcpy(s->part + s->part_frames * ch, x + done * ch, n * ch * sizeof(int16_t));
        else
            memset(s->part + s->part_frames * ch, 0, n * ch * sizeof(int16_t));
        s->part_frames += n;
        done += n;
        if (s->part_frames == period) {
            rta_capture_process(s->cap, s->part, period, now, s->part_adc);
            s->part_frames = 0;
        }
    }
}

static void read_cb(pa_stream *st, size_t nbytes, void *u) {
    (void)nbytes;
    rta_pulse_stream *s = u;
    seen(s);
    size_t frame_bytes = (size_t)s->channels * 2;
    const void *data;
    size_t len;
    while (pa_stream_readable_size(st) > 0 && pa_stream_peek(st, &data, &len) == 0 && len > 0) {
        int64_t now = rta_now_ns(), age = stream_latency_ns(st);
        size_t frames = len / frame_bytes;
        /* The ADC clock: the fragment's first frame was sampled `age` ago (unknown yet: as long ago as it lasts). */
        int64_t adc = now - (age >= 0 ? age : (int64_t)frames * 1000000000 / s->rate);
        if (data == NULL) /* a hole in the server's stream: silence keeps the capture's clock */
            atomic_fetch_add_explicit(&s->xruns, 1, memory_order_relaxed);
        capture(s, data, frames, now, adc);
        pa_stream_drop(st);
    }
}

static void xrun_cb(pa_stream *st, void *u) {
    (void)st;
    atomic_fetch_add_explicit(&((rta_pulse_stream *)u)->xruns, 1, memory_order_relaxed);
}

static void stream_state(pa_stream *st, void *u) {
    rta_pulse_stream *s = u;
    if (!PA_STREAM_IS_GOOD(pa_stream_get_state(st)))
        atomic_store_explicit(&s->failed, 1, memory_order_relaxed);
    pa_threaded_mainloop_signal(s->p->loop, 0);
}

static void op_done(pa_stream *st, int success, void *u) {
    (void)st, (void)success;
    pa_threaded_mainloop_signal(((rta_pulse_stream *)u)->p->loop, 0);
}

/* ---- life cycle (the engine's thread) ------------------------------------------------------------------------- */

static int wait_ready(rta_pulse_stream *s) {
    for (;;) {
        pa_stream_state_t state = pa_stream_get_state(s->st);
        if (state == PA_STREAM_READY)
            return 0;
        if (!PA_STREAM_IS_GOOD(state)) {
            int code = pa_context_errno(s->p->ctx);
            return code ? code : PA_ERR_NOENTITY;
        }
        pa_threaded_mainloop_wait(s->p->loop);
    }
}

static void wait_op(rta_pulse_stream *s, pa_operation *op) {
    if (op == NULL)
        return;
    while (pa_operation_get_state(op) == PA_OPERATION_RUNNING && !atomic_load(&s->failed))
        pa_threaded_mainloop_wait(s->p->loop);
    pa_operation_unref(op);
}

int rta_pulse_open(rta_pulse_stream **out, rta_pulse *p, const rta_pulse_stream_config *cfg, char *err,
                   size_t errlen) {
    int output = cfg->playout != NULL;
    pa_sample_spec spec = {.format = PA_SAMPLE_S16LE, .rate = (uint32_t)cfg->rate, .channels = (uint8_t)cfg->channels};
    if (cfg->channels < 1 || cfg->channels > PA_CHANNELS_MAX || !pa_sample_spec_valid(&spec) || cfg->frames <= 0 || (cfg->playout == NULL) == (cfg->capture == NULL)) {
        say(err, errlen, "invalid stream settings", PA_ERR_INVALID);
        return -PA_ERR_INVALID;
    }
    rta_pulse_stream *s = calloc(1, sizeof *s);
    if (s == NULL || (s->buf = calloc((size_t)cfg->frames * cfg->channels, sizeof(int16_t))) == NULL ||
        (s->part = calloc((size_t)cfg->frames * cfg->channels, sizeof(int16_t))) == NULL) {
        if (s != NULL)
            free(s->buf);
        free(s);
        return -PA_ERR_INTERNAL;
    }
    s->p = p, s->play = cfg->playout, s->cap = cfg->capture;
    s->rate = cfg->rate, s->channels = cfg->channels, s->frames = cfg->frames;
    size_t frame_bytes = (size_t)cfg->channels * 2;
    pa_buffer_attr attr = {.maxlength = (uint32_t)-1, .tlength = (uint32_t)-1, .prebuf = (uint32_t)-1,
                           .minreq = (uint32_t)-1, .fragsize = (uint32_t)-1};
    if (output) {
        attr.tlength = (uint32_t)(cfg->buffer_frames * frame_bytes);
        attr.minreq = (uint32_t)(cfg->period_frames * frame_bytes);
        /* prebuf: the server's default. An underrun (this thread late, under heavy load) loses audio with it as
         * with 0 (measured: 13 ms of 1 s at load average 8-11 with a 60 ms buffer): the buffer is what prevents it. */
    } else {
        attr.fragsize = (uint32_t)(cfg->period_frames * frame_bytes);
    }
    s->latency = (double)(output ? cfg->buffer_frames : cfg->period_frames) / cfg->rate;
    pa_proplist *props = pa_proplist_new();
    pa_proplist_sets(props, PA_PROP_MEDIA_NAME, output ? "rtaudiod playout" : "rtaudiod capture");
    if (output && cfg->role != NULL)
        pa_proplist_sets(props, PA_PROP_MEDIA_ROLE, cfg->role);
    pa_stream_flags_t flags = PA_STREAM_START_CORKED | PA_STREAM_INTERPOLATE_TIMING | PA_STREAM_AUTO_TIMING_UPDATE |
                              PA_STREAM_ADJUST_LATENCY;
    pa_threaded_mainloop_lock(p->loop);
    int code = 0;
    s->st = pa_stream_new_with_proplist(p->ctx, output ? "playout" : "capture", &spec, NULL, props);
    if (s->st == NULL) {
        code = pa_context_errno(p->ctx);
    } else {
        pa_stream_set_state_callback(s->st, stream_state, s);
        if (output) {
            pa_stream_set_write_callback(s->st, write_cb, s);
            pa_stream_set_underflow_callback(s->st, xrun_cb, s);
        } else {
            pa_stream_set_read_callback(s->st, read_cb, s);
            pa_stream_set_overflow_callback(s->st, xrun_cb, s);
        }
        int r = output ? pa_stream_connect_playback(s->st, cfg->device, &attr, flags, NULL, NULL)
                       : pa_stream_connect_record(s->st, cfg->device, &attr, flags);
        code = r < 0 ? pa_context_errno(p->ctx) : wait_ready(s);
    }
    pa_threaded_mainloop_unlock(p->loop);
    pa_proplist_free(props);
    if (code) {
        say(err, errlen, output ? "cannot open the playback stream" : "cannot open the capture stream", code);
        rta_pulse_close(s);
        return -code;
    }
    *out = s;
    return 0;
}

static int cork(rta_pulse_stream *s, int corked) {
    pa_threaded_mainloop_lock(s->p->loop);
    if (corked && s->play != NULL) /* stopped: what the server queues is thrown away, not waited for */
        wait_op(s, pa_stream_flush(s->st, op_done, s));
    wait_op(s, pa_stream_cork(s->st, corked, op_done, s));
    s->part_frames = 0; /* under the lock: the read callback runs with it held; a new start has a new clock */
    int failed = atomic_load(&s->failed);
    pa_threaded_mainloop_unlock(s->p->loop);
    return failed ? -PA_ERR_KILLED : 0;
}

int rta_pulse_start(rta_pulse_stream *s) { return cork(s, 0); }
int rta_pulse_stop(rta_pulse_stream *s) { return cork(s, 1); }

void rta_pulse_close(rta_pulse_stream *s) {
    if (s->st != NULL) {
        pa_threaded_mainloop_lock(s->p->loop);
        pa_stream_set_write_callback(s->st, NULL, NULL);
        pa_stream_set_read_callback(s->st, NULL, NULL);
        pa_stream_set_state_callback(s->st, NULL, NULL);
        pa_stream_set_underflow_callback(s->st, NULL, NULL);
        pa_stream_set_overflow_callback(s->st, NULL, NULL);
        if (pa_stream_get_state(s->st) == PA_STREAM_READY)
            pa_stream_disconnect(s->st);
        pa_stream_unref(s->st);
        pa_threaded_mainloop_unlock(s->p->loop);
    }
    free(s->buf);
    free(s->part);
    free(s);
}

void rta_pulse_kick(rta_pulse_stream *s) {
    if (s->play == NULL)
        return;
    pa_threaded_mainloop_lock(s->p->loop); /* the write callback cannot run meanwhile: one filler at a time */
    if (!atomic_load(&s->failed) && rta_playout_flush_pending(s->play))
        play(s, (size_t)s->frames);
    pa_threaded_mainloop_unlock(s->p->loop);
}

int rta_pulse_active(rta_pulse_stream *s) {
    pa_threaded_mainloop_lock(s->p->loop);
    int active = !atomic_load(&s->failed) && pa_stream_get_state(s->st) == PA_STREAM_READY &&
                 pa_stream_is_corked(s->st) == 0;
    pa_threaded_mainloop_unlock(s->p->loop);
    return active;
}

double rta_pulse_latency(rta_pulse_stream *s) { return s->latency; }
uint64_t rta_pulse_xruns(rta_pulse_stream *s) { return atomic_load_explicit(&s->xruns, memory_order_relaxed); }
uint64_t rta_pulse_callbacks(rta_pulse_stream *s) {
    return atomic_load_explicit(&s->callbacks, memory_order_relaxed);
}
