/* rta_framing: see rta_framing.h for what each answer promises. */
#include "rta_framing.h"

#include <stdint.h>
#include <string.h>

#include "rta_b64.h"
#include "rta_g711.h"

const char *const rta_delta_types[] = {"response.audio.delta", "response.output_audio.delta", NULL};

static int valid_format(rta_audio_format format) {
    return format == RTA_AUDIO_PCM16 || format == RTA_AUDIO_G711_ULAW || format == RTA_AUDIO_G711_ALAW;
}

/* ==== uplink ===================================================================================== */

size_t rta_frame_append_size(size_t prefix_len, size_t audio_len, size_t suffix_len) {
    return prefix_len + rta_b64_encoded_size(audio_len) + suffix_len;
}

size_t rta_frame_append(const char *prefix, size_t prefix_len, const unsigned char *audio, size_t audio_len,
                        const char *suffix, size_t suffix_len, char *out) {
    char *o = out;
    memcpy(o, prefix, prefix_len);
    o += prefix_len;
    o += rta_b64_encode(audio, audio_len, o);
    memcpy(o, suffix, suffix_len);
    return (size_t)(o + suffix_len - out);
}

static const char APPEND_HEAD[] = "{\"type\":\"input_audio_buffer.append\",\"audio\":\"";
static const char APPEND_TAIL[] = "\"}";
#define APPEND_HEAD_LEN (sizeof(APPEND_HEAD) - 1)
#define APPEND_TAIL_LEN (sizeof(APPEND_TAIL) - 1)

/* RFC 6455 section 5.2: 2 bytes, then the length in 0, 2 or 8 more, then the 4-byte masking key. */
static size_t ws_header_size(size_t payload_len) {
    return (payload_len < 126 ? 2 : payload_len <= 0xFFFF ? 4 : 10) + 4;
}

size_t rta_append_frame_size(size_t pcm_bytes, rta_audio_format format, int masked) {
    if (!valid_format(format))
        return 0;
    size_t audio = format == RTA_AUDIO_PCM16 ? pcm_bytes : pcm_bytes / 2; /* G.711: one byte a sample */
    size_t text = APPEND_HEAD_LEN + rta_b64_encoded_size(audio) + APPEND_TAIL_LEN;
    return masked ? ws_header_size(text) + text : text;
}

/* A client frame's header: FIN + opcode 1 (one complete text message), then MASK + the payload length
 * in the shortest form, big-endian, then the key. Returns its size. */
static size_t ws_header(unsigned char *o, size_t payload_len, const unsigned char key[4]) {
    size_t n = 0;
    o[n++] = 0x81;
    if (payload_len < 126) {
        o[n++] = (unsigned char)(0x80 | payload_len);
    } else if (payload_len <= 0xFFFF) {
        o[n++] = 0x80 | 126;
        o[n++] = (unsigned char)(payload_len >> 8);
        o[n++] = (unsigned char)payload_len;
    } else {
        o[n++] = 0x80 | 127;
        for (int shift = 56; shift >= 0; shift -= 8)
            o[n++] = (unsigned char)((uint64_t)payload_len >> shift);
    }
    memcpy(o + n, key, 4);
    return n + 4;
}

/* XOR the payload with the key, byte i with key[i % 4]; eight bytes per step (the key repeated twice
 * in memory order is the same 8-byte pattern on any host). */
static void ws_mask(unsigned char *p, size_t n, const unsigned char key[4]) {
    unsigned char twice[8];
    uint64_t k, x;
    memcpy(twice, key, 4);
    memcpy(twice + 4, key, 4);
    memcpy(&k, twice, 8);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&x, p + i, 8);
        x ^= k;
        memcpy(p + i, &x, 8);
    }
    for (; i < n; i++)
        p[i] ^= key[i & 3];
}

/* base64 of a then b as if they were one buffer: each one's whole 3-byte groups straight from where they
 * lie, the group that straddles the two through a 3-byte bridge. Returns the end of the output. */
