/*
 * C-level tests of the core, built and run by tests/test_csrc.py (plain and under
 * -fsanitize=address,undefined) and by `make -C csrc/tests run`. Prints one line per failure and a
 * closing "N passed, N failed" line; exits non-zero on any failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rta_b64.h"
#include "rta_framing.h"
#include "rta_g711.h"
#include "rta_ring.h"

#include "check.h"

static uint32_t rng_state = 12345;
static uint32_t rng(void) { /* xorshift32: deterministic, so a failure reproduces */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* ---- G.711: published reference points (ITU-T G.711 tables, as audioop encodes them) ----------- */
static void test_g711(void) {
    /* mu-law: 0 -> 0xFF, -1 -> 0x7E; the ends of the range saturate at 0x80 / 0x00. */
    CHECK(rta_ulaw_from_linear14(0) == 0xFF);
    CHECK(rta_ulaw_from_linear14(-1) == 0x7E); /* 16-bit -4; -1 (16-bit) >> 2 is also -1 */
    CHECK(rta_ulaw_from_linear14(8191) == 0x80);
    CHECK(rta_ulaw_from_linear14(-8192) == 0x00);
    CHECK(rta_ulaw_to_linear16(0xFF) == 0 && rta_ulaw_to_linear16(0x7F) == 0); /* two codes for zero */
    CHECK(rta_ulaw_to_linear16(0x80) == 32124 && rta_ulaw_to_linear16(0x00) == -32124);
    /* A-law: even-bit inversion; the smallest magnitudes are +-8. */
    CHECK(rta_alaw_from_linear13(0) == 0xD5);
    CHECK(rta_alaw_from_linear13(-1) == 0x55);
    CHECK(rta_alaw_to_linear16(0xD5) == 8 && rta_alaw_to_linear16(0x55) == -8);
    CHECK(rta_alaw_to_linear16(0xAA) == 32256 && rta_alaw_to_linear16(0x2A) == -32256);

    /* Every code decodes and re-encodes to itself (except mu-law's negative zero 0x7F -> 0xFF). */
    int roundtrip_ok = 1;
    for (int c = 0; c < 256; c++) {
        unsigned char code = (unsigned char)c, pcm[2], back;
        rta_ulaw_decode(&code, 1, pcm);
        rta_ulaw_encode(pcm, 1, &back);
        if (back != code && !(c == 0x7F && back == 0xFF))
            roundtrip_ok = 0;
        rta_alaw_decode(&code, 1, pcm);
        rta_alaw_encode(pcm, 1, &back);
        if (back != code)
            roundtrip_ok = 0;
    }
    CHECK(roundtrip_ok);

    /* The bulk (table) encoders agree with the reference functions for all 65,536 inputs. */
    int table_ok = 1;
    for (int v = -32768; v < 32768; v++) {
        unsigned char pcm[2] = {(unsigned char)(v & 0xFF), (unsigned char)((v >> 8) & 0xFF)}, u, a;
        rta_ulaw_encode(pcm, 1, &u);
        rta_alaw_encode(pcm, 1, &a);
        if (u != rta_ulaw_from_linear14((int16_t)(v >> 2)) || a != rta_alaw_from_linear13((int16_t)(v >> 3)))
            table_ok = 0;
    }
    CHECK(table_ok);

    /* The vector decoders (where the CPU has them) agree with the scalar tables for every code, at
     * every alignment and tail length. */
    unsigned char codes[256 + 40], vec[2 * sizeof(codes)], ref[2 * sizeof(codes)];
    for (size_t k = 0; k < sizeof(codes); k++)
        codes[k] = (unsigned char)(k * 7 + 3);
    int vector_ok = 1;
    for (int law = 0; law < 2; law++) {
        void (*decode)(const unsigned char *, size_t, unsigned char *) = law ? rta_alaw_decode : rta_ulaw_decode;
        for (size_t off = 0; off < 17; off++) {
            size_t n = sizeof(codes) - off - (off % 5);
            rta_g711_force_scalar(1);
            decode(codes + off, n, ref);
            rta_g711_force_scalar(0);
            decode(codes + off, n, vec);
            if (memcmp(ref, vec, 2 * n) != 0)
                vector_ok = 0;
        }
    }
    CHECK(vector_ok);
    printf("g711 vector decoder: %s\n", rta_g711_force_scalar(0) ? "active" : "not available");
}

