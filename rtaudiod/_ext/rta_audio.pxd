# Declarations of csrc/rta_audio.h, rta_pacer.h, rta_pa.h and rta_pulse.h (only what the wrappers use).
from libc.stdint cimport int16_t, int64_t, uint64_t

from rtaudiod._ext.rta_echo cimport rta_echo, rta_echo_config, rta_echo_status
from rtaudiod._ext.rta_ring cimport rta_ring


cdef extern from "rta_audio.h" nogil:
    ctypedef enum rta_audio_status:
        RTA_AUDIO_OK
        RTA_AUDIO_EINVAL
        RTA_AUDIO_ENOMEM
        RTA_AUDIO_ESOXR

    int64_t rta_now_ns()

    ctypedef struct rta_duplex:
        int64_t audible_until_ns
        int64_t tail_ns
        int enabled

    ctypedef struct rta_stamp:
        uint64_t start
        int64_t heard_ns

    ctypedef struct rta_range:
        uint64_t begin
        uint64_t end

    ctypedef struct rta_ledger:
        pass

    rta_ledger *rta_ledger_create()
    void rta_ledger_destroy(rta_ledger *led)
    void rta_ledger_mark(rta_ledger *led, uint64_t start)
    void rta_ledger_set_end_mark(rta_ledger *led, int64_t end_mark)
    uint64_t rta_ledger_handed(rta_ledger *led)
    uint64_t rta_ledger_played_total(rta_ledger *led)
    uint64_t rta_ledger_heard_total(rta_ledger *led, int64_t now_ns)
    uint64_t rta_ledger_read_pos(rta_ledger *led)
    size_t rta_ledger_drain_ranges(rta_ledger *led, rta_range *out, size_t max)
    size_t rta_ledger_drain_stamps(rta_ledger *led, rta_stamp *out, size_t max)
    void rta_ledger_skip_idle(rta_ledger *led, uint64_t n)

    ctypedef struct rta_capture:
        pass

    ctypedef struct rta_capture_config:
        int device_rate, channels, frames, session_rate, quality

    rta_capture *rta_capture_create(const rta_capture_config *cfg, rta_ring *ring, rta_duplex *duplex,
                                    rta_audio_status *status)
    void rta_capture_destroy(rta_capture *cap)
    void rta_capture_process(rta_capture *cap, const int16_t *inp, size_t frames, int64_t now_ns, int64_t adc_ns)
    void rta_capture_set_muted(rta_capture *cap, int muted)
    void rta_capture_set_gain(rta_capture *cap, float gain)
    void rta_capture_set_tap(rta_capture *cap, rta_ring *tap)
    ctypedef int (*rta_capture_stage_fn)(void *ctx, int16_t *mono, size_t frames, int64_t adc_ns)
    void rta_capture_set_stage(rta_capture *cap, rta_capture_stage_fn fn, void *ctx)

    ctypedef struct rta_capture_stats:
        uint64_t frames_in, bytes_written, dropped_bytes, gated_frames
        int gated
        float rms, peak, gain

    void rta_capture_stats_get(rta_capture *cap, rta_capture_stats *st)

    ctypedef struct rta_playout:
        pass

    ctypedef struct rta_playout_config:
        int session_rate, device_rate, channels, frames, quality
        float fade_ms
        int prebuffer_ms, max_prebuffer_ms, raise_ms, lower_ms, relax_ms
        int64_t device_latency_ns

    rta_playout *rta_playout_create(const rta_playout_config *cfg, rta_ring *ring, rta_ledger *led,
                                    rta_duplex *duplex, rta_audio_status *status)
    void rta_playout_destroy(rta_playout *p)
    int rta_playout_fill(rta_playout *p, int16_t *out, size_t frames, int64_t now_ns, int64_t dac_delay_ns)
    void rta_playout_flush(rta_playout *p, uint64_t written)
    int rta_playout_flush_pending(rta_playout *p)
    void rta_playout_close(rta_playout *p)
    void rta_playout_set_reference(rta_playout *p, rta_ring *ref)

    ctypedef struct rta_playout_stats:
        uint64_t underruns, drained, flushes, callbacks, raises, ref_dropped
        int playing, target_ms
        float rms, peak
        int64_t audible_until_ns

    void rta_playout_stats_get(rta_playout *p, rta_playout_stats *st)


