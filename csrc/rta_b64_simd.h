/*
 * rta_b64_simd: vector kernels for the bulk of base64 encode and decode (internal to rta_b64.c).
 *
 * A kernel handles whole blocks only and says how far it got; rta_b64.c runs the scalar code on the
 * rest (the tail, the padded last quad, and the exact position and kind of any error). So a kernel
 * never has to be right about errors: it only has to stop at or before the first block holding a
 * character outside the alphabet, and decode every block before it exactly as the scalar code would.
 */
#ifndef RTA_B64_SIMD_H
#define RTA_B64_SIMD_H

#include <stddef.h>

typedef struct {
    const char *name;
    /* Encode a prefix of src[0..n) made of whole blocks; returns the bytes consumed (a multiple of 3)
     * and writes 4/3 as many characters to out. Reads nothing at or past src + n. */
    size_t (*encode)(const unsigned char *src, size_t n, char *out);
    /* Decode a prefix of src[0..len) made of whole blocks of alphabet characters (no '=', no
     * padding); returns the characters consumed (a multiple of 4), stopping at the start of the first
     * block that holds anything else, and writes 3/4 as many bytes to out, nothing past them. */
    size_t (*decode)(const unsigned char *src, size_t len, unsigned char *out);
} rta_b64_kernel;

/* The vector kernels this CPU can run, best first, NULL-terminated (just NULL when there are none). */
const rta_b64_kernel *const *rta_b64_simd_kernels(void)
#if defined(__GNUC__) && defined(__ELF__)
    /* Weak, so that a program linked without rta_b64_simd.c (a test driver with its own list of
     * sources) still links: rta_b64.c then finds the symbol null and runs the scalar code only. */
    __attribute__((weak))
#endif
    ;

#endif /* RTA_B64_SIMD_H */