/* ---- base64 -------------------------------------------------------------------------------------- */
static void test_b64(void) {
    static const char *vec_in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"}; /* RFC 4648 s.10 */
    static const char *vec_out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    char enc[64];
    unsigned char dec[64];
    size_t n, pos;
    for (int i = 0; i < 7; i++) {
        size_t len = strlen(vec_in[i]);
        n = rta_b64_encode((const unsigned char *)vec_in[i], len, enc);
        CHECK(n == strlen(vec_out[i]) && memcmp(enc, vec_out[i], n) == 0);
        CHECK(rta_b64_decode(vec_out[i], n, dec, &n, NULL) == RTA_B64_OK && n == len &&
              memcmp(dec, vec_in[i], len) == 0);
    }
    /* Round trips at every length around the unrolled loops' edges. */
    unsigned char src[600], back[600];
    char text[800];
    int rt_ok = 1;
    for (size_t len = 0; len < 600; len++) {
        for (size_t k = 0; k < len; k++)
            src[k] = (unsigned char)rng();
        size_t tl = rta_b64_encode(src, len, text);
        if (tl != rta_b64_encoded_size(len) || rta_b64_decoded_size(text, tl) != len)
            rt_ok = 0;
        if (rta_b64_decode(text, tl, back, &n, NULL) != RTA_B64_OK || n != len || memcmp(src, back, len) != 0)
            rt_ok = 0;
        /* Split decode at every split point lands the same bytes in two regions. */
        for (size_t cut = 0; cut <= len && len < 64; cut++) {
            unsigned char r1[64], r2[64];
            if (rta_b64_decode_split(text, tl, r1, cut, r2, &n, NULL) != RTA_B64_OK || n != len ||
                memcmp(r1, src, cut) != 0 || memcmp(r2, src + cut, len - cut) != 0)
                rt_ok = 0;
        }
    }
    CHECK(rt_ok);
    /* Strictness: each corruption is refused with the right status and position. */
    CHECK(rta_b64_decode("Zm9", 3, dec, &n, &pos) == RTA_B64_ELENGTH);
    CHECK(rta_b64_decode("Zm 9v", 5, dec, &n, &pos) == RTA_B64_EBADCHAR && pos == 2);
    CHECK(rta_b64_decode("Zm9v\n", 5, dec, &n, &pos) == RTA_B64_EBADCHAR && pos == 4);
    CHECK(rta_b64_decode("Zg==Zg==", 8, dec, &n, &pos) == RTA_B64_EPADDING && pos == 2);
    CHECK(rta_b64_decode("Z===", 4, dec, &n, &pos) == RTA_B64_EPADDING && pos == 1);
    CHECK(rta_b64_decode("Zm-v", 4, dec, &n, &pos) == RTA_B64_EBADCHAR && pos == 2);
    CHECK(rta_b64_decode("Zm9v\\/==", 8, dec, &n, &pos) == RTA_B64_EBADCHAR && pos == 4);
    CHECK(rta_b64_decode("Zm9\x80", 4, dec, &n, &pos) == RTA_B64_EBADCHAR && pos == 3);
    /* Unused trailing bits are ignored, as binascii does: "Zh==" decodes like "Zg==". */
    CHECK(rta_b64_decode("Zh==", 4, dec, &n, &pos) == RTA_B64_OK && n == 1 && dec[0] == 'f');
}

/* ---- framing ------------------------------------------------------------------------------------- */
static rta_delta_kind scan(const char *s, rta_delta_info *info) { return rta_delta_scan(s, strlen(s), info); }