static char *b64_two(const unsigned char *a, size_t na, const unsigned char *b, size_t nb, char *o) {
    size_t whole = na - na % 3;
    o += rta_b64_encode(a, whole, o);
    if (na > whole) {
        unsigned char bridge[3];
        size_t r = na - whole, take = 3 - r < nb ? 3 - r : nb;
        memcpy(bridge, a + whole, r);
        if (take)
            memcpy(bridge + r, b, take);
        o += rta_b64_encode(bridge, r + take, o); /* padded only if b ran out too: then it is the end */
        b += take;
        nb -= take;
    }
    return o + rta_b64_encode(b, nb, o);
}

/* G.711 on the way to base64: codes gather in a stack buffer whose size is a multiple of 3, so each full
 * buffer's base64 joins the next one's with no padding between. */
#define CODE_CHUNK 1536

typedef struct {
    void (*encode)(const unsigned char *pcm, size_t nsamples, unsigned char *out);
    unsigned char codes[CODE_CHUNK];
    size_t fill;
    char *o;
} g711_b64_state;

static void g711_feed(g711_b64_state *st, const unsigned char *pcm, size_t nsamples) {
    while (nsamples) {
        size_t k = CODE_CHUNK - st->fill < nsamples ? CODE_CHUNK - st->fill : nsamples;
        st->encode(pcm, k, st->codes + st->fill);
        st->fill += k;
        pcm += 2 * k;
        nsamples -= k;
        if (st->fill == CODE_CHUNK) {
            st->o += rta_b64_encode(st->codes, CODE_CHUNK, st->o);
            st->fill = 0;
        }
    }
}

static char *g711_b64(const unsigned char *a, size_t na, const unsigned char *b, size_t nb,
                      rta_audio_format format, char *o) {
    g711_b64_state st;
    st.encode = format == RTA_AUDIO_G711_ULAW ? rta_ulaw_encode : rta_alaw_encode;
    st.fill = 0;
    st.o = o;
    g711_feed(&st, a, na / 2);
    if (na & 1) { /* a sample split by the ring's wrap: its low byte ends a, its high byte starts b */
        unsigned char sample[2] = {a[na - 1], b[0]};
        g711_feed(&st, sample, 1);
        b++;
        nb--;
    }
    g711_feed(&st, b, nb / 2);
    return st.o + rta_b64_encode(st.codes, st.fill, st.o);
}

size_t rta_append_frame(const unsigned char *pcm1, size_t pcm1_len, const unsigned char *pcm2, size_t pcm2_len,
                        rta_audio_format format, const unsigned char *mask_key, char *out) {
    char *o = out;
    if (mask_key)
        o += ws_header((unsigned char *)out, rta_append_frame_size(pcm1_len + pcm2_len, format, 0), mask_key);
    char *payload = o;
    memcpy(o, APPEND_HEAD, APPEND_HEAD_LEN);
    o += APPEND_HEAD_LEN;
    if (format == RTA_AUDIO_PCM16)
        o = b64_two(pcm1, pcm1_len, pcm2, pcm2_len, o);
    else
        o = g711_b64(pcm1, pcm1_len, pcm2, pcm2_len, format, o);
    memcpy(o, APPEND_TAIL, APPEND_TAIL_LEN);
    o += APPEND_TAIL_LEN;
    /* A second pass over the payload, still in L1: simpler than masking inside every encoder above. */
    if (mask_key)
        ws_mask((unsigned char *)payload, (size_t)(o - payload), mask_key);
    return (size_t)(o - out);
}

