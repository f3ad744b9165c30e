# Declarations of csrc/rta_framing.h.

cdef extern from "rta_framing.h" nogil:
    size_t rta_frame_append_size(size_t prefix_len, size_t audio_len, size_t suffix_len)
    size_t rta_frame_append(const char *prefix, size_t prefix_len, const unsigned char *audio,
                            size_t audio_len, const char *suffix, size_t suffix_len, char *out)

    ctypedef enum rta_delta_kind:
        RTA_DELTA_UNSURE
        RTA_DELTA_OTHER
        RTA_DELTA_FOUND

    ctypedef struct rta_delta_info:
        size_t delta_start
        size_t delta_len

    rta_delta_kind rta_delta_scan(const char *frame, size_t len, rta_delta_info *info)
