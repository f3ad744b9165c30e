/* rta_framing: see rta_framing.h for what each answer promises. */
#include "rta_framing.h"

#include <string.h>

#include "rta_b64.h"

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
static int plain_string(cursor *c, const unsigned char **s, size_t *n) {
    if (!eat(c, '"'))
        return 0;
    const unsigned char *start = c->p;
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

static int is_delta_type(const unsigned char *s, size_t n) {
    return same(s, n, "response.audio.delta") || same(s, n, "response.output_audio.delta");
}

rta_delta_kind rta_delta_scan(const char *frame, size_t len, rta_delta_info *info) {
    cursor c = {(const unsigned char *)frame, (const unsigned char *)frame + len};
    const unsigned char *key, *val;
    size_t key_len, val_len;

    /* The leading {"type":"<T>" decides for every T without an escape. */
    skip_ws(&c);
    if (!eat(&c, '{'))
        return RTA_DELTA_UNSURE;
    skip_ws(&c);
    if (!plain_string(&c, &key, &key_len) || !same(key, key_len, "type"))
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
        if (same(key, key_len, "type"))
            return RTA_DELTA_UNSURE; /* a second "type" would override the first */
        if (same(key, key_len, "delta")) {
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
            info->delta_start = (size_t)(val - (const unsigned char *)frame);
            info->delta_len = val_len;
            return RTA_DELTA_FOUND;
        }
        if (!plain_value(&c))
            return RTA_DELTA_UNSURE;
    }
}
