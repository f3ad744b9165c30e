"""The real-time audio path over csrc/rta_audio.c, rta_pacer.c and rta_pa.c: capture and playout processors run
by a device's own thread (PortAudio's, or the pacer's), never taking the GIL. The contracts are at the top of the
headers; the readable twins with the same API are rtaudiod/audio/capture.py and playout.py (and the Python
ledger's consumer side, rtaudiod/audio/ledger.py)."""

cimport cython
from cpython.buffer cimport PyBuffer_Release
from libc.stdint cimport int16_t, int64_t, uint64_t
from libc.stdlib cimport calloc, free

from rtaudiod._ext._buffers cimport get_bytes, get_writable
from rtaudiod._ext._ring cimport RingBuffer
from rtaudiod._ext.rta_audio cimport *
from rtaudiod._ext.rta_echo cimport (
    RTA_ECHO_ENOMEM, RTA_ECHO_SPEEX, RTA_ECHO_WEBRTC, RTA_ECHO_WEBRTC_SPEEX,
    rta_echo_config_default,
    rta_echo_figures, rta_echo_read_figures,
)

QUALITY = {"QQ": 0, "LQ": 1, "MQ": 2, "HQ": 4, "VHQ": 6}  # soxr.h's recipes (HQ = 20-bit, VHQ = 28-bit)


cdef int _check(rta_audio_status status, str what) except -1:
    if status == RTA_AUDIO_OK:
        return 0
    if status == RTA_AUDIO_ENOMEM:
        raise MemoryError(what)
    if status == RTA_AUDIO_ESOXR:
        raise ValueError(f"{what}: libsoxr refused the rates or the quality")
    raise ValueError(f"{what}: a rate, channel count or frame count out of range")


cdef int _quality(str quality) except -1:
    try:
        return QUALITY[quality]
    except KeyError:
        raise ValueError(f"resample quality must be one of {', '.join(QUALITY)}, got {quality!r}") from None


cdef class Duplex:
    """When the speaker's audio stops sounding (the playout writes it) and whether the microphone is gated until
    then plus a tail (the capture reads it): half-duplex without Python in either callback."""
    cdef rta_duplex *_d

    def __cinit__(self):
        self._d = <rta_duplex *>calloc(1, sizeof(rta_duplex))
        if self._d == NULL:
            raise MemoryError()

    def __dealloc__(self):
        free(self._d)

    @property
    def audible_until(self) -> float:
        return self._d.audible_until_ns / 1e9

    def set(self, bint enabled, double tail_s):
        self._d.tail_ns = <int64_t>(tail_s * 1e9)
        self._d.enabled = enabled


cdef class LedgerCore:
    """The played-sample ledger's consumer side, written by the playout callback (rta_ledger); outlives playouts
    (a reopened device goes on from where the last one stopped). PlayoutLedger reads it under its own lock."""
    cdef rta_ledger *_led

    def __cinit__(self):
        self._led = rta_ledger_create()
        if self._led == NULL:
            raise MemoryError()

    def __dealloc__(self):
        rta_ledger_destroy(self._led)

    def mark(self, uint64_t start):
        rta_ledger_mark(self._led, start)

    def set_end_mark(self, int64_t end_mark):
        rta_ledger_set_end_mark(self._led, end_mark)

    @property
    def handed(self) -> int:
        return rta_ledger_handed(self._led)

    @property
    def played_total(self) -> int:
        return rta_ledger_played_total(self._led)

    @property
    def read_pos(self) -> int:
        return rta_ledger_read_pos(self._led)

    def heard_total(self) -> int:
        return rta_ledger_heard_total(self._led, rta_now_ns())

    def drain_ranges(self) -> list:
        cdef rta_range buf[64]
        cdef size_t n, i
        out = []
        while True:
            n = rta_ledger_drain_ranges(self._led, buf, 64)
            for i in range(n):
                out.append((buf[i].begin, buf[i].end))
            if n < 64:
                return out

    def drain_stamps(self) -> list:
        cdef rta_stamp buf[64]
        cdef size_t n, i
        out = []
        while True:
            n = rta_ledger_drain_stamps(self._led, buf, 64)
            for i in range(n):
                out.append((buf[i].start, buf[i].heard_ns / 1e9))
            if n < 64:
                return out

    def skip_idle(self, uint64_t n):
        """No callback runs: `n` bytes were skipped in the ring by the caller; count and publish them."""
        rta_ledger_skip_idle(self._led, n)


