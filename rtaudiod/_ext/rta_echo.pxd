# Declarations of csrc/rta_echo.h (only what the wrappers use).
from libc.stdint cimport int16_t, uint64_t


cdef extern from "rta_echo.h" nogil:
    ctypedef struct rta_echo:
        pass

    ctypedef enum rta_echo_engine:
        RTA_ECHO_SPEEX
        RTA_ECHO_WEBRTC
        RTA_ECHO_WEBRTC_SPEEX

    ctypedef enum rta_echo_status:
        RTA_ECHO_OK
        RTA_ECHO_EINVAL
        RTA_ECHO_ENOMEM
        RTA_ECHO_EENGINE

    ctypedef struct rta_echo_config:
        rta_echo_engine engine
        int rate
        int tail_ms
        int max_delay_ms
        int delay_ms
        int suppress

    ctypedef struct rta_echo_figures:
        float erle_db
        float delay_ms
        int delay_locked
        int converged
        uint64_t blocks
        uint64_t echo_blocks

    int RTA_ECHO_DEFAULT
    float RTA_ECHO_CONVERGED_DB

    void rta_echo_config_default(rta_echo_config *config, int rate)
    rta_echo *rta_echo_create(const rta_echo_config *config, rta_echo_status *status)
    void rta_echo_destroy(rta_echo *echo)
    size_t rta_echo_block_frames(const rta_echo *echo)
    rta_echo_status rta_echo_process(rta_echo *echo, const int16_t *mic_in, const int16_t *ref_in, int16_t *out,
                                     size_t n)
    void rta_echo_reset(rta_echo *echo)
    void rta_echo_set_drift(rta_echo *echo, double ppm)
    void rta_echo_read_figures(const rta_echo *echo, rta_echo_figures *figures)
    const char *rta_echo_engine_name(rta_echo_engine engine)
