"""The acoustic echo canceller of csrc/rta_echo.c, driven from Python (tests, the file harness, benchmarks).

The daemon calls the C API from the capture callback directly; this wrapper exists so the same code runs on
numpy arrays and bytes. There is no pure-Python twin of the canceller (rtaudiod/_py/echo.py says why)."""

from cpython.buffer cimport PyBuffer_Release
from libc.stdint cimport int16_t

from rtaudiod._ext._buffers cimport get_bytes, get_writable
from rtaudiod._ext.rta_echo cimport (
    RTA_ECHO_CONVERGED_DB, RTA_ECHO_DEFAULT, RTA_ECHO_EENGINE, RTA_ECHO_ENOMEM, RTA_ECHO_OK, RTA_ECHO_SPEEX,
    RTA_ECHO_WEBRTC, RTA_ECHO_WEBRTC_SPEEX, rta_echo_block_frames, rta_echo_config, rta_echo_config_default, rta_echo_create,
    rta_echo_destroy, rta_echo_engine, rta_echo_engine_name, rta_echo_figures, rta_echo_process,
    rta_echo_read_figures, rta_echo_reset, rta_echo_set_drift, rta_echo_status,
)

# webrtc+speex: webrtc, with speex run as a shadow whose output is taken while a person is heard (rta_echo.h).
_CODES = {"speex": RTA_ECHO_SPEEX, "webrtc": RTA_ECHO_WEBRTC, "webrtc+speex": RTA_ECHO_WEBRTC_SPEEX}
ENGINES = tuple(_CODES)
DEFAULT_ENGINE = rta_echo_engine_name(<rta_echo_engine>RTA_ECHO_DEFAULT).decode()
CONVERGED_DB = RTA_ECHO_CONVERGED_DB


cdef class EchoCanceller:
    """One canceller at a device rate; `process(mic, ref, out)` per period of whole 10 ms blocks.

    engine: "speex", "webrtc" or "webrtc+speex" (None: the default, chosen by measurement); tail_ms: the room the adaptive
    filter covers after the bulk delay; max_delay_ms: the longest bulk delay searched; delay_ms: None to
    estimate the bulk delay, else that delay fixed; suppress: residual echo suppression after the filter;
    drift_ppm: the speaker's and the microphone's clocks apart by that much (set_drift).
    """

    def __cinit__(self, int rate, engine=None, *, int tail_ms=128, int max_delay_ms=500, delay_ms=None,
                  bint suppress=True, double drift_ppm=0.0):
        cdef rta_echo_config config
        rta_echo_config_default(&config, rate)
        if engine is not None:
            if engine not in ENGINES:
                raise ValueError(f"echo engine must be one of {', '.join(ENGINES)}, got {engine!r}")
            config.engine = _CODES[engine]
        config.tail_ms = tail_ms
        config.max_delay_ms = max_delay_ms
        config.delay_ms = -1 if delay_ms is None else delay_ms
        config.suppress = suppress
        if delay_ms is not None and not 0 <= delay_ms <= max_delay_ms:
            raise ValueError(f"delay_ms must be between 0 and max_delay_ms ({max_delay_ms}), got {delay_ms}")
        cdef rta_echo_status status
        self._echo = rta_echo_create(&config, &status)
        if self._echo == NULL:
            if status == RTA_ECHO_ENOMEM:
                raise MemoryError()
            if status == RTA_ECHO_EENGINE:
                raise RuntimeError(f"the {rta_echo_engine_name(config.engine).decode()} echo canceller refused "
                                   f"rate {rate}")
            raise ValueError(f"bad echo canceller settings: rate {rate} (8000-48000, a multiple of 100), "
                             f"tail_ms {tail_ms} (10-1000), max_delay_ms {max_delay_ms} (10-2000)")
        self.rate = rate
        self.engine = rta_echo_engine_name(config.engine).decode()
        self.block_frames = rta_echo_block_frames(self._echo)
        self.set_drift(drift_ppm)

    def __dealloc__(self):
        if self._echo != NULL:
            rta_echo_destroy(self._echo)
            self._echo = NULL

    def process(self, mic, ref, out=None):
        """Cancel the echo of `ref` (int16 mono, what the speaker played) in `mic` (int16 mono, same length, a
        multiple of block_frames). Writes into `out` (writable, same length; may be `mic`) or returns bytes."""
        cdef Py_buffer m, r, o
        cdef object result = None
        get_bytes(mic, &m)
        try:
            get_bytes(ref, &r)
            try:
                if m.len != r.len or m.len % (2 * self.block_frames) != 0:
                    raise ValueError(f"mic and ref must be the same length, whole {self.block_frames}-frame "
                                     f"blocks of int16 ({2 * self.block_frames} bytes), got {m.len} and {r.len}")
                if out is None:
                    result = bytearray(m.len)
                    out = result
                get_writable(out, &o)
                try:
                    if o.len != m.len:
                        raise ValueError(f"out must be as long as mic ({m.len} bytes), got {o.len}")
                    # Pure C from here: no Python objects touched (the canceller is never shared across threads
                    # while processing; the figures are atomics).
                    with nogil:
                        rta_echo_process(self._echo, <const int16_t *>m.buf, <const int16_t *>r.buf,
                                         <int16_t *>o.buf, <size_t>(m.len // 2))
                finally:
                    PyBuffer_Release(&o)
            finally:
                PyBuffer_Release(&r)
        finally:
            PyBuffer_Release(&m)
        return bytes(result) if result is not None else None

    def set_drift(self, double ppm):
        """The echo's delay grows by `ppm` microseconds a second (two device clocks); 0 for one card."""
        if not -1000.0 <= ppm <= 1000.0:
            raise ValueError(f"drift_ppm must be between -1000 and 1000, got {ppm}")
        rta_echo_set_drift(self._echo, ppm)

    def reset(self):
        """Forget the room and the bulk delay."""
        rta_echo_reset(self._echo)

    def figures(self):
        """The live figures: erle_db, delay_ms, delay_locked, converged, blocks, echo_blocks."""
        cdef rta_echo_figures f
        rta_echo_read_figures(self._echo, &f)
        return {
            "erle_db": round(f.erle_db, 2),
            "delay_ms": round(f.delay_ms, 2),
            "delay_locked": bool(f.delay_locked),
            "converged": bool(f.converged),
            "blocks": f.blocks,
            "echo_blocks": f.echo_blocks,
        }