rta_framing_status rta_append_from_ring(rta_ring *ring, size_t pcm_bytes, rta_audio_format format,
                                        const unsigned char *mask_key, char *out, size_t out_cap,
                                        size_t *out_len) {
    rta_region reg[2];
    if (pcm_bytes == 0 || (pcm_bytes & 1) || !valid_format(format))
        return RTA_FRAMING_EINVAL;
    if (out_cap < rta_append_frame_size(pcm_bytes, format, mask_key != NULL))
        return RTA_FRAMING_ESPACE;
    /* All or nothing: the caller waited for pcm_bytes (wait_readable) and tries again if they are not
     * all there yet. Nothing was taken, so no underrun is counted. */
    if (rta_ring_read_regions(ring, pcm_bytes, reg) < pcm_bytes)
        return RTA_FRAMING_NOT_READY;
    *out_len = rta_append_frame(reg[0].data, reg[0].len, reg[1].data, reg[1].len, format, mask_key, out);
    rta_ring_advance_read(ring, pcm_bytes); /* only now may the producer reuse those bytes */
    return RTA_FRAMING_OK;
}

/* ==== downlink =================================================================================== */

/* ---- a tiny, strict JSON lexer over the members the fast path accepts --------------------------- */

typedef struct {
    const unsigned char *p;
    const unsigned char *end;
} cursor;

static void skip_ws(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int eat(cursor *c, unsigned char ch) {
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A string with no escapes, no control characters and nothing above ASCII (so no UTF-8 to validate).
 * On success s and n span its content and the cursor is past the closing quote. */
/* 8 bytes at once (SWAR): nonzero when any of them is a quote, a backslash, a control character or
 * above ASCII. "Has a zero byte" is (v - 0x01..) & ~v & 0x80..; the < 0x20 test is the same trick with
 * 0x20 (exact while no byte is >= 0x80, and those are caught by the last term anyway). */
static inline uint64_t special8(const unsigned char *p) {
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t v, q, b;
    memcpy(&v, p, 8);
    q = v ^ (ones * '"');
    b = v ^ (ones * '\\');
    return (((q - ones) & ~q) | ((b - ones) & ~b) | ((v - ones * 0x20) & ~v) | v) & high;
}

static int plain_string(cursor *c, const unsigned char **s, size_t *n) {
    if (!eat(c, '"'))
        return 0;
    const unsigned char *start = c->p;
    /* Ids and keys are tens of characters: skip the ordinary ones eight at a time, then look closer. */
    while (c->end - c->p >= 8 && !special8(c->p))
        c->p += 8;
    while (c->p < c->end && *c->p != '"') {
        if (*c->p < 0x20 || *c->p == '\\' || *c->p >= 0x80)
            return 0;
        c->p++;
    }
    if (c->p == c->end)
        return 0;
    *s = start;
    *n = (size_t)(c->p - start);
    c->p++;
    return 1;
}

static int digits(cursor *c) {
    const unsigned char *start = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
        c->p++;
    return c->p > start;
}

/* JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int number(cursor *c) {
    eat(c, '-');
    if (eat(c, '0')) {
        if (c->p < c->end && *c->p >= '0' && *c->p <= '9')
            return 0; /* no leading zeros */
    } else if (!digits(c)) {
        return 0;
    }
    if (eat(c, '.') && !digits(c))
        return 0;
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (!eat(c, '+'))
            eat(c, '-');
        if (!digits(c))
            return 0;
    }
    return 1;
}

static int literal(cursor *c, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, word, n) == 0) {
        c->p += n;
        return 1;
    }
    return 0;
}

/* A scalar value: plain string, number, true, false or null. Objects and arrays are not accepted. */
static int plain_value(cursor *c) {
    const unsigned char *s;
    size_t n;
    if (c->p >= c->end)
        return 0;
    switch (*c->p) {
    case '"':
        return plain_string(c, &s, &n);
    case 't':
        return literal(c, "true");
    case 'f':
        return literal(c, "false");
    case 'n':
        return literal(c, "null");
    default:
        return number(c);
    }
}

static int same(const unsigned char *s, size_t n, const char *word) {
    return n == strlen(word) && memcmp(s, word, n) == 0;
}

/* `same` for a string literal: its length is known at compile time. */
#define SAME(s, n, literal) ((n) == sizeof(literal) - 1 && memcmp((s), (literal), sizeof(literal) - 1) == 0)

static int is_delta_type(const unsigned char *s, size_t n) {
    for (const char *const *t = rta_delta_types; *t; t++) {
        if (same(s, n, *t))
            return 1;
    }
    return 0;
}

