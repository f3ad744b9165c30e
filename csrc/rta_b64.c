/*
 * rta_b64: portable C base64.
 *
 * Encode: a 4096-entry table maps 12 input bits to two output characters, so 3 bytes cost two
 * lookups; the main loop takes 6 bytes from one 64-bit big-endian load and stores 8 characters at once.
 * Decode: four 256-entry tables map each character of a quad straight to its 6 bits in their final
 * position within 24 bits, or to a flag bit (bit 24) for a character outside the alphabet; one OR of
 * four lookups decodes a quad and one test of the OR'ed flags validates it.
 * Vector kernels (rta_b64_simd.c: AVX2, SSSE3, NEON), when the CPU has one, do the bulk of both
 * directions first; the code here finishes the tail and the padding and finds and names any error.
 */
#define _POSIX_C_SOURCE 200809L
#include "rta_b64.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "rta_b64_simd.h"

static const char ALPHABET[65] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
#define BAD 0x01000000u /* flag bit above the 24 data bits */

static uint16_t enc_pairs[4096];          /* 12 bits -> 2 characters, in memory order */
static uint32_t dec0[256], dec1[256], dec2[256], dec3[256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

/* The kernel in use. Chosen once in build_tables; rta_b64_force_impl may swap it at any time, and
 * kernels are immutable statics, so a relaxed load is enough: no other memory rides on the pointer. */
static const rta_b64_kernel scalar_kernel = {"scalar", NULL, NULL};
static _Atomic(const rta_b64_kernel *) active_kernel = &scalar_kernel;

static inline const rta_b64_kernel *kernel(void) {
    return atomic_load_explicit(&active_kernel, memory_order_relaxed);
}

/* The vector kernels this CPU runs, best first; none if rta_b64_simd.c was not linked in. */
static const rta_b64_kernel *const *simd_kernels(void) {
    static const rta_b64_kernel *const none[] = {NULL};
    return rta_b64_simd_kernels ? rta_b64_simd_kernels() : none;
}

static void build_tables(void) {
    for (int i = 0; i < 4096; i++) {
        char two[2] = {ALPHABET[i >> 6], ALPHABET[i & 63]};
        memcpy(&enc_pairs[i], two, 2);
    }
    for (int c = 0; c < 256; c++)
        dec0[c] = dec1[c] = dec2[c] = dec3[c] = BAD;
    for (uint32_t v = 0; v < 64; v++) {
        unsigned char c = (unsigned char)ALPHABET[v];
        dec0[c] = v << 18;
        dec1[c] = v << 12;
        dec2[c] = v << 6;
        dec3[c] = v;
    }
    const rta_b64_kernel *const *k = simd_kernels();
    if (k[0])
        atomic_store_explicit(&active_kernel, k[0], memory_order_relaxed);
}

static inline void init(void) { pthread_once(&tables_once, build_tables); }

static inline uint64_t load_be64(const unsigned char *p) {
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = (x << 8) | p[i];
    return x; /* gcc and clang fold this into one load + bswap */
}

size_t rta_b64_encoded_size(size_t n) { return (n + 2) / 3 * 4; }

size_t rta_b64_encode(const unsigned char *src, size_t n, char *out) {
    init();
    char *o = out;
    const rta_b64_kernel *k = kernel();
    size_t i = k->encode ? k->encode(src, n, o) : 0; /* whole vector blocks, if any */
    o += i / 3 * 4;
    /* 6 bytes -> 8 characters per step; the 8-byte load reads 2 bytes past the 6, so stop 8 early. */
    for (; i + 8 <= n; i += 6) {
        uint64_t x = load_be64(src + i);
        uint16_t q[4] = {enc_pairs[(x >> 52) & 0xFFF], enc_pairs[(x >> 40) & 0xFFF],
                         enc_pairs[(x >> 28) & 0xFFF], enc_pairs[(x >> 16) & 0xFFF]};
        memcpy(o, q, 8);
        o += 8;
    }
    for (; i + 3 <= n; i += 3) {
        uint32_t t = ((uint32_t)src[i] << 16) | ((uint32_t)src[i + 1] << 8) | src[i + 2];
        memcpy(o, &enc_pairs[t >> 12], 2);
        memcpy(o + 2, &enc_pairs[t & 0xFFF], 2);
        o += 4;
    }
    if (n - i == 1) {
        uint32_t t = (uint32_t)src[i] << 16;
        *o++ = ALPHABET[t >> 18];
        *o++ = ALPHABET[(t >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        uint32_t t = ((uint32_t)src[i] << 16) | ((uint32_t)src[i + 1] << 8);
        *o++ = ALPHABET[t >> 18];
        *o++ = ALPHABET[(t >> 12) & 63];
        *o++ = ALPHABET[(t >> 6) & 63];
        *o++ = '=';
    }
    return (size_t)(o - out);
}

size_t rta_b64_decoded_size(const char *src, size_t len) {
    size_t n = len / 4 * 3;
    if (len >= 4 && len % 4 == 0) {
        if (src[len - 1] == '=')
            n--;
        if (src[len - 2] == '=')
            n--;
    }
    return n;
}

/* The first offending character in quad `q` (4 characters), given that the quad failed. */
static rta_b64_status locate(const unsigned char *q, size_t base, size_t *err_pos) {
    for (size_t k = 0; k < 4; k++) {
        if (dec3[q[k]] == BAD) {
            if (err_pos)
                *err_pos = base + k;
            return q[k] == '=' ? RTA_B64_EPADDING : RTA_B64_EBADCHAR;
        }
    }
    return RTA_B64_EBADCHAR; /* unreachable: a failed quad has a bad character */
}

/* Decode `nq` quads with no padding allowed. `base` is the offset of src in the whole input. */
static rta_b64_status decode_quads(const unsigned char *src, size_t nq, unsigned char *o, size_t base,
                                   size_t *err_pos) {
    size_t len = nq * 4;
    /* The kernel decodes whole blocks up to the first one holding a bad character; the loops below
     * finish the rest and, starting at that block, find the offending character. */
    const rta_b64_kernel *k = kernel();
    size_t i = k->decode ? k->decode(src, len, o) : 0;
    o += i / 4 * 3;
    /* Two quads per step; their flags are OR'ed and tested once. */
    for (; i + 8 <= len; i += 8) {
        uint32_t a = dec0[src[i]] | dec1[src[i + 1]] | dec2[src[i + 2]] | dec3[src[i + 3]];
        uint32_t b = dec0[src[i + 4]] | dec1[src[i + 5]] | dec2[src[i + 6]] | dec3[src[i + 7]];
        if ((a | b) & BAD) {
            size_t at = (a & BAD) ? i : i + 4;
            return locate(src + at, base + at, err_pos);
        }
        o[0] = (unsigned char)(a >> 16);
        o[1] = (unsigned char)(a >> 8);
        o[2] = (unsigned char)a;
        o[3] = (unsigned char)(b >> 16);
        o[4] = (unsigned char)(b >> 8);
        o[5] = (unsigned char)b;
        o += 6;
    }
    for (; i < len; i += 4) {
        uint32_t a = dec0[src[i]] | dec1[src[i + 1]] | dec2[src[i + 2]] | dec3[src[i + 3]];
        if (a & BAD)
            return locate(src + i, base + i, err_pos);
        o[0] = (unsigned char)(a >> 16);
        o[1] = (unsigned char)(a >> 8);
        o[2] = (unsigned char)a;
        o += 3;
    }
    return RTA_B64_OK;
}

/* Decode one quad into out[0..2]; `last` allows "xxx=" and "xx==". Sets *nbytes to 1..3. */
static rta_b64_status decode_one(const unsigned char *q, int last, unsigned char out[3], size_t *nbytes,
                                 size_t base, size_t *err_pos) {
    int pad = last ? (q[3] == '=') + (q[3] == '=' && q[2] == '=') : 0;
    /* Padding positions decode as 'A' (zero bits); a '=' anywhere else stays bad. */
    unsigned char t[4] = {q[0], q[1], pad == 2 ? 'A' : q[2], pad >= 1 ? 'A' : q[3]};
    uint32_t a = dec0[t[0]] | dec1[t[1]] | dec2[t[2]] | dec3[t[3]];
    if (a & BAD)
        return locate(t, base, err_pos);
    out[0] = (unsigned char)(a >> 16);
    out[1] = (unsigned char)(a >> 8);
    out[2] = (unsigned char)a;
    *nbytes = (size_t)(3 - pad);
    return RTA_B64_OK;
}

/* Append nb bytes at logical offset *done of the two-region output. */
static void put_split(const unsigned char *tmp, size_t nb, unsigned char *out1, size_t cap1,
                      unsigned char *out2, size_t *done) {
    for (size_t b = 0; b < nb; b++, (*done)++) {
        if (*done < cap1)
            out1[*done] = tmp[b];
        else
            out2[*done - cap1] = tmp[b];
    }
}

rta_b64_status rta_b64_decode_split(const char *src_chars, size_t len, unsigned char *out1, size_t cap1,
                                    unsigned char *out2, size_t *out_len, size_t *err_pos) {
    const unsigned char *src = (const unsigned char *)src_chars;
    rta_b64_status st;
    unsigned char tmp[3];
    size_t nb, done = 0;
    init();
    if (len % 4 != 0) {
        /* Name a stray character (a newline, a space) if there is one: more useful than the length. */
        for (size_t i = 0; i < len; i++) {
            if (dec3[src[i]] == BAD && src[i] != '=') {
                if (err_pos)
                    *err_pos = i;
                return RTA_B64_EBADCHAR;
            }
        }
        if (err_pos)
            *err_pos = len;
        return RTA_B64_ELENGTH;
    }
    if (len == 0) {
        *out_len = 0;
        return RTA_B64_OK;
    }
    size_t nq = len / 4, body = nq - 1; /* the last quad may carry padding and is decoded apart */

    /* Body quads that land wholly in out1. */
    size_t j = cap1 / 3 < body ? cap1 / 3 : body;
    if ((st = decode_quads(src, j, out1, 0, err_pos)) != RTA_B64_OK)
        return st;
    done = 3 * j;
    /* The quad that straddles the end of out1, if any. */
    if (j < nq && done < cap1) {
        if ((st = decode_one(src + 4 * j, j == body, tmp, &nb, 4 * j, err_pos)) != RTA_B64_OK)
            return st;
        put_split(tmp, nb, out1, cap1, out2, &done);
        j++;
    }
    /* The remaining body quads land wholly in out2. */
    if (j < body) {
        if ((st = decode_quads(src + 4 * j, body - j, out2 + (done - cap1), 4 * j, err_pos)) != RTA_B64_OK)
            return st;
        done += 3 * (body - j);
        j = body;
    }
    if (j == body) {
        if ((st = decode_one(src + 4 * j, 1, tmp, &nb, 4 * j, err_pos)) != RTA_B64_OK)
            return st;
        put_split(tmp, nb, out1, cap1, out2, &done);
    }
    *out_len = done;
    return RTA_B64_OK;
}

rta_b64_status rta_b64_decode(const char *src, size_t len, unsigned char *out, size_t *out_len,
                              size_t *err_pos) {
    return rta_b64_decode_split(src, len, out, SIZE_MAX, NULL, out_len, err_pos);
}

const char *rta_b64_impl(void) {
    init();
    return kernel()->name;
}

int rta_b64_force_impl(const char *name) {
    init();
    if (strcmp(name, scalar_kernel.name) == 0) {
        atomic_store_explicit(&active_kernel, &scalar_kernel, memory_order_relaxed);
        return 0;
    }
    for (const rta_b64_kernel *const *k = simd_kernels(); *k; k++) {
        if (strcmp(name, (*k)->name) == 0) {
            atomic_store_explicit(&active_kernel, *k, memory_order_relaxed);
            return 0;
        }
    }
    return -1;
}

const char *rta_b64_strerror(rta_b64_status status) {
    switch (status) {
    case RTA_B64_OK:
        return "ok";
    case RTA_B64_EBADCHAR:
        return "character outside the base64 alphabet";
    case RTA_B64_EPADDING:
        return "'=' padding before the end";
    case RTA_B64_ELENGTH:
        return "length is not a multiple of 4";
    }
    return "unknown error";
}
