/*
 * rta_framing: audio events on the Realtime wire, without a JSON library.
 *
 * Uplink: rta_frame_append writes `prefix + base64(audio) + suffix` in one pass; the caller supplies
 * the JSON around the audio (for input_audio_buffer.append: '{"type":"input_audio_buffer.append",
 * "audio":"' and '"}'), so this file never needs to know how to escape a string.
 *
 * Downlink: rta_delta_scan reads a raw server frame and says whether it is an audio delta
 * (`response.audio.delta` in the beta dialect, `response.output_audio.delta` in GA) and where its
 * base64 `delta` string lies. It answers only when it can vouch for the frame:
 *   RTA_DELTA_OTHER  the frame starts with {"type":"<T>" (JSON whitespace allowed, no escapes in T) and T
 *                    is not an audio delta. The rest of the frame is not examined.
 *   RTA_DELTA_FOUND  the whole frame is a well-formed JSON object whose first member is the delta type,
 *                    whose other members have plain values (strings without escapes or control
 *                    characters, numbers, true/false/null), no other "type" member, and whose last
 *                    member is "delta" with a string value; info says where that string is. Its content
 *                    is NOT checked here: the base64 decoder rejects anything outside its alphabet,
 *                    including the backslash of a JSON escape, and the caller then falls back.
 *   RTA_DELTA_UNSURE anything else (other field orders, escapes, nested values, non-ASCII, broken
 *                    JSON): the caller decodes the frame with a full JSON parser.
 */
#ifndef RTA_FRAMING_H
#define RTA_FRAMING_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

size_t rta_frame_append_size(size_t prefix_len, size_t audio_len, size_t suffix_len);
/* Writes rta_frame_append_size(...) bytes to out. Returns that length. */
size_t rta_frame_append(const char *prefix, size_t prefix_len, const unsigned char *audio, size_t audio_len,
                        const char *suffix, size_t suffix_len, char *out);

typedef enum {
    RTA_DELTA_UNSURE = -1,
    RTA_DELTA_OTHER = 0,
    RTA_DELTA_FOUND = 1,
} rta_delta_kind;

typedef struct {
    size_t delta_start; /* offset of the first character inside the delta string's quotes */
    size_t delta_len;   /* characters up to the closing quote */
} rta_delta_info;

rta_delta_kind rta_delta_scan(const char *frame, size_t len, rta_delta_info *info);

#ifdef __cplusplus
}
#endif
#endif /* RTA_FRAMING_H */