rta_delta_kind rta_delta_scan(const char *frame, size_t len, rta_delta_info *info) {
    cursor c = {(const unsigned char *)frame, (const unsigned char *)frame + len};
    const unsigned char *key, *val;
    size_t key_len, val_len;
    info->delta.start = info->item_id.start = info->response_id.start = RTA_NO_SPAN;
    info->delta.len = info->item_id.len = info->response_id.len = 0;

    /* The leading {"type":"<T>" decides for every T without an escape. */
    skip_ws(&c);
    if (!eat(&c, '{'))
        return RTA_DELTA_UNSURE;
    skip_ws(&c);
    if (!plain_string(&c, &key, &key_len) || !SAME(key, key_len, "type"))
        return RTA_DELTA_UNSURE;
    skip_ws(&c);
    if (!eat(&c, ':'))
        return RTA_DELTA_UNSURE;
    skip_ws(&c);
    /* The type string itself may hold anything but a backslash: any such T that is not a delta type
     * answers OTHER (the caller's full decode reports a broken frame). */
    if (c.p >= c.end || *c.p != '"')
        return RTA_DELTA_UNSURE;
    {
        const unsigned char *q = c.p + 1;
        while (q < c.end && *q != '"' && *q != '\\')
            q++;
        if (q == c.end || *q == '\\')
            return RTA_DELTA_UNSURE;
        if (!is_delta_type(c.p + 1, (size_t)(q - c.p - 1)))
            return RTA_DELTA_OTHER;
        c.p = q + 1;
    }

    /* A delta: every further member must be plain, and "delta" must come last. */
    for (;;) {
        skip_ws(&c);
        if (!eat(&c, ','))
            return RTA_DELTA_UNSURE; /* '}' before any "delta": let the full decode report it */
        skip_ws(&c);
        if (!plain_string(&c, &key, &key_len))
            return RTA_DELTA_UNSURE;
        skip_ws(&c);
        if (!eat(&c, ':'))
            return RTA_DELTA_UNSURE;
        skip_ws(&c);
        if (SAME(key, key_len, "type"))
            return RTA_DELTA_UNSURE; /* a second "type" would override the first */
        if (SAME(key, key_len, "delta")) {
            if (!eat(&c, '"'))
                return RTA_DELTA_UNSURE;
            val = c.p;
            const unsigned char *close = memchr(val, '"', (size_t)(c.end - val));
            if (close == NULL)
                return RTA_DELTA_UNSURE;
            val_len = (size_t)(close - val);
            c.p = close + 1;
            skip_ws(&c);
            if (!eat(&c, '}'))
                return RTA_DELTA_UNSURE;
            skip_ws(&c);
            if (c.p != c.end)
                return RTA_DELTA_UNSURE;
            info->delta.start = (size_t)(val - (const unsigned char *)frame);
            info->delta.len = val_len;
            return RTA_DELTA_FOUND;
        }
        /* The ids the caller needs (a new item begins, a dropped response goes on): where their plain
         * strings are. A later duplicate replaces an earlier one, a non-string value counts as none. */
        rta_span *id = SAME(key, key_len, "item_id")       ? &info->item_id
                       : SAME(key, key_len, "response_id") ? &info->response_id
                                                           : NULL;
        if (id && c.p < c.end && *c.p == '"') {
            if (!plain_string(&c, &val, &val_len))
                return RTA_DELTA_UNSURE;
            id->start = (size_t)(val - (const unsigned char *)frame);
            id->len = val_len;
            continue;
        }
        if (!plain_value(&c))
            return RTA_DELTA_UNSURE;
        if (id) {
            id->start = RTA_NO_SPAN;
            id->len = 0;
        }
    }
}

/* ---- a delta's audio into the playout ring ------------------------------------------------------ */