static void test_framing(void) {
    char out[128];
    size_t n = rta_frame_append("{\"a\":\"", 6, (const unsigned char *)"foo", 3, "\"}", 2, out);
    CHECK(n == rta_frame_append_size(6, 3, 2) && memcmp(out, "{\"a\":\"Zm9v\"}", n) == 0);

    rta_delta_info info;
    const char *beta = "{\"type\":\"response.audio.delta\",\"event_id\":\"e1\",\"response_id\":\"r\","
                       "\"item_id\":\"i\",\"output_index\":0,\"content_index\":0,\"delta\":\"Zm9v\"}";
    CHECK(scan(beta, &info) == RTA_DELTA_FOUND && info.delta.len == 4 &&
          memcmp(beta + info.delta.start, "Zm9v", 4) == 0);
    CHECK(scan(" {\"type\" : \"response.output_audio.delta\", \"x\": -1.5e3, \"y\": null, \"delta\": \"\" } \n",
               &info) == RTA_DELTA_FOUND && info.delta.len == 0);
    CHECK(scan("{\"type\":\"session.created\",\"whatever\":[}", &info) == RTA_DELTA_OTHER);
    CHECK(scan("{\"type\":\"response.audio.delta\",\"delta\":\"Zm9v\",\"item_id\":\"i\"}", &info) == RTA_DELTA_UNSURE);
    CHECK(scan("{\"item_id\":\"i\",\"type\":\"response.audio.delta\",\"delta\":\"Zm9v\"}", &info) == RTA_DELTA_UNSURE);
    CHECK(scan("{\"type\":\"response.audio.delta\",\"type\":\"x\",\"delta\":\"Zm9v\"}", &info) == RTA_DELTA_UNSURE);
    CHECK(scan("{\"type\":\"response.audio.delta\",\"o\":{},\"delta\":\"Zm9v\"}", &info) == RTA_DELTA_UNSURE);
    CHECK(scan("{\"type\":\"response.audio.delta\",\"n\":01,\"delta\":\"Zm9v\"}", &info) == RTA_DELTA_UNSURE);
    CHECK(scan("{\"type\":\"response.audio.delta\",\"delta\":\"Zm9v\"", &info) == RTA_DELTA_UNSURE);
    CHECK(scan("{\"type\":\"response.audio.delta\",\"delta\":\"Zm9v\"}x", &info) == RTA_DELTA_UNSURE);
    CHECK(scan("{\"type\":\"response.audio.delt\\u0061\",\"delta\":\"Zm9v\"}", &info) == RTA_DELTA_UNSURE);
    CHECK(scan("{\"type\":\"response.audio.delta\",\"s\":\"caf\xc3\xa9\",\"delta\":\"Zm9v\"}", &info) == RTA_DELTA_UNSURE);
    CHECK(scan("", &info) == RTA_DELTA_UNSURE);
    CHECK(scan("[1]", &info) == RTA_DELTA_UNSURE);
    /* Every prefix of a good frame is refused (no read past the end: ASan watches). */
    int prefixes_ok = 1;
    size_t len = strlen(beta);
    for (size_t k = 0; k < len; k++) {
        char *copy = malloc(k ? k : 1);
        memcpy(copy, beta, k);
        if (rta_delta_scan(copy, k, &info) == RTA_DELTA_FOUND)
            prefixes_ok = 0;
        free(copy);
    }
    CHECK(prefixes_ok);

    /* The ids: spans of plain strings, none when absent or not a string, the last duplicate counts. */
    CHECK(scan(beta, &info) == RTA_DELTA_FOUND && info.item_id.len == 1 && beta[info.item_id.start] == 'i' &&
          info.response_id.len == 1 && beta[info.response_id.start] == 'r');
    CHECK(scan("{\"type\":\"response.audio.delta\",\"delta\":\"Zm9v\"}", &info) == RTA_DELTA_FOUND &&
          info.item_id.start == RTA_NO_SPAN && info.response_id.start == RTA_NO_SPAN);
    const char *dup = "{\"type\":\"response.audio.delta\",\"item_id\":\"a\",\"response_id\":7,\"item_id\":\"bb\","
                      "\"delta\":\"\"}";
    CHECK(scan(dup, &info) == RTA_DELTA_FOUND && info.item_id.len == 2 &&
          memcmp(dup + info.item_id.start, "bb", 2) == 0 && info.response_id.start == RTA_NO_SPAN);
    CHECK(scan("{\"type\":\"response.audio.delta\",\"item_id\":\"a\",\"item_id\":null,\"delta\":\"\"}", &info) ==
              RTA_DELTA_FOUND && info.item_id.start == RTA_NO_SPAN);
    CHECK(scan("{\"type\":\"response.audio.delta\",\"item_id\":\"a\\u0062\",\"delta\":\"\"}", &info) ==
          RTA_DELTA_UNSURE); /* an escape in an id: the full decode reads it */
    /* Plain strings are skimmed eight bytes at a time: every special byte at every position of a long
     * id still sends the frame to the full decode, and every ordinary one is taken. */
    int skim_ok = 1;
    static const unsigned char special[] = {'\\', 0x01, 0x1f, 0x80, 0xc3, 0xff};
    static const unsigned char ordinary[] = {' ', '!', '#', '[', ']', '~', 0x7f};
    for (size_t pos = 0; pos < 24; pos++) {
        char text[128];
        for (size_t k = 0; k < sizeof(special) + sizeof(ordinary); k++) {
            int bad = k < sizeof(special);
            char id[25];
            memset(id, 'a', 24);
            id[24] = 0;
            id[pos] = (char)(bad ? special[k] : ordinary[k - sizeof(special)]);
            int len = snprintf(text, sizeof(text), "{\"type\":\"response.audio.delta\",\"item_id\":\"%s\",\"delta\":\"\"}", id);
            rta_delta_kind kind = rta_delta_scan(text, (size_t)len, &info);
            if (bad ? kind != RTA_DELTA_UNSURE
                    : kind != RTA_DELTA_FOUND || info.item_id.len != 24 || memcmp(text + info.item_id.start, id, 24) != 0)
                skim_ok = 0;
        }
    }
    CHECK(skim_ok);
    CHECK(rta_delta_types[0] && strcmp(rta_delta_types[0], "response.audio.delta") == 0 && rta_delta_types[1] &&
          strcmp(rta_delta_types[1], "response.output_audio.delta") == 0 && rta_delta_types[2] == NULL);
}

