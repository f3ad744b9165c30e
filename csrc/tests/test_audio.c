/*
 * C-level tests of the real-time audio path (rta_audio.c, rta_pacer.c), built and run by tests/test_csrc.py (plain
 * and under -fsanitize=address,undefined) and by `make -C csrc/tests run`. Deterministic: the test is the device,
 * calling the processors period by period; the pacer runs in its fast mode. Prints "N passed, N failed".
 */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rta_audio.h"
#include "rta_pacer.h"
#include "rta_ring.h"

#include "check.h"

static unsigned char ring_buf[1 << 20], tap_buf[1 << 16];

static rta_ring *new_ring(unsigned char *buf, size_t size) {
    rta_ring_status st;
    return rta_ring_create(buf, size, &st);
}

static rta_playout_config playout_config(int device_rate, int channels) {
    rta_playout_config cfg = {.session_rate = 24000, .device_rate = device_rate, .channels = channels,
                              .frames = device_rate / 100, .quality = 1, .fade_ms = 2.5f, .prebuffer_ms = 40,
                              .max_prebuffer_ms = 80, .raise_ms = 20, .lower_ms = 10, .relax_ms = 1000};
    return cfg;
}

/* Equal rates: after the 40 ms start target the device gets the ring's samples untouched; the ledger hands them. */
static void test_playout_passthrough_and_ledger(void) {
    rta_ring *ring = new_ring(ring_buf, sizeof ring_buf);
    rta_ledger *led = rta_ledger_create();
    rta_audio_status st;
    rta_playout_config cfg = playout_config(24000, 1);
    rta_playout *p = rta_playout_create(&cfg, ring, led, NULL, &st);
    CHECK(p != NULL && st == RTA_AUDIO_OK);
    static int16_t pcm[4800], out[240 * 40];
    for (int i = 0; i < 4800; i++)
        pcm[i] = (int16_t)((i % 200) * 100 - 10000) | 1; /* never zero: the output's first sound is pcm[0] */
    pcm[0] = 0;                                            /* a quiet edge: no fade-in */
    rta_ledger_mark(led, 0);
    rta_ring_write(ring, pcm, sizeof pcm);
    rta_ledger_set_end_mark(led, sizeof pcm);
    int audio = 0;
    for (int k = 0; k < 40; k++)
        audio |= rta_playout_fill(p, out + 240 * k, 240, rta_now_ns(), -1);
    CHECK(audio);
    int first = 0;
    while (first < 240 * 40 && out[first] == 0)
        first++;
    CHECK(first == 1 && memcmp(out, pcm, sizeof pcm) == 0); /* it started at once: 200 ms > the target */
    CHECK(rta_ledger_handed(led) == sizeof pcm && rta_ledger_played_total(led) == sizeof pcm);
    rta_playout_stats ps;
    rta_playout_stats_get(p, &ps);
    CHECK(ps.underruns == 0 && ps.drained == 1 && ps.target_ms == 40 && ps.callbacks == 40);
    rta_stamp stamp;
    CHECK(rta_ledger_drain_stamps(led, &stamp, 1) == 1 && stamp.start == 0);
    /* Three starved 60 ms bursts: each underrun raises the target 20 ms, up to the 80 ms bound (the third burst is
     * under the target and starts once it has waited that long: the start timer). */
    for (int i = 0; i < 3; i++) {
        rta_ring_write(ring, pcm, 1440 * 2); /* 60 ms, more than the 40 ms target, then dry mid-item */
        for (int k = 0; k < 20; k++)
            rta_playout_fill(p, out, 240, rta_now_ns(), -1);
    }
    rta_playout_stats_get(p, &ps);
    CHECK(ps.underruns == 3 && ps.raises == 2 && ps.target_ms == 80);
    rta_playout_destroy(p);
    rta_ledger_destroy(led);
    rta_ring_destroy(ring);
}

/* Barge-in: the next period ramps down over the fade (60 samples at 24 kHz) and is silent after it; the queue is
 * skipped up to the flush's target, audio written after it stays; the skip crosses to Python as a range. */