cdef extern from "rta_pacer.h" nogil:
    ctypedef struct rta_pacer:
        pass

    ctypedef struct rta_pacer_config:
        int rate, channels, frames, realtime
        rta_capture *capture
        const int16_t *input
        size_t input_frames
        rta_playout *playout
        int out_fd
        uint64_t out_data_bytes

    rta_pacer *rta_pacer_start(const rta_pacer_config *cfg, rta_audio_status *status)
    void rta_pacer_stop(rta_pacer *p)
    int rta_pacer_active(rta_pacer *p)
    int rta_pacer_finished(rta_pacer *p)
    uint64_t rta_pacer_out_bytes(rta_pacer *p)
    uint64_t rta_pacer_errors(rta_pacer *p)
    int rta_pacer_last_errno(rta_pacer *p)


cdef extern from "rta_pa.h" nogil:
    ctypedef struct rta_pa_stream:
        pass

    int rta_pa_initialize()
    int rta_pa_terminate()
    const char *rta_pa_error_text(int err)
    int rta_pa_open_input(rta_pa_stream **out, int device, int rate, int channels, int frames, rta_capture *cap)
    int rta_pa_open_output(rta_pa_stream **out, int device, int rate, int channels, int frames, rta_playout *play)
    int rta_pa_start(rta_pa_stream *s)
    int rta_pa_abort(rta_pa_stream *s)
    int rta_pa_close(rta_pa_stream *s)
    int rta_pa_active(rta_pa_stream *s)
    double rta_pa_latency(rta_pa_stream *s)
    uint64_t rta_pa_xruns(rta_pa_stream *s)
    uint64_t rta_pa_callbacks(rta_pa_stream *s)


cdef extern from "rta_pulse.h" nogil:
    ctypedef struct rta_pulse:
        pass
    ctypedef struct rta_pulse_stream:
        pass
    ctypedef struct rta_pulse_stream_config:
        const char *device
        int rate, channels, frames, buffer_frames, period_frames
        const char *role
        rta_playout *playout
        rta_capture *capture
    int rta_pulse_connect(rta_pulse **out, const char *app_name, int timeout_ms, char *err, size_t errlen)
    void rta_pulse_disconnect(rta_pulse *p)
    int rta_pulse_connected(rta_pulse *p)
    int rta_pulse_open(rta_pulse_stream **out, rta_pulse *p, const rta_pulse_stream_config *cfg, char *err,
                       size_t errlen)
    int rta_pulse_start(rta_pulse_stream *s)
    int rta_pulse_stop(rta_pulse_stream *s)
    void rta_pulse_close(rta_pulse_stream *s)
    void rta_pulse_flush(rta_pulse_stream *s, uint64_t written)
    int rta_pulse_active(rta_pulse_stream *s)
    double rta_pulse_latency(rta_pulse_stream *s)
    uint64_t rta_pulse_xruns(rta_pulse_stream *s)
    uint64_t rta_pulse_callbacks(rta_pulse_stream *s)
    const char *rta_pulse_error_text(int err)


cdef extern from "rta_echo_stage.h" nogil:
    ctypedef struct rta_echo_stage:
        pass

    ctypedef struct rta_echo_stage_stats:
        uint64_t short_frames, trimmed_frames, bypassed, realigned, slips
        float drift_ppm

    rta_echo_stage *rta_echo_stage_create(const rta_echo_config *config, rta_ring *ref, size_t max_frames,
                                          int history_ms, rta_echo_status *status)
    void rta_echo_stage_destroy(rta_echo_stage *stage)
    int rta_echo_stage_process(void *ctx, int16_t *mono, size_t frames, int64_t adc_ns)
    rta_echo *rta_echo_stage_echo(rta_echo_stage *stage)
    void rta_echo_stage_stats_get(rta_echo_stage *stage, rta_echo_stage_stats *st)