/* ---- the fused uplink: ring -> append text / masked WebSocket frame ---------------------------- */

/* An empty ring of `cap` bytes whose next write (and read) starts at offset `at` of its storage. */
static rta_ring *ring_at(unsigned char *storage, size_t cap, size_t at) {
    rta_ring *r = rta_ring_create(storage, cap, NULL);
    rta_ring_advance_write(r, at);
    rta_ring_advance_read(r, at);
    return r;
}

/* The expected text: the plain append framing of `audio`. */
static size_t expected_text(const unsigned char *audio, size_t n, char *out) {
    static const char head[] = "{\"type\":\"input_audio_buffer.append\",\"audio\":\"";
    return rta_frame_append(head, sizeof(head) - 1, audio, n, "\"}", 2, out);
}

/* Parse a client frame as a server would (RFC 6455 5.2): FIN + text, MASK set, the length in its
 * shortest form; unmask the payload into `payload`. Returns its length, or (size_t)-1 if malformed. */
static size_t ws_parse(const unsigned char *f, size_t n, unsigned char *payload) {
    size_t len, at;
    if (n < 2 || f[0] != 0x81 || !(f[1] & 0x80))
        return (size_t)-1;
    len = f[1] & 0x7F;
    at = 2;
    if (len == 126) {
        len = ((size_t)f[2] << 8) | f[3];
        at = 4;
        if (len < 126)
            return (size_t)-1;
    } else if (len == 127) {
        len = 0;
        for (int k = 0; k < 8; k++)
            len = (len << 8) | f[2 + k];
        at = 10;
        if (len <= 0xFFFF)
            return (size_t)-1;
    }
    if (at + 4 + len != n)
        return (size_t)-1;
    for (size_t i = 0; i < len; i++)
        payload[i] = f[at + 4 + i] ^ f[at + (i & 3)];
    return len;
}