static void test_playout_flush(void) {
    rta_ring *ring = new_ring(ring_buf, sizeof ring_buf);
    rta_ledger *led = rta_ledger_create();
    rta_audio_status st;
    rta_playout_config cfg = playout_config(48000, 2);
    rta_playout *p = rta_playout_create(&cfg, ring, led, NULL, &st);
    static int16_t pcm[24000], out[480 * 2];
    for (int i = 0; i < 24000; i++)
        pcm[i] = 12000;
    rta_ring_write(ring, pcm, sizeof pcm);
    for (int k = 0; k < 20; k++)
        rta_playout_fill(p, out, 480, rta_now_ns(), -1);
    CHECK(out[0] != 0 && out[1] == out[0]); /* playing, up-mixed */
    rta_playout_flush(p, sizeof pcm);
    CHECK(rta_playout_flush_pending(p));
    rta_ring_write(ring, pcm, 960); /* 20 ms written after the flush: kept (under the target: it waits) */
    rta_playout_fill(p, out, 480, rta_now_ns(), -1);
    int last_loud = -1;
    for (int i = 0; i < 480; i++)
        if (out[2 * i] != 0)
            last_loud = i;
    CHECK(!rta_playout_flush_pending(p) && last_loud >= 0 && last_loud < 120); /* 2.5 ms at 48 kHz */
    CHECK(rta_ring_read_available(ring) == 960);
    rta_range ranges[8];
    size_t n = rta_ledger_drain_ranges(led, ranges, 8);
    uint64_t thrown = 0;
    for (size_t i = 0; i < n; i++)
        thrown += ranges[i].end - ranges[i].begin;
    CHECK(n >= 1 && rta_ledger_handed(led) + 0 == rta_ledger_read_pos(led)); /* nothing on its way any more */
    CHECK(rta_ledger_played_total(led) + thrown == rta_ledger_read_pos(led));
    rta_playout_stats ps;
    rta_playout_stats_get(p, &ps);
    CHECK(ps.flushes == 1 && ps.underruns == 0);
    rta_playout_destroy(p);
    rta_ledger_destroy(led);
    rta_ring_destroy(ring);
}

/* Capture: down-mix to the floor of the mean, resample 48 -> 24 kHz, the tap before it, mute and the gate. */
static void test_capture(void) {
    rta_ring *ring = new_ring(ring_buf, sizeof ring_buf), *tap = new_ring(tap_buf, sizeof tap_buf);
    rta_duplex duplex = {0};
    rta_audio_status st;
    rta_capture_config cfg = {.device_rate = 24000, .channels = 2, .frames = 480, .session_rate = 24000, .quality = 1};
    rta_capture *c = rta_capture_create(&cfg, ring, &duplex, &st);
    CHECK(c != NULL && st == RTA_AUDIO_OK);
    static int16_t in[480 * 2], got[4800];
    for (int i = 0; i < 480; i++)
        in[2 * i] = (int16_t)(i % 2 ? -3 : 3), in[2 * i + 1] = (int16_t)(i % 2 ? -4 : 4);
    rta_capture_set_tap(c, tap);
    rta_capture_process(c, in, 480, rta_now_ns(), rta_now_ns());
    CHECK(rta_ring_read(ring, got, 4) == 4 && got[0] == 3 && got[1] == -4); /* (-7) // 2 == -4 */
    CHECK(rta_ring_read_available(tap) == 960);
    rta_ring_skip(ring, rta_ring_read_available(ring));
    rta_capture_set_muted(c, 1);
    rta_capture_process(c, in, 480, rta_now_ns(), rta_now_ns());
    CHECK(rta_ring_read(ring, got, 960) == 960 && got[0] == 0 && got[479] == 0 && rta_ring_read_available(tap) == 960);
    rta_capture_set_muted(c, 0);
    int64_t now = rta_now_ns();
    atomic_store(&duplex.audible_until_ns, now + 1000000000);
    atomic_store(&duplex.enabled, 1);
    rta_capture_process(c, in, 480, now, now);
    rta_capture_stats cs;
    rta_capture_stats_get(c, &cs);
    CHECK(rta_ring_read(ring, got, 960) == 960 && got[0] == 0 && cs.gated && cs.gated_frames == 1);
    CHECK(cs.frames_in == 3 && cs.dropped_bytes == 0);
    rta_capture_destroy(c);
    cfg.device_rate = 48000;
    c = rta_capture_create(&cfg, ring, NULL, &st);
    size_t total = 0;
    for (int k = 0; k < 50; k++) { /* 0.5 s at 48 kHz */
        rta_capture_process(c, in, 480, rta_now_ns(), rta_now_ns());
        total = rta_ring_read_available(ring);
    }
    CHECK(total > 2 * 11000 && total <= 2 * 12000); /* 24 kHz out, less soxr's few ms of delay */
    rta_capture_destroy(c);
    rta_ring_destroy(tap);
    rta_ring_destroy(ring);
}

