/*
 * rta_b64: base64 (RFC 4648, standard alphabet, padded) into caller buffers.
 *
 * Encoding never fails. Decoding is strict, accepting exactly what CPython's
 * binascii.a2b_base64(..., strict_mode=True) accepts: length a multiple of 4, only A-Z a-z 0-9 + /,
 * '=' only as one or two padding characters at the very end, no whitespace. Anything else returns an
 * error code and the offset of the first offending character; the output buffer is then undefined.
 * Trailing bits of the last character that the padding leaves unused are ignored, as binascii does.
 */
#ifndef RTA_B64_H
#define RTA_B64_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    RTA_B64_OK = 0,
    RTA_B64_EBADCHAR = -1, /* a character outside the alphabet (whitespace, '-', '_', a quote, ...) */
    RTA_B64_EPADDING = -2, /* '=' somewhere other than the last one or two characters */
    RTA_B64_ELENGTH = -3,  /* length not a multiple of 4 */
} rta_b64_status;

/* Exact encoded length of n bytes: 4 * ceil(n / 3). */
size_t rta_b64_encoded_size(size_t n);

/* Writes rta_b64_encoded_size(n) characters to out (no terminator). Returns that length. */
size_t rta_b64_encode(const unsigned char *src, size_t n, char *out);

/* Decoded length of a well-formed input of `len` characters ending in `src[len-2..len-1]`
 * (accounts for padding); for malformed input an upper bound. */
size_t rta_b64_decoded_size(const char *src, size_t len);

/* Decode `len` characters into `out` (rta_b64_decoded_size(src, len) bytes). On success *out_len is
 * the byte count; on failure *err_pos (if not NULL) is the offset of the first offending character. */
rta_b64_status rta_b64_decode(const char *src, size_t len, unsigned char *out, size_t *out_len,
                              size_t *err_pos);

/* The same, with the output split across two regions (a ring's write regions): the first `cap1`
 * bytes go to out1, the rest to out2. */
rta_b64_status rta_b64_decode_split(const char *src, size_t len, unsigned char *out1, size_t cap1,
                                    unsigned char *out2, size_t *out_len, size_t *err_pos);

/* The kernel doing the bulk of encode and decode: "avx2", "ssse3", "neon" or "scalar". The best one
 * this CPU runs is chosen on first use; results never depend on the choice. */
const char *rta_b64_impl(void);

/* Use kernel `name` from now on, in every thread (of this copy of the library: each Python extension
 * links its own). Returns 0, or -1 if this build or CPU has no such kernel. For tests and benchmarks. */
int rta_b64_force_impl(const char *name);

/* A short human-readable reason for a status. */
const char *rta_b64_strerror(rta_b64_status status);

#ifdef __cplusplus
}
#endif
#endif /* RTA_B64_H */