static void test_append_from_ring(void) {
    enum { CAP = 1 << 17 };
    unsigned char *storage = malloc(CAP), *pcm = malloc(CAP), *codes = malloc(CAP / 2), *payload = malloc(2 * CAP);
    char *out = malloc(2 * CAP), *want = malloc(2 * CAP);
    const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t n;
    for (size_t k = 0; k < CAP; k++)
        pcm[k] = (unsigned char)rng();

    /* Text and masked frames, pcm16 and G.711, at every split of the wrap that matters (odd ones too)
     * and at each length form (7-bit, 16-bit, 64-bit). */
    static const size_t sizes[] = {2, 4, 6, 40, 116, 960, 3072, 50000};
    int text_ok = 1, masked_ok = 1, g711_ok = 1, forms_ok = 1;
    for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        size_t sz = sizes[si];
        for (size_t split = 0; split <= 7 && split <= sz; split++) {
            for (int fmt = 0; fmt < 3; fmt++) {
                for (int masked = 0; masked < 2; masked++) {
                    rta_ring *r = ring_at(storage, CAP, CAP - split);
                    rta_ring_write(r, pcm, sz);
                    size_t cap = rta_append_frame_size(sz, (rta_audio_format)fmt, masked);
                    if (rta_append_from_ring(r, sz, (rta_audio_format)fmt, masked ? key : NULL, out, cap, &n) !=
                            RTA_FRAMING_OK ||
                        n != cap || rta_ring_read_available(r) != 0)
                        text_ok = 0;
                    size_t audio_len = sz;
                    const unsigned char *audio = pcm;
                    if (fmt) {
                        (fmt == RTA_AUDIO_G711_ULAW ? rta_ulaw_encode : rta_alaw_encode)(pcm, sz / 2, codes);
                        audio = codes;
                        audio_len = sz / 2;
                    }
                    size_t want_len = expected_text(audio, audio_len, want);
                    if (masked) {
                        size_t plen = ws_parse((unsigned char *)out, n, payload);
                        if (plen != want_len || memcmp(payload, want, want_len) != 0)
                            masked_ok = 0;
                        int form = out[1] & 0x7F;
                        if ((want_len < 126 && form != (int)want_len) || (want_len >= 126 && want_len <= 0xFFFF && form != 126) ||
                            (want_len > 0xFFFF && form != 127))
                            forms_ok = 0;
                    } else if (n != want_len || memcmp(out, want, n) != 0) {
                        *(fmt ? &g711_ok : &text_ok) = 0;
                    }
                    rta_ring_destroy(r);
                }
            }
        }
    }
    CHECK(text_ok);
    CHECK(masked_ok);
    CHECK(g711_ok);
    CHECK(forms_ok);

    /* Nothing is read when the ring is short, the output too small or the count invalid. */
    rta_ring *r = ring_at(storage, CAP, 5);
    rta_ring_write(r, pcm, 958);
    size_t cap = rta_append_frame_size(960, RTA_AUDIO_PCM16, 0);
    CHECK(rta_append_from_ring(r, 960, RTA_AUDIO_PCM16, NULL, out, cap, &n) == RTA_FRAMING_NOT_READY);
    CHECK(rta_ring_read_available(r) == 958 && rta_ring_underruns(r) == 0);
    rta_ring_write(r, pcm + 958, 2);
    CHECK(rta_append_from_ring(r, 960, RTA_AUDIO_PCM16, NULL, out, cap - 1, &n) == RTA_FRAMING_ESPACE);
    CHECK(rta_append_from_ring(r, 960, RTA_AUDIO_PCM16, key, out, cap, &n) == RTA_FRAMING_ESPACE);
    CHECK(rta_append_from_ring(r, 959, RTA_AUDIO_PCM16, NULL, out, 2 * CAP, &n) == RTA_FRAMING_EINVAL);
    CHECK(rta_append_from_ring(r, 0, RTA_AUDIO_PCM16, NULL, out, 2 * CAP, &n) == RTA_FRAMING_EINVAL);
    CHECK(rta_append_from_ring(r, 960, (rta_audio_format)7, NULL, out, 2 * CAP, &n) == RTA_FRAMING_EINVAL);
    CHECK(rta_append_frame_size(960, (rta_audio_format)7, 0) == 0);
    CHECK(rta_ring_read_available(r) == 960);
    CHECK(rta_append_from_ring(r, 960, RTA_AUDIO_PCM16, NULL, out, cap, &n) == RTA_FRAMING_OK && n == cap);
    CHECK(n == expected_text(pcm, 960, want) && memcmp(out, want, n) == 0);
    rta_ring_destroy(r);
    free(storage);
    free(pcm);
    free(codes);
    free(payload);
    free(out);
    free(want);
}

/* ---- the downlink: a delta's base64 into the playout ring ---------------------------------------- */

