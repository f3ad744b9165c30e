# Declarations of csrc/rta_g711.h.

cdef extern from "rta_g711.h" nogil:
    void rta_g711_init()
    void rta_ulaw_encode(const unsigned char *pcm, size_t nsamples, unsigned char *out)
    void rta_alaw_encode(const unsigned char *pcm, size_t nsamples, unsigned char *out)
    void rta_ulaw_decode(const unsigned char *codes, size_t n, unsigned char *out)
    void rta_alaw_decode(const unsigned char *codes, size_t n, unsigned char *out)
