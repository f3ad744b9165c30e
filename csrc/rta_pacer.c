/* rta_pacer: see rta_pacer.h. The twin is rtaudiod/audio/filebackend.py's _PacedStream. */
#define _GNU_SOURCE /* pthread_setname_np */
#include "rta_pacer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct rta_pacer {
    rta_pacer_config cfg;
    pthread_t thread;
    int16_t *buf;
    size_t pos; /* input frames delivered */
    int64_t period_ns;
    int64_t clock_ns; /* the file device's clock: the start plus a period per tick, late ticks or not */
    _Atomic int stop, active, finished, last_errno;
    _Atomic uint64_t out_bytes, errors;
};

static void le32(unsigned char *b, uint32_t v) {
    b[0] = v & 0xff, b[1] = (v >> 8) & 0xff, b[2] = (v >> 16) & 0xff, b[3] = v >> 24;
}

/* One output period: fill, write, fix the header's sizes. Returns 1 to wait a period before the next. The echo
 * canceller's reference is stamped on the file's clock (its first frame "leaves the DAC" at clock_ns): a file loses
 * no frames when a tick is late, so its clock counts frames, not the deadlines a late tick skips. */
static int tick_output(rta_pacer *p) {
    size_t n = (size_t)p->cfg.frames * p->cfg.channels;
    int audio = rta_playout_fill_stamped(p->cfg.playout, p->buf, (size_t)p->cfg.frames, rta_now_ns(), -1,
                                         p->clock_ns);
    if (p->cfg.out_fd >= 0) {
        ssize_t w = write(p->cfg.out_fd, p->buf, n * 2);
        if (w > 0) {
            uint64_t total = atomic_load(&p->out_bytes) + (uint64_t)w;
            atomic_store(&p->out_bytes, total);
            unsigned char riff[4], data[4];
            le32(riff, (uint32_t)(36 + total));
            le32(data, (uint32_t)total);
            if (pwrite(p->cfg.out_fd, riff, 4, 4) != 4 || pwrite(p->cfg.out_fd, data, 4, 40) != 4)
                w = -1;
        }
        if (w != (ssize_t)(n * 2)) {
            atomic_fetch_add(&p->errors, 1);
            atomic_store(&p->last_errno, errno);
        }
    }
    return !audio;
}

/* One input period. Returns 1 to wait a period, 0 to go on at once, -1 to end (fast mode, end of file). Its frames
 * were "sampled" over the period before clock_ns, on the file's clock (tick_output). */
static int tick_input(rta_pacer *p) {
    size_t frames = (size_t)p->cfg.frames, ch = (size_t)p->cfg.channels;
    int64_t adc = p->clock_ns - p->period_ns;
    if (p->cfg.input == NULL) {
        memset(p->buf, 0, frames * ch * 2);
        rta_capture_process(p->cfg.capture, p->buf, frames, rta_now_ns(), adc);
        return 1;
    }
    size_t left = p->cfg.input_frames - p->pos, take = left < frames ? left : frames;
    int short_read = take < frames;
    if (short_read && !p->cfg.realtime && take == 0) {
        atomic_store(&p->finished, 1);
        return -1;
    }
    memcpy(p->buf, p->cfg.input + p->pos * ch, take * ch * 2);
    memset(p->buf + take * ch, 0, (frames - take) * ch * 2); /* pad the last frame (silence after the end) */
    p->pos += take;
    rta_capture_process(p->cfg.capture, p->buf, frames, rta_now_ns(), adc);
    if (short_read) /* only now: a reader told `finished` finds the last frame delivered */
        atomic_store(&p->finished, 1);
    return p->cfg.realtime;
}

/* A late tick is caught up at once, the next ones back to back until the deadlines are in the future again, as a
 * sound card's clock runs on while its callback is late: a pacer that skipped the ticks it missed fell behind the
 * wall clock, and so behind the other stream's pacer (on a loaded machine the playout's reference reached the echo
 * canceller after its echo, read as silence). Only a pacer this far behind starts again from now. */
#define CATCH_UP_NS 1000000000LL

static void add_ns(struct timespec *t, int64_t ns) {
    t->tv_nsec += ns;
    while (t->tv_nsec >= 1000000000) {
        t->tv_nsec -= 1000000000;
        t->tv_sec++;
    }
}

static int64_t ts_ns(const struct timespec *t) { return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec; }

static void *run(void *arg) {
    rta_pacer *p = arg;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    p->clock_ns = ts_ns(&deadline);
    while (!atomic_load_explicit(&p->stop, memory_order_acquire)) {
        int paced = p->cfg.playout ? tick_output(p) : tick_input(p);
        p->clock_ns += p->period_ns;
        if (paced < 0)
            break;
        if (p->cfg.realtime || paced) {
            add_ns(&deadline, p->period_ns);
            int64_t now = rta_now_ns();
            if (ts_ns(&deadline) > now) {
                while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) == EINTR)
                    ;
            } else if (ts_ns(&deadline) < now - CATCH_UP_NS) { /* stopped for long (a suspend): start again */
                int64_t d = now;
                deadline.tv_sec = d / 1000000000;
                deadline.tv_nsec = d % 1000000000;
            }
        } else {
            clock_gettime(CLOCK_MONOTONIC, &deadline);
        }
    }
    atomic_store(&p->active, 0);
    return NULL;
}

rta_pacer *rta_pacer_start(const rta_pacer_config *cfg, rta_audio_status *status) {
    *status = RTA_AUDIO_EINVAL;
    if (cfg->rate <= 0 || cfg->channels < 1 || cfg->frames < 1 || (cfg->capture == NULL) == (cfg->playout == NULL))
        return NULL;
    *status = RTA_AUDIO_ENOMEM;
    rta_pacer *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->cfg = *cfg;
    p->period_ns = (int64_t)cfg->frames * 1000000000 / cfg->rate;
    p->buf = calloc((size_t)cfg->frames * cfg->channels, sizeof(int16_t));
    atomic_store(&p->out_bytes, cfg->out_data_bytes);
    atomic_store(&p->active, 1);
    if (!p->buf || pthread_create(&p->thread, NULL, run, p) != 0) {
        free(p->buf);
        free(p);
        return NULL;
    }
    pthread_setname_np(p->thread, "rtaudiod-pacer"); /* /proc/PID/task/TID/comm, named before start returns */
    *status = RTA_AUDIO_OK;
    return p;
}

void rta_pacer_stop(rta_pacer *p) {
    if (!p)
        return;
    atomic_store_explicit(&p->stop, 1, memory_order_release);
    pthread_join(p->thread, NULL);
    free(p->buf);
    free(p);
}

int rta_pacer_active(rta_pacer *p) { return atomic_load(&p->active); }
int rta_pacer_finished(rta_pacer *p) { return atomic_load(&p->finished); }
uint64_t rta_pacer_out_bytes(rta_pacer *p) { return atomic_load(&p->out_bytes); }
uint64_t rta_pacer_errors(rta_pacer *p) { return atomic_load(&p->errors); }
int rta_pacer_last_errno(rta_pacer *p) { return atomic_load(&p->last_errno); }