static void test_delta_decode_into(void) {
    enum { CAP = 1 << 14 };
    unsigned char storage[CAP], audio[12000], got[CAP], pcm[24000];
    static unsigned char filler[CAP];
    static char text[16100];
    size_t n, w;
    for (size_t k = 0; k < sizeof(audio); k++)
        audio[k] = (unsigned char)rng();

    /* pcm16 and G.711, sizes around the chunk edges, at every wrap offset that matters. */
    static const size_t sizes[] = {0, 1, 2, 3, 5, 1151, 1152, 1153, 2304, 3457, 6000};
    int ok = 1;
    for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        size_t sz = sizes[si];
        n = rta_b64_encode(audio, sz, text);
        for (size_t at = CAP - 7; at <= CAP; at += 3) {
            for (int fmt = 0; fmt < 3; fmt++) {
                rta_ring *r = ring_at(storage, CAP, at);
                rta_framing_status st = rta_delta_decode_into(text, n, (rta_audio_format)fmt, r, &w);
                size_t want = fmt ? 2 * sz : sz + (sz & 1);
                if (fmt == RTA_AUDIO_PCM16) {
                    memcpy(pcm, audio, sz);
                    pcm[sz] = 0; /* the pad */
                } else {
                    (fmt == RTA_AUDIO_G711_ULAW ? rta_ulaw_decode : rta_alaw_decode)(audio, sz, pcm);
                }
                if (st != RTA_FRAMING_OK || w != want || rta_ring_read(r, got, CAP) != want ||
                    memcmp(got, pcm, want) != 0 || rta_ring_overruns(r) != 0)
                    ok = 0;
                rta_ring_destroy(r);
            }
        }
    }
    CHECK(ok);

    /* No room for all of it: what fits, whole samples, one overrun; validated to the end first. */
    n = rta_b64_encode(audio, 9001, text);
    rta_ring *r = ring_at(storage, CAP, 100);
    rta_ring_write(r, filler, CAP - 5001); /* 5001 bytes free: an odd room keeps 5000 */
    CHECK(rta_delta_decode_into(text, n, RTA_AUDIO_PCM16, r, &w) == RTA_FRAMING_OVERRUN && w == 5000);
    CHECK(rta_ring_overruns(r) == 1 && rta_ring_write_available(r) == 1);
    rta_ring_skip(r, CAP - 5001);
    CHECK(rta_ring_read(r, got, CAP) == 5000 && memcmp(got, audio, 5000) == 0);
    rta_ring_write(r, filler, CAP - 3000);
    CHECK(rta_delta_decode_into(text, n, RTA_AUDIO_G711_ALAW, r, &w) == RTA_FRAMING_OVERRUN && w == 3000);
    rta_alaw_decode(audio, 1500, pcm);
    rta_ring_skip(r, CAP - 3000);
    CHECK(rta_ring_read(r, got, CAP) == 3000 && memcmp(got, pcm, 3000) == 0 && rta_ring_overruns(r) == 2);

    /* Broken base64 writes nothing, wherever it breaks: a bad character past the room, '=' at a chunk
     * edge (each chunk would decode alone), a bad length. */
    rta_ring_write(r, filler, CAP - 100);
    text[n - 10] = '!';
    CHECK(rta_delta_decode_into(text, n, RTA_AUDIO_PCM16, r, &w) == RTA_FRAMING_EBASE64 && w == 0);
    n = rta_b64_encode(audio, 1151, text); /* 1536 characters, "=" at the end */
    n += rta_b64_encode(audio, 300, text + n);
    CHECK(rta_delta_decode_into(text, n, RTA_AUDIO_G711_ULAW, r, &w) == RTA_FRAMING_EBASE64);
    rta_ring_skip(r, CAP);
    CHECK(rta_delta_decode_into(text, n, RTA_AUDIO_PCM16, r, &w) == RTA_FRAMING_EBASE64);
    CHECK(rta_delta_decode_into("QUJ", 3, RTA_AUDIO_PCM16, r, &w) == RTA_FRAMING_EBASE64);
    CHECK(rta_delta_decode_into("QUJD", 4, (rta_audio_format)9, r, &w) == RTA_FRAMING_EINVAL);
    CHECK(rta_ring_read_available(r) == 0 && rta_ring_overruns(r) == 2);
    rta_ring_destroy(r);
}