static int wait_until(int (*pred)(rta_pacer *), rta_pacer *p) {
    struct timespec ms = {0, 1000000};
    for (int i = 0; i < 5000 && !pred(p); i++)
        nanosleep(&ms, NULL);
    return pred(p);
}

static int finished(rta_pacer *p) { return rta_pacer_finished(p); }

/* The pacer in fast mode: a file's frames all reach the capture, the last one padded with silence. */
static void test_pacer_input(void) {
    rta_ring *ring = new_ring(ring_buf, sizeof ring_buf);
    rta_audio_status st;
    rta_capture_config cfg = {.device_rate = 24000, .channels = 1, .frames = 480, .session_rate = 24000, .quality = 1};
    rta_capture *c = rta_capture_create(&cfg, ring, NULL, &st);
    static int16_t file[1000], got[1440];
    for (int i = 0; i < 1000; i++)
        file[i] = (int16_t)(i + 1);
    rta_pacer_config pc = {.rate = 24000, .channels = 1, .frames = 480, .realtime = 0, .capture = c, .input = file,
                           .input_frames = 1000, .out_fd = -1};
    rta_pacer *p = rta_pacer_start(&pc, &st);
    CHECK(p != NULL && wait_until(finished, p));
    rta_pacer_stop(p);
    CHECK(rta_ring_read(ring, got, sizeof got) == sizeof got && memcmp(got, file, sizeof file) == 0);
    CHECK(got[1000] == 0 && got[1439] == 0 && rta_ring_read_available(ring) == 0);
    rta_capture_destroy(c);
    rta_ring_destroy(ring);
}

/* The pacer writing a WAV: every period's frames after the caller's header, whose sizes it keeps right. */
static void test_pacer_output(void) {
    rta_ring *ring = new_ring(ring_buf, sizeof ring_buf);
    rta_ledger *led = rta_ledger_create();
    rta_audio_status st;
    rta_playout_config cfg = playout_config(24000, 1);
    rta_playout *play = rta_playout_create(&cfg, ring, led, NULL, &st);
    static int16_t pcm[2400];
    for (int i = 1; i < 2400; i++)
        pcm[i] = 5000;
    rta_ring_write(ring, pcm, sizeof pcm);
    rta_ledger_set_end_mark(led, sizeof pcm);
    char path[] = "/tmp/rta_pacer_XXXXXX";
    int fd = mkstemp(path);
    unsigned char header[44] = {0};
    CHECK(fd >= 0 && write(fd, header, 44) == 44);
    rta_pacer_config pc = {.rate = 24000, .channels = 1, .frames = 240, .realtime = 0, .playout = play, .out_fd = fd};
    rta_pacer *p = rta_pacer_start(&pc, &st);
    struct timespec ms = {0, 1000000};
    for (int i = 0; i < 5000 && rta_ledger_handed(led) < sizeof pcm; i++)
        nanosleep(&ms, NULL);
    rta_pacer_stop(p);
    uint64_t bytes = 0;
    unsigned char riff[4], data[4];
    CHECK(pread(fd, riff, 4, 4) == 4 && pread(fd, data, 4, 40) == 4);
    uint32_t riff_size = riff[0] | riff[1] << 8 | riff[2] << 16 | (uint32_t)riff[3] << 24;
    uint32_t data_size = data[0] | data[1] << 8 | data[2] << 16 | (uint32_t)data[3] << 24;
    bytes = (uint64_t)lseek(fd, 0, SEEK_END) - 44;
    CHECK(bytes >= sizeof pcm && data_size == bytes && riff_size == bytes + 36);
    static int16_t back[24000];
    size_t n = (size_t)pread(fd, back, bytes < sizeof back ? bytes : sizeof back, 44) / 2;
    size_t first = 0;
    while (first < n && back[first] == 0)
        first++;
    CHECK(first > 0 && first + 2399 <= n && memcmp(back + first - 1, pcm, sizeof pcm) == 0);
    close(fd);
    unlink(path);
    rta_playout_destroy(play);
    rta_ledger_destroy(led);
    rta_ring_destroy(ring);
}

int main(void) {
    test_playout_passthrough_and_ledger();
    test_playout_flush();
    test_capture();
    test_pacer_input();
    test_pacer_output();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
