/*
 * Every base64 kernel this CPU runs (rta_b64_force_impl) against the scalar one and a bit-by-bit
 * reference encoder: random inputs of every length 0..1024 and a few large ones, every one-byte
 * corruption of some encodings (status and error offset must match the scalar code), and the split
 * decode at every split point. Buffers are malloc'ed at their exact size so that AddressSanitizer
 * catches a kernel reading or writing one byte too far.
 *
 * Usage: test_b64_simd [KERNEL...]  -- each KERNEL named must be available, or the run fails.
 * Prints "default: NAME", "kernels: NAMES" and "N passed, N failed"; exit status 0 iff none failed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rta_b64.h"

static const char *const CANDIDATES[] = {"avx2", "ssse3", "neon"};
static const char *kernels[4];
static size_t nkernels;
static long passed, failed;

#define CHECK(cond, ...)                                                                            \
    do {                                                                                            \
        if (cond) {                                                                                 \
            passed++;                                                                               \
        } else {                                                                                    \
            failed++;                                                                               \
            if (failed <= 20) {                                                                     \
                printf("FAIL %s:%d: ", __FILE__, __LINE__);                                         \
                printf(__VA_ARGS__);                                                                \
                printf("\n");                                                                       \
            }                                                                                       \
        }                                                                                           \
    } while (0)

/* xorshift64*: reproducible random bytes. */
static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint64_t rnd(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Du;
}
static void fill_random(unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(rnd() >> 56);
}

/* A buffer of exactly n bytes (ASan poisons what follows); never NULL, even for n = 0. */
static unsigned char *exact(size_t n) {
    unsigned char *p = malloc(n ? n : 1);
    if (!p) {
        perror("malloc");
        exit(2);
    }
    return p;
}

/* Bit-by-bit reference encoder, independent of every table in the library. */
static size_t ref_encode(const unsigned char *src, size_t n, char *out) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t bit = 0; bit < 8 * n; bit += 6) {
        unsigned v = 0;
        for (size_t b = bit; b < bit + 6; b++)
            v = (v << 1) | (b < 8 * n ? (src[b / 8] >> (7 - b % 8)) & 1u : 0u);
        out[o++] = A[v];
    }
    while (o % 4)
        out[o++] = '=';
    return o;
}

static void use(const char *name) {
    if (rta_b64_force_impl(name) != 0) {
        printf("cannot force kernel %s\n", name);
        exit(2);
    }
}

typedef struct {
    rta_b64_status st;
    size_t out_len, err_pos;
} verdict;

/* Decode with the current kernel into an exact-size buffer; the bytes are copied to `keep`. */
static verdict decode_exact(const char *src, size_t len, unsigned char *keep) {
    verdict v = {RTA_B64_OK, 0, (size_t)-1};
    size_t cap = rta_b64_decoded_size(src, len);
    unsigned char *out = exact(cap);
    v.st = rta_b64_decode(src, len, out, &v.out_len, &v.err_pos);
    if (v.st == RTA_B64_OK && keep)
        memcpy(keep, out, v.out_len);
    free(out);
    return v;
}

/* Random bytes of every length 0..1024 and some large ones: encode equals the reference, decode
 * gives the bytes back, for every kernel. The source is offset by 0-3 bytes to vary alignment. */
static void test_roundtrip(void) {
    static const size_t large[] = {4095, 65536 + 17, (1u << 20) + 2};
    for (size_t t = 0; t < 1025 + sizeof large / sizeof large[0]; t++) {
        size_t n = t <= 1024 ? t : large[t - 1025], off = t % 4;
        unsigned char *buf = exact(off + n), *src = buf + off;
        fill_random(src, n);
        size_t elen = rta_b64_encoded_size(n);
        char *want = (char *)exact(elen);
        ref_encode(src, n, want);
        unsigned char *back = exact(n);
        for (size_t k = 0; k < nkernels; k++) {
            use(kernels[k]);
            char *enc = (char *)exact(elen);
            size_t got = rta_b64_encode(src, n, enc);
            CHECK(got == elen && memcmp(enc, want, elen) == 0, "%s: encode of %zu bytes", kernels[k], n);
            free(enc);
            memset(back, 0, n);
            verdict v = decode_exact(want, elen, back);
            CHECK(v.st == RTA_B64_OK && v.out_len == n && memcmp(back, src, n) == 0,
                  "%s: decode of %zu bytes: status %d", kernels[k], n, (int)v.st);
        }
        free(back);
        free(want);
        free(buf);
    }
}

/* Each kernel's verdict on `text` equals the scalar one: status, error offset, bytes. */
static void compare_decode(const char *text, size_t len, const char *what) {
    unsigned char *ref = exact(len), *got = exact(len);
    use("scalar");
    verdict want = decode_exact(text, len, ref);
    for (size_t k = 0; k < nkernels; k++) {
        use(kernels[k]);
        verdict v = decode_exact(text, len, got);
        int same = v.st == want.st &&
                   (v.st == RTA_B64_OK ? v.out_len == want.out_len && memcmp(got, ref, v.out_len) == 0
                                       : v.err_pos == want.err_pos);
        CHECK(same, "%s: %s: status %d at %zu, scalar says %d at %zu", kernels[k], what, (int)v.st,
              v.err_pos, (int)want.st, want.err_pos);
    }
    free(ref);
    free(got);
}

/* Replace each byte of some encodings with characters outside the alphabet ('=', whitespace,
 * punctuation next to the alphabet's ranges, control and high-bit bytes); for one encoding with
 * every one of the 256 byte values. Also a few pairs of corruptions: the first one must be named. */