ECHO_ENGINES = {"webrtc": RTA_ECHO_WEBRTC, "speex": RTA_ECHO_SPEEX, "webrtc+speex": RTA_ECHO_WEBRTC_SPEEX}
ECHO_HISTORY_MS = 1000  # the speaker's output the echo stage keeps: beyond both devices' latencies


cdef class Capture:
    """Device frames -> session-rate mono PCM16 in the capture ring (capture.py's Capture, in C).

    echo_engine ("webrtc", "speex" or "webrtc+speex") with echo_ref (the ring the playout writes its reference into,
    Playout(echo_ref=...)): the echo canceller runs on the microphone before everything else (rta_echo_stage.h),
    and until it converges the uplink is held while the speaker is audible (the duplex link's clock)."""
    cdef rta_capture *_cap
    cdef rta_echo_stage *_stage
    cdef readonly RingBuffer ring
    cdef RingBuffer _tap, _echo_ref
    cdef Duplex _duplex
    cdef readonly int device_rate, channels, frames, session_rate
    cdef readonly str echo_engine
    cdef bint _muted

    def __cinit__(self, RingBuffer ring, int device_rate, int channels, int frames, int session_rate, str quality,
                  double gain_db=0.0, Duplex duplex=None, str echo_engine=None, RingBuffer echo_ref=None):
        cdef rta_capture_config cfg
        cdef rta_audio_status status
        cfg.device_rate, cfg.channels, cfg.frames, cfg.session_rate = device_rate, channels, frames, session_rate
        cfg.quality = _quality(quality)
        self.ring, self._duplex = ring, duplex
        self.device_rate, self.channels, self.frames, self.session_rate = device_rate, channels, frames, session_rate
        self._cap = rta_capture_create(&cfg, ring._ring, duplex._d if duplex is not None else NULL, &status)
        _check(status, "capture")
        self.set_gain_db(gain_db)
        if echo_engine is not None:
            self._start_echo(echo_engine, echo_ref)

    cdef _start_echo(self, str engine, RingBuffer ref):
        cdef rta_echo_config config
        cdef rta_echo_status status
        if engine not in ECHO_ENGINES:
            raise ValueError(f"echo engine must be one of {', '.join(ECHO_ENGINES)}, got {engine!r}")
        if ref is None:
            raise ValueError("the echo canceller needs the playout's reference ring (echo_ref)")
        rta_echo_config_default(&config, self.device_rate)
        config.engine = ECHO_ENGINES[engine]
        self._stage = rta_echo_stage_create(&config, ref._ring, <size_t>self.frames, ECHO_HISTORY_MS, &status)
        if self._stage == NULL:
            if status == RTA_ECHO_ENOMEM:
                raise MemoryError("echo canceller")
            raise ValueError(f"the {engine} echo canceller refused device rate {self.device_rate} (8000-48000 Hz, "
                             "a multiple of 100)")
        self._echo_ref, self.echo_engine = ref, engine
        rta_capture_set_stage(self._cap, rta_echo_stage_process, self._stage)

    def __dealloc__(self):
        rta_capture_destroy(self._cap)
        rta_echo_stage_destroy(self._stage)

    def echo_figures(self):
        """The canceller's live figures (erle_db, delay_ms, delay_locked, converged) and the reference's alignment
        (short/trimmed ms, realignments, slips, the measured drift), or None without a canceller."""
        cdef rta_echo_figures f
        cdef rta_echo_stage_stats st
        if self._stage == NULL:
            return None
        rta_echo_read_figures(rta_echo_stage_echo(self._stage), &f)
        rta_echo_stage_stats_get(self._stage, &st)
        return {"engine": self.echo_engine, "erle_db": round(f.erle_db, 1), "delay_ms": round(f.delay_ms, 1),
                "delay_locked": bool(f.delay_locked), "converged": bool(f.converged),
                "ref_short_ms": round(st.short_frames * 1000 / self.device_rate, 1),
                "ref_trimmed_ms": round(st.trimmed_frames * 1000 / self.device_rate, 1),
                "realigned": st.realigned, "slips": st.slips, "drift_ppm": round(st.drift_ppm, 1),
                "bypassed": st.bypassed}

    cdef rta_capture *ptr(self):
        return self._cap

    def close(self):
        """Nothing to release early: the buffers go with the object (after its stream)."""

    def feed(self, data, adc_time=None) -> None:
        """Run the processor by hand on interleaved device frames, a period at a time (the tests are the device).
        adc_time: when the first frame was sampled (time.monotonic() seconds; default: a period ago), the next
        periods following at the nominal rate."""
        cdef Py_buffer view
        cdef size_t total, done = 0, n
        cdef int64_t now = rta_now_ns(), period = <int64_t>self.frames * 1000000000 // self.device_rate
        cdef int64_t adc = <int64_t>(adc_time * 1e9) if adc_time is not None else now - period
        get_bytes(data, &view)
        try:
            total = <size_t>view.len // (2 * self.channels)
            with nogil:
                while done < total:
                    n = min(total - done, <size_t>self.frames)
                    rta_capture_process(self._cap, <const int16_t *>view.buf + done * self.channels, n, now,
                                        adc + <int64_t>done * 1000000000 // self.device_rate)
                    done += n
        finally:
            PyBuffer_Release(&view)

    @property
    def muted(self) -> bool:
        return self._muted

    @muted.setter
    def muted(self, value):
        self._muted = bool(value)
        rta_capture_set_muted(self._cap, self._muted)

    @property
    def tap(self):
        return self._tap

    @tap.setter
    def tap(self, RingBuffer ring):
        with nogil:
            rta_capture_set_tap(self._cap, ring._ring if ring is not None else NULL)
        self._tap = ring  # only now may the previous ring go: no callback writes into it any more

    def set_gain_db(self, double gain_db):
        rta_capture_set_gain(self._cap, <float>(10 ** (gain_db / 20)))

    cdef rta_capture_stats _stats(self):
        cdef rta_capture_stats st
        rta_capture_stats_get(self._cap, &st)
        return st

    @property
    def gain(self) -> float:
        return self._stats().gain

    @property
    def rms(self) -> float:
        return self._stats().rms

    @property
    def peak(self) -> float:
        return self._stats().peak

    @property
    def gated(self) -> bool:
        return bool(self._stats().gated)

    @property
    def frames_in(self) -> int:
        return self._stats().frames_in

    @property
    def bytes_written(self) -> int:
        return self._stats().bytes_written

    @property
    def dropped_bytes(self) -> int:
        return self._stats().dropped_bytes

    @property
    def gated_frames(self) -> int:
        return self._stats().gated_frames


cdef class Playout:
    """The playout ring -> device frames, jitter-adaptive (playout.py's Playout, in C). The ledger is `ledger`'s
    C core: the engine's PlayoutLedger follows it."""
    cdef rta_playout *_p
    cdef readonly RingBuffer ring
    cdef readonly object ledger
    cdef LedgerCore _core
    cdef Duplex _duplex
    cdef RingBuffer _echo_ref
    cdef readonly int session_rate, device_rate, channels, frames
    cdef readonly double period
    cdef double _device_latency

    def __cinit__(self, RingBuffer ring, ledger, int session_rate, int device_rate, int channels, int frames,
                  int prebuffer_ms, double fade_ms, str quality, int max_prebuffer_ms=0, int raise_ms=20,
                  int lower_ms=10, int relax_ms=10000, Duplex duplex=None, double device_latency=0.0,
                  RingBuffer echo_ref=None):
        cdef rta_playout_config cfg
        cdef rta_audio_status status
        cfg.session_rate, cfg.device_rate, cfg.channels, cfg.frames = session_rate, device_rate, channels, frames
        cfg.quality = _quality(quality)
        cfg.fade_ms = fade_ms
        cfg.prebuffer_ms, cfg.max_prebuffer_ms = prebuffer_ms, max_prebuffer_ms
        cfg.raise_ms, cfg.lower_ms, cfg.relax_ms = raise_ms, lower_ms, relax_ms
        cfg.device_latency_ns = <int64_t>(device_latency * 1e9)
        self.ring, self.ledger, self._duplex = ring, ledger, duplex
        self._core = ledger.core
        self.session_rate, self.device_rate, self.channels, self.frames = session_rate, device_rate, channels, frames
        self.period = frames / device_rate
        self._device_latency = device_latency
        self._p = rta_playout_create(&cfg, ring._ring, self._core._led, duplex._d if duplex is not None else NULL,
                                     &status)
        _check(status, "playout")
        if echo_ref is not None:  # the echo canceller's reference: each mono block handed to the device
            self._echo_ref = echo_ref
            rta_playout_set_reference(self._p, echo_ref._ring)

    def __dealloc__(self):
        rta_playout_destroy(self._p)

    cdef rta_playout *ptr(self):
        return self._p

    def fill(self, buf, now=None) -> bool:
        """Run one period by hand into `buf` (frames x channels int16): the tests play the device. now: the
        callback's time (time.monotonic() seconds; default: now); its first frame leaves the DAC a device latency
        later."""
        cdef Py_buffer view
        cdef int audio
        cdef int64_t at = <int64_t>(now * 1e9) if now is not None else rta_now_ns()
        get_writable(buf, &view)
        try:
            with nogil:
                audio = rta_playout_fill(self._p, <int16_t *>view.buf, <size_t>view.len // (2 * self.channels),
                                         at, -1)
        finally:
            PyBuffer_Release(&view)
        return bool(audio)

    def flush(self) -> None:
        """Discard everything written so far; the callback serves it on its next run."""
        rta_playout_flush(self._p, self.ledger.written)

    def close(self) -> None:
        """The stream has stopped for good (call after it stopped)."""
        rta_playout_close(self._p)

    @property
    def flush_pending(self) -> bool:
        return bool(rta_playout_flush_pending(self._p))

    @property
    def device_latency(self) -> float:
        return self._device_latency

    cdef rta_playout_stats _stats(self):
        cdef rta_playout_stats st
        rta_playout_stats_get(self._p, &st)
        return st

    @property
    def playing(self) -> bool:
        return bool(self._stats().playing)

    @property
    def underruns(self) -> int:
        return self._stats().underruns

    @property
    def drained(self) -> int:
        return self._stats().drained

    @property
    def flushes(self) -> int:
        return self._stats().flushes

    @property
    def callbacks(self) -> int:
        return self._stats().callbacks

    @property
    def raises(self) -> int:
        return self._stats().raises

    @property
    def ref_dropped(self) -> int:
        return self._stats().ref_dropped

    @property
    def target_ms(self) -> int:
        return self._stats().target_ms

    @property
    def rms(self) -> float:
        return self._stats().rms

    @property
    def peak(self) -> float:
        return self._stats().peak

    @property
    def audible_until(self) -> float:
        return self._stats().audible_until_ns / 1e9


cdef class PacedStream:
    """A null/wav device: rta_pacer's thread runs the processor every period (filebackend.py's twin in Python)."""
    cdef rta_pacer *_pacer
    cdef rta_pacer_config _cfg
    cdef object _proc
    cdef bytes _input
    cdef readonly bint output

    def __cinit__(self, proc, int rate, int channels, int frames, bint realtime, input_frames=None, int out_fd=-1,
                  uint64_t out_data_bytes=0):
        cdef Py_buffer view
        self._proc = proc
        self.output = isinstance(proc, Playout)
        self._cfg.rate, self._cfg.channels, self._cfg.frames, self._cfg.realtime = rate, channels, frames, realtime
        self._cfg.out_fd, self._cfg.out_data_bytes = out_fd, out_data_bytes
        if self.output:
            self._cfg.playout = (<Playout>proc).ptr()
        else:
            self._cfg.capture = (<Capture>proc).ptr()
        if input_frames is not None:
            self._input = bytes(input_frames)  # kept alive (and unmoved) while the thread reads it
            self._cfg.input = <const int16_t *><const char *>self._input
            self._cfg.input_frames = len(self._input) // (2 * channels)

    def __dealloc__(self):
        if self._pacer != NULL:
            with nogil:
                rta_pacer_stop(self._pacer)

    def start(self):
        cdef rta_audio_status status
        if self._pacer == NULL:
            self._pacer = rta_pacer_start(&self._cfg, &status)
            _check(status, "pacer thread")

    def stop(self):
        """Stop and join the thread; the next start() goes on writing the same file."""
        if self._pacer != NULL:
            self._cfg.out_data_bytes = rta_pacer_out_bytes(self._pacer)
            with nogil:
                rta_pacer_stop(self._pacer)
            self._pacer = NULL

    @property
    def active(self) -> bool:
        return self._pacer != NULL and bool(rta_pacer_active(self._pacer))

    @property
    def finished(self) -> bool:
        return self._pacer != NULL and bool(rta_pacer_finished(self._pacer))

    @property
    def out_bytes(self) -> int:
        return rta_pacer_out_bytes(self._pacer) if self._pacer != NULL else self._cfg.out_data_bytes

    @property
    def errors(self) -> int:
        return rta_pacer_errors(self._pacer) if self._pacer != NULL else 0

    @property
    def last_errno(self) -> int:
        return rta_pacer_last_errno(self._pacer) if self._pacer != NULL else 0


cdef class PaStream:
    """A PortAudio stream whose callback is a C processor: PortAudio's thread never enters Python."""
    cdef rta_pa_stream *_s
    cdef object _proc
    cdef readonly bint output

    def __cinit__(self, proc, int device, int rate, int channels, int frames):
        cdef int err
        self._proc = proc
        self.output = isinstance(proc, Playout)
        cdef rta_capture *cap = NULL
        cdef rta_playout *play = NULL
        if self.output:
            play = (<Playout>proc).ptr()
        else:
            cap = (<Capture>proc).ptr()
        with nogil:
            if play != NULL:
                err = rta_pa_open_output(&self._s, device, rate, channels, frames, play)
            else:
                err = rta_pa_open_input(&self._s, device, rate, channels, frames, cap)
        if err < 0:
            self._s = NULL
            raise OSError(rta_pa_error_text(err).decode())

    def __dealloc__(self):
        if self._s != NULL:
            with nogil:
                rta_pa_close(self._s)

    def start(self):
        cdef int err
        cdef rta_pa_stream *s = self._s
        if s == NULL:
            raise OSError("closed")
        with nogil:
            err = rta_pa_start(s)
        if err < 0:
            raise OSError(rta_pa_error_text(err).decode())

    def stop(self):
        """Stop calling back, as an abort: what is queued in the device is thrown away, not waited for."""
        if self._s != NULL:
            with nogil:
                rta_pa_abort(self._s)

    def close(self):
        """Abort (queued buffers are thrown away, not waited for) and close; safe twice."""
        cdef rta_pa_stream *s = self._s
        self._s = NULL  # detached before the GIL goes: no other thread starts or closes it meanwhile
        if s != NULL:
            with nogil:
                rta_pa_close(s)

    @property
    def active(self) -> bool:
        return self._s != NULL and bool(rta_pa_active(self._s))

    @property
    def latency(self) -> float:
        return rta_pa_latency(self._s) if self._s != NULL else 0.0

    @property
    def xruns(self) -> int:
        return rta_pa_xruns(self._s) if self._s != NULL else 0

    @property
    def callbacks(self) -> int:
        return rta_pa_callbacks(self._s) if self._s != NULL else 0


cdef class PulseContext:
    """A connection to the sound server with its mainloop thread (csrc/rta_pulse.h), on which PulseStreams open."""
    cdef rta_pulse *_p

    def __cinit__(self, str app_name="rtaudiod", double timeout=2.0):
        cdef char err[256]
        cdef int timeout_ms = <int>(timeout * 1000)
        cdef bytes name = app_name.encode()
        cdef const char *c_name = name
        cdef int code
        err[0] = 0
        with nogil:
            code = rta_pulse_connect(&self._p, c_name, timeout_ms, err, sizeof(err))
        if code < 0:
            self._p = NULL
            raise OSError(err.decode(errors="replace"))

    def __dealloc__(self):
        # Only here: every PulseStream holds its context, so none is open on it any more.
        if self._p != NULL:
            with nogil:
                rta_pulse_disconnect(self._p)

    @property
    def connected(self) -> bool:
        cdef rta_pulse *p = self._p
        cdef int good = 0
        if p != NULL:
            with nogil:  # it waits for the mainloop lock
                good = rta_pulse_connected(p)
        return bool(good)


@cython.no_gc_clear  # close() in __dealloc__ needs its context alive: the GC must not clear it first
cdef class PulseStream:
    """A sound-server stream whose callback is a C processor, run by the context's mainloop thread (no GIL)."""
    cdef rta_pulse_stream *_s
    cdef object _proc, _context
    cdef readonly bint output

    def __cinit__(self, PulseContext context, proc, device, int rate, int channels, int frames, int buffer_frames,
                  int period_frames, role=None):
        cdef rta_pulse_stream_config cfg
        cdef char err[256]
        cdef int code
        if context._p == NULL:
            raise OSError("the sound server connection is closed")
        cdef bytes dev = device.encode() if device is not None else None
        cdef bytes role_b = role.encode() if role is not None else None
        self._proc, self._context = proc, context
        self.output = isinstance(proc, Playout)
        cfg.device = NULL
        cfg.role = NULL
        if dev is not None:
            cfg.device = dev
        if role_b is not None:
            cfg.role = role_b
        cfg.rate, cfg.channels, cfg.frames = rate, channels, frames
        cfg.buffer_frames, cfg.period_frames = buffer_frames, period_frames
        cfg.playout = (<Playout>proc).ptr() if self.output else NULL
        cfg.capture = NULL if self.output else (<Capture>proc).ptr()
        err[0] = 0
        with nogil:
            code = rta_pulse_open(&self._s, context._p, &cfg, err, sizeof(err))
        if code < 0:
            self._s = NULL
            raise OSError(err.decode(errors="replace"))

    def __dealloc__(self):
        self.close()

    def start(self):
        cdef int code
        cdef rta_pulse_stream *s = self._s
        if s == NULL:
            raise OSError("closed")
        with nogil:  # it waits for the server with the GIL released: close() detaches the pointer first
            code = rta_pulse_start(s)
        if code < 0:
            raise OSError(rta_pulse_error_text(code).decode())

    def stop(self):
        """Cork; what the server queues is thrown away, not waited for."""
        if self._s != NULL:
            with nogil:
                rta_pulse_stop(self._s)

    def close(self):
        """Disconnect the stream; safe twice."""
        cdef rta_pulse_stream *s = self._s
        self._s = NULL  # detached before the GIL goes: no other thread starts or closes it meanwhile
        if s != NULL:
            with nogil:
                rta_pulse_close(s)

    def flush(self):
        """Barge-in (its playout's flush, not Playout.flush()): asked and served now under the mainloop's lock, and
        what the server still queues dropped."""
        cdef uint64_t written
        if self._s != NULL and self.output:
            written = (<Playout>self._proc).ledger.written
            with nogil:
                rta_pulse_flush(self._s, written)

    @property
    def active(self) -> bool:
        cdef rta_pulse_stream *s = self._s
        cdef int active = 0
        if s != NULL:
            with nogil:  # it waits for the mainloop lock
                active = rta_pulse_active(s)
        return bool(active)

    @property
    def latency(self) -> float:
        return rta_pulse_latency(self._s) if self._s != NULL else 0.0

    @property
    def xruns(self) -> int:
        return rta_pulse_xruns(self._s) if self._s != NULL else 0

    @property
    def callbacks(self) -> int:
        return rta_pulse_callbacks(self._s) if self._s != NULL else 0
