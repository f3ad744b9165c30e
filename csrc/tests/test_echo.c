/*
 * The echo canceller's own C checks (tests/test_csrc.py builds and runs this, plain and under ASan + UBSan):
 * bad settings are refused, a noise reference through a linear echo path (delay + attenuation) is cancelled by
 * each engine (webrtc+speex too) with the bulk delay found, in place too, and rta_echo_process allocates nothing (the plain build
 * counts every malloc/calloc/realloc/aligned allocation of the process, C++ `new` included, while it runs).
 * Prints "N passed, N failed".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rta_echo.h"

static int passed, failed;
#define CHECK(cond, ...)                                                                                            \
    do {                                                                                                            \
        if (cond) passed++;                                                                                         \
        else {                                                                                                      \
            failed++;                                                                                               \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                                                  \
            printf(__VA_ARGS__);                                                                                    \
            printf("\n");                                                                                           \
        }                                                                                                           \
    } while (0)

#if !defined(__SANITIZE_ADDRESS__)
/* Count allocations by wrapping glibc's allocator (the executable's symbols win over libc's for every library). */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
static volatile long allocations;
void *malloc(size_t n) { allocations++; return __libc_malloc(n); }
void *calloc(size_t n, size_t m) { allocations++; return __libc_calloc(n, m); }
void *realloc(void *p, size_t n) { allocations++; return __libc_realloc(p, n); }
void *memalign(size_t a, size_t n) { allocations++; return __libc_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { allocations++; return __libc_memalign(a, n); }
int posix_memalign(void **p, size_t a, size_t n) {
    allocations++;
    *p = __libc_memalign(a, n);
    return *p ? 0 : 12;
}
#define COUNTING 1
#else
static long allocations;
#define COUNTING 0
#endif

static unsigned rng = 18;
static int16_t noise(void) {
    rng = rng * 1103515245u + 12345u;
    return (int16_t)((int)((rng >> 16) & 0x7fff) - 16384) / 2; /* white, about -15 dBFS */
}

static void refuses_bad_settings(void) {
    rta_echo_config c;
    rta_echo_status st = RTA_ECHO_OK;
    rta_echo_config_default(&c, 7000);
    CHECK(rta_echo_create(&c, &st) == NULL && st == RTA_ECHO_EINVAL, "rate 7000: status %d", st);
    rta_echo_config_default(&c, 44100);
    c.tail_ms = 5;
    CHECK(rta_echo_create(&c, &st) == NULL && st == RTA_ECHO_EINVAL, "tail 5 ms: status %d", st);
    rta_echo_config_default(&c, 44100);
    c.delay_ms = 600;
    CHECK(rta_echo_create(&c, &st) == NULL && st == RTA_ECHO_EINVAL, "delay beyond max: status %d", st);
    rta_echo_config_default(&c, 44100);
    c.engine = (rta_echo_engine)7;
    CHECK(rta_echo_create(&c, &st) == NULL && st == RTA_ECHO_EINVAL, "engine 7: status %d", st);
    rta_echo_config_default(&c, 44100);
    rta_echo *e = rta_echo_create(&c, &st);
    CHECK(e && st == RTA_ECHO_OK && rta_echo_block_frames(e) == 441, "44.1 kHz: status %d", st);
    int16_t buf[500] = {0};
    CHECK(rta_echo_process(e, buf, buf, buf, 440) == RTA_ECHO_EINVAL, "a partial block is refused");
    rta_echo_destroy(e);
    rta_echo_destroy(NULL);
}

/* 6 s of noise through delay + -10 dB in 20 ms periods; the last 2 s measured. */
enum { MAX_RATE = 48000, SECONDS = 6 };
static int16_t ref[MAX_RATE * SECONDS], mic[MAX_RATE * SECONDS], out[MAX_RATE * SECONDS];

static void cancels_linear_echo(rta_echo_engine engine, int in_place, int rate) {
    const int delay = rate * 75 / 1000, period = rate / 50;
    for (int i = 0; i < rate * SECONDS; i++) ref[i] = noise();
    for (int i = 0; i < rate * SECONDS; i++) mic[i] = i >= delay ? (int16_t)(ref[i - delay] * 0.316f) : 0;
    rta_echo_config c;
    rta_echo_config_default(&c, rate);
    c.engine = engine;
    rta_echo_status st;
    long created = allocations;
    rta_echo *e = rta_echo_create(&c, &st);
    CHECK(e != NULL, "%s: status %d", rta_echo_engine_name(engine), st);
    if (!e) return;
    if (COUNTING) /* the counter works: creating allocates */
        CHECK(allocations > created, "%s: rta_echo_create counted no allocation", rta_echo_engine_name(engine));
    long before = allocations;
    for (int p = 0; p < rate * SECONDS; p += period) {
        if (in_place) {
            memcpy(out + p, mic + p, sizeof(int16_t) * period);
            rta_echo_process(e, out + p, ref + p, out + p, period);
        } else
            rta_echo_process(e, mic + p, ref + p, out + p, period);
    }
    long allocated = allocations - before;
    double in = 0, res = 0;
    for (int i = rate * (SECONDS - 2); i < rate * SECONDS; i++) {
        in += (double)mic[i] * mic[i];
        res += (double)out[i] * out[i];
    }
    double erle = 10 * log10(in / (res + 1.0));
    rta_echo_figures f;
    rta_echo_read_figures(e, &f);
    const char *name = rta_echo_engine_name(engine);
    CHECK(erle > 20.0, "%s%s: ERLE %.1f dB", name, in_place ? " in place" : "", erle);
    CHECK(f.delay_locked && fabsf(f.delay_ms - 75.0f) <= 2.0f, "%s: delay %.1f ms (75), locked %d", name, f.delay_ms,
          f.delay_locked);
    CHECK(f.converged && f.erle_db > 10.0f, "%s: figures erle %.1f converged %d", name, f.erle_db, f.converged);
    CHECK(f.blocks == (uint64_t)(SECONDS * 100), "%s: %llu blocks", name, (unsigned long long)f.blocks);
    if (COUNTING)
        CHECK(allocated == 0, "%s: rta_echo_process allocated %ld times", name, allocated);
    rta_echo_destroy(e);
}

/* The drifting reference (rta_echo_set_drift) reads the line at a fractional position: no allocation either, and the
 * delay figure slides with it. */
static void drift_slides_without_allocating(void) {
    rta_echo_config c;
    rta_echo_config_default(&c, 16000);
    c.delay_ms = 100;
    rta_echo *e = rta_echo_create(&c, NULL);
    CHECK(e != NULL, "create");
    if (!e) return;
    rta_echo_set_drift(e, 500.0); /* 0.5 ms a second */
    long before = allocations;
    for (int p = 0; p < 16000 * 4; p += 320) rta_echo_process(e, ref + p, ref + p, out + p, 320);
    rta_echo_figures f;
    rta_echo_read_figures(e, &f);
    CHECK(fabsf(f.delay_ms - 102.0f) <= 0.1f, "delay %.2f ms after 4 s at 500 ppm from 100 ms", f.delay_ms);
    if (COUNTING)
        CHECK(allocations == before, "the drifting reference allocated %ld times", allocations - before);
    rta_echo_destroy(e);
}

int main(void) {
    refuses_bad_settings();
    for (int engine = RTA_ECHO_SPEEX; engine <= RTA_ECHO_WEBRTC_SPEEX; engine++) {
        cancels_linear_echo((rta_echo_engine)engine, 0, 16000);
        cancels_linear_echo((rta_echo_engine)engine, 1, 16000);
        cancels_linear_echo((rta_echo_engine)engine, 0, 48000);
    }
    drift_slides_without_allocating();
    printf("%d passed, %d failed%s\n", passed, failed, COUNTING ? "" : " (allocations not counted under ASan)");
    return failed != 0;
}