/* ---- ring ---------------------------------------------------------------------------------------- */
static void test_ring_basics(void) {
    unsigned char storage[16], out[32];
    rta_ring_status st;
    CHECK(rta_ring_create(storage, 12, &st) == NULL && st == RTA_RING_EINVAL);
    rta_ring *r = rta_ring_create(storage, 16, &st);
    CHECK(r != NULL && st == RTA_RING_OK);
    CHECK(rta_ring_write(r, "0123456789", 10) == 10);
    CHECK(rta_ring_read(r, out, 6) == 6 && memcmp(out, "012345", 6) == 0);
    CHECK(rta_ring_write(r, "abcdefghijkl", 12) == 12); /* wraps */
    CHECK(rta_ring_write(r, "XYZ", 3) == 0 && rta_ring_overruns(r) == 1); /* full */
    rta_region reg[2];
    CHECK(rta_ring_read_regions(r, 16, reg) == 16 && reg[0].len == 10 && reg[1].len == 6);
    CHECK(memcmp(reg[0].data, "6789abcdef", 10) == 0 && memcmp(reg[1].data, "ghijkl", 6) == 0);
    rta_ring_advance_read(r, 16);
    CHECK(rta_ring_read(r, out, 1) == 0 && rta_ring_underruns(r) == 1);
    CHECK(rta_ring_wait_readable(r, 1, 1000000) == 0); /* times out after 1 ms */
    rta_ring_close(r);
    CHECK(rta_ring_closed(r) && rta_ring_wait_readable(r, 1, -1) == 0); /* closed: returns at once */
    rta_ring_destroy(r);
}

/* Advancing past what the last *_regions call showed (allowed up to the fill level): the cached copies
 * of the other side's index must follow, or the next read runs past the producer and the next write
 * past the storage (ASan: heap-buffer-overflow). */
static void test_ring_advance_past_regions(void) {
    unsigned char *storage = malloc(16), out[64], big[64];
    memset(big, 'x', sizeof(big));
    rta_ring *r = rta_ring_create(storage, 16, NULL);
    rta_ring_advance_write(r, 16); /* no write_regions before it */
    rta_ring_advance_read(r, 5);   /* no read_regions before it */
    CHECK(rta_ring_read(r, out, 5) == 5);
    rta_ring_advance_read(r, 2);
    CHECK(rta_ring_skip(r, 5) == 4 && rta_ring_read_available(r) == 0);
    CHECK(rta_ring_wait_writable(r, 16, 0) == 1);
    rta_ring_advance_write(r, 16);
    CHECK(rta_ring_write(r, big, sizeof(big)) == 0 && rta_ring_overruns(r) == 1);
    CHECK(rta_ring_read(r, out, sizeof(out)) == 16 && rta_ring_read_available(r) == 0);
    CHECK(rta_ring_write(r, big, sizeof(big)) == 16);
    rta_ring_destroy(r);
    free(storage);
}

#define STRESS_BYTES (8u << 20)
typedef struct {
    rta_ring *ring;
    uint64_t sum;
} stress_arg;

static uint64_t mix(uint64_t h, unsigned char b) { return (h ^ b) * 1099511628211ull; } /* FNV-1a */

static void *producer(void *p) {
    stress_arg *a = p;
    unsigned char chunk[997];
    uint32_t seed = 7;
    for (size_t sent = 0; sent < STRESS_BYTES;) {
        seed = seed * 1664525u + 1013904223u;
        size_t n = 1 + seed % sizeof(chunk);
        if (n > STRESS_BYTES - sent)
            n = STRESS_BYTES - sent;
        for (size_t k = 0; k < n; k++) {
            chunk[k] = (unsigned char)((sent + k) * 31 + (sent + k) / 257);
            a->sum = mix(a->sum, chunk[k]);
        }
        rta_ring_wait_writable(a->ring, n, -1);
        rta_ring_write(a->ring, chunk, n);
        sent += n;
    }
    return NULL;
}

