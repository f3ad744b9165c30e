/*
 * rta_g711: ITU-T G.711 mu-law and A-law of 16-bit little-endian PCM.
 *
 * Bit-exact with the Sun Microsystems reference code as CPython's audioop carries it (lin2ulaw,
 * ulaw2lin, lin2alaw, alaw2lin at width 2): mu-law encodes the top 14 bits of a sample, A-law the top 13.
 * Encoding is one table lookup per sample (tables built once from the reference functions, see
 * rta_g711.c); decoding is a 256-entry table. Sizes: encode n samples -> n bytes; decode n bytes -> 2n.
 */
#ifndef RTA_G711_H
#define RTA_G711_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Build the tables. Thread-safe and idempotent; the functions below call it themselves. */
void rta_g711_init(void);

/* pcm: `nsamples` int16 little-endian samples (2 * nsamples bytes); out: nsamples bytes. */
void rta_ulaw_encode(const unsigned char *pcm, size_t nsamples, unsigned char *out);
void rta_alaw_encode(const unsigned char *pcm, size_t nsamples, unsigned char *out);

/* codes: n bytes; out: n int16 little-endian samples (2 * n bytes). */
void rta_ulaw_decode(const unsigned char *codes, size_t n, unsigned char *out);
void rta_alaw_decode(const unsigned char *codes, size_t n, unsigned char *out);

/* Decoding uses SSSE3 on x86-64 CPUs that have it. rta_g711_force_scalar(1) selects the portable
 * table loop (for tests and comparisons), (0) restores the automatic choice. Returns 1 when a vector
 * decoder is active afterwards. Not thread-safe against concurrent decodes. */
int rta_g711_force_scalar(int scalar);

/* The reference functions themselves (one sample), exposed for the C tests. */
unsigned char rta_ulaw_from_linear14(int16_t pcm_val);
unsigned char rta_alaw_from_linear13(int16_t pcm_val);
int16_t rta_ulaw_to_linear16(unsigned char code);
int16_t rta_alaw_to_linear16(unsigned char code);

#ifdef __cplusplus
}
#endif
#endif /* RTA_G711_H */
