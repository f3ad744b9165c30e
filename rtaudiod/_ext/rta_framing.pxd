# Declarations of csrc/rta_framing.h.
from rtaudiod._ext.rta_ring cimport rta_ring


cdef extern from "rta_framing.h" nogil:
    const char *const rta_delta_types[]

    ctypedef enum rta_audio_format:
        RTA_AUDIO_PCM16
        RTA_AUDIO_G711_ULAW
        RTA_AUDIO_G711_ALAW

    ctypedef enum rta_framing_status:
        RTA_FRAMING_OK
        RTA_FRAMING_NOT_READY
        RTA_FRAMING_OVERRUN
        RTA_FRAMING_EINVAL
        RTA_FRAMING_ESPACE
        RTA_FRAMING_EBASE64

    size_t rta_frame_append_size(size_t prefix_len, size_t audio_len, size_t suffix_len)
    size_t rta_frame_append(const char *prefix, size_t prefix_len, const unsigned char *audio,
                            size_t audio_len, const char *suffix, size_t suffix_len, char *out)
    size_t rta_append_frame_size(size_t pcm_bytes, rta_audio_format format, int masked)
    rta_framing_status rta_append_from_ring(rta_ring *ring, size_t pcm_bytes, rta_audio_format format,
                                            const unsigned char *mask_key, char *out, size_t out_cap,
                                            size_t *out_len)

    ctypedef enum rta_delta_kind:
        RTA_DELTA_UNSURE
        RTA_DELTA_OTHER
        RTA_DELTA_FOUND

    size_t RTA_NO_SPAN

    ctypedef struct rta_span:
        size_t start
        size_t len

    ctypedef struct rta_delta_info:
        rta_span delta
        rta_span item_id
        rta_span response_id

    rta_delta_kind rta_delta_scan(const char *frame, size_t len, rta_delta_info *info)
    rta_framing_status rta_delta_decode_into(const char *b64, size_t b64_len, rta_audio_format format,
                                             rta_ring *ring, size_t *written)