static void test_ring_stress(void) {
    static unsigned char storage[4096];
    rta_ring *r = rta_ring_create(storage, sizeof(storage), NULL);
    stress_arg a = {r, 14695981039346656037ull};
    pthread_t th;
    pthread_create(&th, NULL, producer, &a);
    uint64_t sum = 14695981039346656037ull;
    unsigned char chunk[1500];
    uint32_t seed = 99;
    size_t got = 0;
    while (got < STRESS_BYTES) {
        seed = seed * 1664525u + 1013904223u;
        size_t want = 1 + seed % sizeof(chunk);
        if (want > STRESS_BYTES - got)
            want = STRESS_BYTES - got;
        rta_ring_wait_readable(r, want, -1);
        size_t n = rta_ring_read(r, chunk, want);
        for (size_t k = 0; k < n; k++)
            sum = mix(sum, chunk[k]);
        got += n;
    }
    pthread_join(th, NULL);
    CHECK(got == STRESS_BYTES && sum == a.sum && rta_ring_read_available(r) == 0);
    rta_ring_destroy(r);
}

/* 32-bit targets (armhf): the free-running size_t indices wrap after 4 GiB of traffic, about a day of 24 kHz
 * PCM16 capture; a capacity of 2^31 is the largest power of two a 32-bit size_t holds. On 64 bits the wrap is
 * out of reach and the same checks run at the start of the index range. */
static void test_ring_index_wrap_and_huge_capacity(void) {
    enum { CAP = 1 << 12 };
    static unsigned char storage[CAP];
    unsigned char in[CAP], out[CAP];
    rta_ring *r = rta_ring_create(storage, CAP, NULL);
    size_t pos = 0;
    if (sizeof(size_t) == 4) /* walk the indices up to just short of the wrap, a capacity at a time */
        for (; pos < SIZE_MAX - 2 * (size_t)CAP; pos += CAP) {
            rta_ring_advance_write(r, CAP);
            rta_ring_advance_read(r, CAP);
        }
    int ok = 1;
    for (int round = 0; round < 8; round++) { /* 8 x 3/4 capacity: well across the wrap */
        size_t n = CAP / 4 * 3;
        for (size_t k = 0; k < n; k++)
            in[k] = (unsigned char)rng();
        ok &= rta_ring_write(r, in, n) == n && rta_ring_read_available(r) == n;
        ok &= rta_ring_write_available(r) == CAP - n;
        ok &= rta_ring_read(r, out, n) == n && memcmp(in, out, n) == 0 && rta_ring_read_available(r) == 0;
    }
    CHECK(ok && rta_ring_overruns(r) == 0 && rta_ring_underruns(r) == 0);
    rta_ring_destroy(r);

    /* The largest capacity: its arithmetic must not overflow (the storage is never touched by these calls). */
    size_t huge = (SIZE_MAX >> 1) + 1;
    rta_ring_status st;
    CHECK(rta_ring_create(storage, huge + 2, &st) == NULL && st == RTA_RING_EINVAL);
    r = rta_ring_create(storage, huge, &st);
    CHECK(r != NULL && st == RTA_RING_OK && rta_ring_capacity(r) == huge);
    CHECK(rta_ring_write_available(r) == huge && rta_ring_read_available(r) == 0);
    rta_ring_advance_write(r, huge - 1);
    CHECK(rta_ring_read_available(r) == huge - 1 && rta_ring_write_available(r) == 1);
    rta_ring_advance_read(r, huge - 1);
    rta_ring_advance_write(r, huge);
    CHECK(rta_ring_read_available(r) == huge && rta_ring_write_available(r) == 0);
    rta_ring_destroy(r);

    /* Output sizes of the largest input a process can hold (PTRDIFF_MAX bytes) do not wrap around. */
    CHECK(rta_b64_encoded_size(PTRDIFF_MAX) > (size_t)PTRDIFF_MAX);
    CHECK(rta_append_frame_size(PTRDIFF_MAX / 2, RTA_AUDIO_PCM16, 1) > (size_t)PTRDIFF_MAX / 2);
}

int main(void) {
    test_g711();
    test_b64();
    test_framing();
    test_append_from_ring();
    test_delta_decode_into();
    test_ring_basics();
    test_ring_advance_past_regions();
    test_ring_stress();
    test_ring_index_wrap_and_huge_capacity();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
