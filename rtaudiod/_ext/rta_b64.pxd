# Declarations of csrc/rta_b64.h.

cdef extern from "rta_b64.h" nogil:
    ctypedef enum rta_b64_status:
        RTA_B64_OK
        RTA_B64_EBADCHAR
        RTA_B64_EPADDING
        RTA_B64_ELENGTH

    size_t rta_b64_encoded_size(size_t n)
    size_t rta_b64_encode(const unsigned char *src, size_t n, char *out)
    size_t rta_b64_decoded_size(const char *src, size_t len)
    rta_b64_status rta_b64_decode(const char *src, size_t len, unsigned char *out, size_t *out_len,
                                  size_t *err_pos)
    rta_b64_status rta_b64_decode_split(const char *src, size_t len, unsigned char *out1, size_t cap1,
                                        unsigned char *out2, size_t *out_len, size_t *err_pos)
    const char *rta_b64_impl()
    int rta_b64_force_impl(const char *name)
    const char *rta_b64_strerror(rta_b64_status status)