static void test_corruption(void) {
    static const unsigned char bad[] = {'=', ' ', '\n', '\r', '\t', '\v', '\f', 0x00, 0x80, 0xFF,
                                        0xC3, 0xAB, 0xBD, '!', '-', '_', '.', ':', '@', '[', '`',
                                        '{', '*', ',', '?', 0x7F, '"', '\\', 0x2A, 0x3A};
    static const size_t sizes[] = {48, 96, 150, 500, 1000}; /* bytes: 64 .. 1336 characters */
    char what[96];
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s], len = rta_b64_encoded_size(n);
        unsigned char *src = exact(n);
        fill_random(src, n);
        char *text = (char *)exact(len);
        ref_encode(src, n, text);
        for (size_t p = 0; p < len; p++) {
            char orig = text[p];
            if (n == 150) { /* 200 characters: every byte value at every position */
                for (int c = 0; c < 256; c++) {
                    text[p] = (char)c;
                    snprintf(what, sizeof what, "%zu chars, byte 0x%02X at %zu", len, c, p);
                    compare_decode(text, len, what);
                }
            } else {
                for (size_t b = 0; b < sizeof bad; b++) {
                    text[p] = (char)bad[b];
                    snprintf(what, sizeof what, "%zu chars, byte 0x%02X at %zu", len, bad[b], p);
                    compare_decode(text, len, what);
                }
            }
            text[p] = orig;
        }
        for (int r = 0; r < 200; r++) {
            size_t p1 = rnd() % len, p2 = rnd() % len;
            char o1 = text[p1], o2 = text[p2];
            text[p1] = (char)bad[rnd() % sizeof bad];
            text[p2] = (char)bad[rnd() % sizeof bad];
            snprintf(what, sizeof what, "%zu chars, bad bytes at %zu and %zu", len, p1, p2);
            compare_decode(text, len, what);
            text[p2] = o2;
            text[p1] = o1;
        }
        free(text);
        free(src);
    }
}

/* Split decode at every split point into two exact-size regions, valid input and corrupted. */
static void test_split(void) {
    static const size_t sizes[] = {0, 1, 2, 3, 47, 100, 301, 767, 1000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s], len = rta_b64_encoded_size(n);
        unsigned char *src = exact(n);
        fill_random(src, n);
        char *text = (char *)exact(len);
        ref_encode(src, n, text);
        for (size_t k = 0; k < nkernels; k++) {
            use(kernels[k]);
            for (size_t cap1 = 0; cap1 <= n; cap1++) {
                unsigned char *o1 = exact(cap1), *o2 = exact(n - cap1);
                size_t out_len = 0, err_pos = 0;
                rta_b64_status st = rta_b64_decode_split(text, len, o1, cap1, o2, &out_len, &err_pos);
                CHECK(st == RTA_B64_OK && out_len == n && memcmp(o1, src, cap1) == 0 &&
                          memcmp(o2, src + cap1, n - cap1) == 0,
                      "%s: split decode of %zu bytes at %zu: status %d", kernels[k], n, cap1, (int)st);
                free(o2);
                free(o1);
            }
        }
        /* A bad character at a few places, against every split point: same verdict as scalar ('='
         * in the last quad may be valid padding, so the verdict can be OK). */
        for (size_t c = 0; len && c < 5; c++) {
            size_t p = (size_t)(rnd() % len);
            char orig = text[p];
            text[p] = c % 2 ? '=' : '\n';
            for (size_t cap1 = 0; cap1 <= n; cap1++) {
                unsigned char *o1 = exact(cap1), *o2 = exact(n - cap1);
                size_t ol, want_pos = 0, got_pos = 0;
                use("scalar");
                rta_b64_status want = rta_b64_decode_split(text, len, o1, cap1, o2, &ol, &want_pos);
                for (size_t k = 0; k < nkernels; k++) {
                    use(kernels[k]);
                    rta_b64_status got = rta_b64_decode_split(text, len, o1, cap1, o2, &ol, &got_pos);
                    CHECK(got == want && (got == RTA_B64_OK || got_pos == want_pos),
                          "%s: split decode of %zu chars at %zu, bad byte at %zu: %d at %zu, "
                          "scalar %d at %zu",
                          kernels[k], len, cap1, p, (int)got, got_pos, (int)want, want_pos);
                }
                free(o2);
                free(o1);
            }
            text[p] = orig;
        }
        free(text);
        free(src);
    }
}

int main(int argc, char **argv) {
    printf("default: %s\n", rta_b64_impl());
    kernels[nkernels++] = "scalar";
    for (size_t c = 0; c < sizeof CANDIDATES / sizeof CANDIDATES[0]; c++)
        if (rta_b64_force_impl(CANDIDATES[c]) == 0)
            kernels[nkernels++] = CANDIDATES[c];
    CHECK(rta_b64_force_impl("no-such-kernel") == -1, "an unknown kernel name is refused");
    printf("kernels:");
    for (size_t k = 0; k < nkernels; k++)
        printf(" %s", kernels[k]);
    printf("\n");
    for (int a = 1; a < argc; a++) {
        int found = 0;
        for (size_t k = 0; k < nkernels; k++)
            found |= strcmp(argv[a], kernels[k]) == 0;
        CHECK(found, "kernel %s was required but is not available", argv[a]);
    }
    test_roundtrip();
    test_corruption();
    test_split();
    printf("%ld passed, %ld failed\n", passed, failed);
    return failed != 0;
}