/* Copy n bytes to logical offset `at` of two regions (a ring's free space); at + n fits in them. */
static void put_at(const rta_region reg[2], size_t at, const unsigned char *src, size_t n) {
    if (at < reg[0].len) {
        size_t k = reg[0].len - at < n ? reg[0].len - at : n;
        memcpy(reg[0].data + at, src, k);
        src += k;
        n -= k;
        at = reg[0].len;
    }
    if (n)
        memcpy(reg[1].data + (at - reg[0].len), src, n);
}

static const unsigned char ZERO = 0;

/* Publish `produced` decoded bytes (already in the free space, as far as they fit): padded to a whole
 * sample when there is room for that, else cut to whole samples and counted as an overrun. */
static rta_framing_status publish(rta_ring *ring, const rta_region reg[2], size_t room, size_t produced,
                                  size_t *written) {
    size_t whole = produced + (produced & 1);
    if (whole <= room) {
        if (produced & 1) /* one byte off, every later sample would play byte-swapped: loud noise */
            put_at(reg, produced, &ZERO, 1);
        rta_ring_advance_write(ring, whole);
        *written = whole;
        return RTA_FRAMING_OK;
    }
    *written = room & ~(size_t)1;
    rta_ring_advance_write(ring, *written);
    rta_ring_note_overrun(ring);
    return RTA_FRAMING_OVERRUN;
}

/* Characters per step of the chunked decode: whole quads, 1152 bytes (2304 of PCM from G.711) on the
 * stack. */
#define B64_CHUNK 1536

/* The general path (G.711, or a ring without room for all of it): decode a chunk at a time into the
 * stack, convert, copy what fits into the free space, and go on decoding past the room only to
 * validate the rest. Nothing is published until the whole text has proved good. */
static rta_framing_status decode_chunked(const char *b64, size_t len, rta_audio_format format, rta_ring *ring,
                                         size_t *written) {
    unsigned char bytes[B64_CHUNK / 4 * 3], pcm[B64_CHUNK / 4 * 3 * 2];
    rta_region reg[2];
    size_t room = rta_ring_write_regions(ring, SIZE_MAX, reg), produced = 0;
    for (size_t at = 0; at < len; at += B64_CHUNK) {
        size_t n_chars = len - at < B64_CHUNK ? len - at : B64_CHUNK, n;
        /* A chunk decoded alone takes a '=' at its end as padding: only the very end may have one. */
        if (at + n_chars < len && b64[at + n_chars - 1] == '=')
            return RTA_FRAMING_EBASE64;
        if (rta_b64_decode(b64 + at, n_chars, bytes, &n, NULL) != RTA_B64_OK)
            return RTA_FRAMING_EBASE64;
        const unsigned char *data = bytes;
        if (format != RTA_AUDIO_PCM16) {
            (format == RTA_AUDIO_G711_ULAW ? rta_ulaw_decode : rta_alaw_decode)(bytes, n, pcm);
            data = pcm;
            n *= 2;
        }
        if (produced < room)
            put_at(reg, produced, data, room - produced < n ? room - produced : n);
        produced += n;
    }
    return publish(ring, reg, room, produced, written);
}

rta_framing_status rta_delta_decode_into(const char *b64, size_t b64_len, rta_audio_format format, rta_ring *ring,
                                         size_t *written) {
    rta_region reg[2];
    size_t n;
    *written = 0;
    if (!valid_format(format))
        return RTA_FRAMING_EINVAL;
    if (format == RTA_AUDIO_PCM16) {
        /* The common case: the ring has room, and the base64 decodes straight into its free space. The
         * size is counted from the text (exact for valid base64, which is all that gets published). */
        size_t need = rta_b64_decoded_size(b64, b64_len);
        size_t room = rta_ring_write_regions(ring, need + (need & 1), reg);
        if (room == need + (need & 1)) {
            if (rta_b64_decode_split(b64, b64_len, reg[0].data, reg[0].len, reg[1].data, &n, NULL) != RTA_B64_OK)
                return RTA_FRAMING_EBASE64;
            return publish(ring, reg, room, n, written);
        }
    }
    return decode_chunked(b64, b64_len, format, ring, written);
}
