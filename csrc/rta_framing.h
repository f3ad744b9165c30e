/*
 * rta_framing: audio events on the Realtime wire, without a JSON library.
 *
 * Uplink, text only: rta_frame_append writes `prefix + base64(audio) + suffix` in one pass; the caller
 * supplies the JSON around the audio (for input_audio_buffer.append: '{"type":"input_audio_buffer.append",
 * "audio":"' and '"}'), so this file never needs to know how to escape a string.
 *
 * Uplink, fused: rta_append_from_ring takes `pcm_bytes` of mono PCM16 from a ring (the consumer side),
 * optionally encodes them to G.711 on the way, and writes the complete input_audio_buffer.append text,
 * or the complete masked RFC 6455 client frame carrying it (FIN + text opcode, MASK bit, 7/16/64-bit
 * length, the key, the payload XORed with the key), into a caller buffer sized by rta_append_frame_size.
 * One pass, no allocation; the ring's two read regions are read in place, so a wrap costs nothing.
 *
 * Downlink: rta_delta_scan reads a raw server frame and says whether it is an audio delta (one of
 * rta_delta_types) and where its base64 `delta` string and its `item_id` / `response_id` strings lie.
 * It answers only when it can vouch for the frame:
 *   RTA_DELTA_OTHER  the frame starts with {"type":"<T>" (JSON whitespace allowed, no escapes in T) and T
 *                    is not an audio delta. The rest of the frame is not examined.
 *   RTA_DELTA_FOUND  the whole frame is a well-formed JSON object whose first member is the delta type,
 *                    whose other members have plain values (strings without escapes or control
 *                    characters, numbers, true/false/null), no other "type" member, and whose last
 *                    member is "delta" with a string value; info says where that string is. Its content
 *                    is NOT checked here: the base64 decoder rejects anything outside its alphabet,
 *                    including the backslash of a JSON escape, and the caller then falls back.
 *                    item_id / response_id: the span of the member's string (ASCII, no escapes: usable
 *                    as is), or RTA_NO_SPAN when the member is absent or not a string; of duplicate
 *                    members the last one counts, as in a JSON decoder.
 *   RTA_DELTA_UNSURE anything else (other field orders, escapes, nested values, non-ASCII, broken
 *                    JSON): the caller decodes the frame with a full JSON parser.
 * rta_delta_decode_into then writes the delta's audio into a ring (the producer side) as PCM16.
 */
#ifndef RTA_FRAMING_H
#define RTA_FRAMING_H

#include <stddef.h>

#include "rta_ring.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The audio delta event types, beta dialect first, then GA; NULL-terminated. The one list in the code
 * base: the Python layers build their sets from it. */
extern const char *const rta_delta_types[];

/* The wire formats of a session's audio. The rings always hold mono PCM16. */
typedef enum {
    RTA_AUDIO_PCM16 = 0,     /* sent as is */
    RTA_AUDIO_G711_ULAW = 1, /* one mu-law code a sample */
    RTA_AUDIO_G711_ALAW = 2, /* one A-law code a sample */
} rta_audio_format;

typedef enum {
    RTA_FRAMING_OK = 0,
    RTA_FRAMING_NOT_READY = 1, /* rta_append_from_ring: fewer bytes readable than asked; nothing read */
    RTA_FRAMING_OVERRUN = 2,   /* rta_delta_decode_into: only what fit was written; an overrun counted */
    RTA_FRAMING_EINVAL = -1,   /* a PCM byte count that is zero or odd, or an unknown format */
    RTA_FRAMING_ESPACE = -2,   /* the output buffer is smaller than rta_append_frame_size(); nothing read */
    RTA_FRAMING_EBASE64 = -3,  /* the delta is not strict base64; nothing written */
} rta_framing_status;

/* ---- uplink ---- */

size_t rta_frame_append_size(size_t prefix_len, size_t audio_len, size_t suffix_len);
/* Writes rta_frame_append_size(...) bytes to out. Returns that length. */
size_t rta_frame_append(const char *prefix, size_t prefix_len, const unsigned char *audio, size_t audio_len,
                        const char *suffix, size_t suffix_len, char *out);

/* Bytes rta_append_from_ring writes for `pcm_bytes` of PCM16 sent as `format`: the JSON text, or with
 * `masked` the whole WebSocket frame. 0 for an invalid format. */
size_t rta_append_frame_size(size_t pcm_bytes, rta_audio_format format, int masked);

/* The append event for the PCM16 in two pieces (a ring's read regions: pcm1 then pcm2; either may end
 * mid-sample), into out (rta_append_frame_size bytes). mask_key: NULL for the text, or the 4-byte key of
 * a masked client frame. Returns the bytes written. pcm1_len + pcm2_len must be even. */
size_t rta_append_frame(const unsigned char *pcm1, size_t pcm1_len, const unsigned char *pcm2, size_t pcm2_len,
                        rta_audio_format format, const unsigned char *mask_key, char *out);

/* Consumer side of `ring`: when `pcm_bytes` (even, > 0) are readable, frame them as rta_append_frame does
 * and release them from the ring; *out_len is the frame's length. Checks, in this order, with nothing
 * read on failure: EINVAL, ESPACE (out_cap too small), NOT_READY (fewer than pcm_bytes readable). */
rta_framing_status rta_append_from_ring(rta_ring *ring, size_t pcm_bytes, rta_audio_format format,
                                        const unsigned char *mask_key, char *out, size_t out_cap,
                                        size_t *out_len);

/* ---- downlink ---- */

typedef enum {
    RTA_DELTA_UNSURE = -1,
    RTA_DELTA_OTHER = 0,
    RTA_DELTA_FOUND = 1,
} rta_delta_kind;

#define RTA_NO_SPAN ((size_t)-1)

typedef struct {
    size_t start; /* offset of the first character inside the string's quotes; RTA_NO_SPAN: none */
    size_t len;   /* characters up to the closing quote */
} rta_span;

typedef struct {
    rta_span delta;
    rta_span item_id;
    rta_span response_id;
} rta_delta_info;

rta_delta_kind rta_delta_scan(const char *frame, size_t len, rta_delta_info *info);

/* Producer side of `ring`: decode the base64 text of a delta (b64_len characters: a span found by
 * rta_delta_scan, or the string of a full JSON decode) into the ring as PCM16. pcm16 goes in as is,
 * an odd byte count (a broken delta) padded with one zero byte so the ring stays on sample boundaries;
 * G.711 codes are decoded to two bytes each. The whole text is validated before anything is published.
 *   OK       everything written; *written is its byte count (pad included).
 *   OVERRUN  the ring had room for less: what fit was written, in whole samples (*written), and the
 *            ring's overrun counter went up.
 *   EBASE64  not strict base64; nothing written (*written = 0).
 *   EINVAL   an unknown format; nothing written. */
rta_framing_status rta_delta_decode_into(const char *b64, size_t b64_len, rta_audio_format format, rta_ring *ring,
                                         size_t *written);

#ifdef __cplusplus
}
#endif
#endif /* RTA_FRAMING_H */
