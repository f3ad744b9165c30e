"""Audio engine settings (a msgspec Struct, so the daemon's TOML loader validates it) and latency modes."""

from dataclasses import dataclass
from typing import Literal

import msgspec

from rtaudiod.audio.role import ROLE

LatencyName = Literal["low", "balanced", "high"]


@dataclass(frozen=True)
class LatencyMode:
    """Timing of one latency mode.

    capture_ms: the capture frame (the device read size and the uplink's granularity).
    playout_period_ms: the playback device buffer. Kept at 10 ms in `low` and `balanced` because a flush
        (barge-in) can only silence the speaker after what was already handed to the device drains:
        measured on PulseAudio, 10 ms periods go quiet ~25 ms after a flush, 20 ms periods ~55 ms.
    prebuffer_ms: the lead gathered before playback starts, beyond the newest delta, to absorb network jitter: the
        jitter-adaptive playout's starting target (and its floor). 300 ms in `balanced` covers the arrival jitter
        rtaudiod-sim models (rtaudiod/sim/jitter.py: stalls of up to 250 ms, a TCP retransmission's 200 ms minimum
        timeout and more) from the first reply on; `low` trades that for 40 ms and learns from its underruns.
    uplink_ms: what one wake-up of the uplink thread sends, as one append (a multiple of capture_ms). The uplink
        is the daemon's one Python wake-up per audio period while audio flows: 40 ms in `balanced` halves it, for
        20 ms more, at most, before the service hears a frame.
    server_buffer_ms, server_period_ms: the pulse backend's playback buffer in the sound server (tlength) and the
        size of its requests (minreq): the mainloop thread wakes once a request. A barge-in drops the server's
        queue (pa_stream_flush), so that buffer is not heard after a flush, unlike a device buffer.
    max_prebuffer_ms: how far underruns may raise that target (each by its gap, how long the ring ran dry, and
        PREBUFFER_RAISE_MS more; it comes down by PREBUFFER_LOWER_MS after PREBUFFER_RELAX_MS of playback without
        one).
    """

    capture_ms: int
    playout_period_ms: int
    prebuffer_ms: int
    max_prebuffer_ms: int
    uplink_ms: int
    server_buffer_ms: int
    server_period_ms: int


LATENCY_MODES: dict[str, LatencyMode] = {
    "low": LatencyMode(capture_ms=10, playout_period_ms=10, prebuffer_ms=40, max_prebuffer_ms=160, uplink_ms=10,
                        server_buffer_ms=30, server_period_ms=10),
    "balanced": LatencyMode(capture_ms=20, playout_period_ms=10, prebuffer_ms=300, max_prebuffer_ms=600, uplink_ms=40,
                             server_buffer_ms=60, server_period_ms=20),
    "high": LatencyMode(capture_ms=40, playout_period_ms=20, prebuffer_ms=400, max_prebuffer_ms=800, uplink_ms=40,
                         server_buffer_ms=120, server_period_ms=40),
}
# The adaptive target's steps: up fast (an underrun is heard), down slowly (latency is only felt).
PREBUFFER_RAISE_MS = 20
PREBUFFER_LOWER_MS = 10
PREBUFFER_RELAX_MS = 10000


class AudioConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Everything the engine needs; the defaults run the default devices in `balanced` mode."""

    # pyaudio: PortAudio's devices. pulse: the sound server natively (pulse_backend.py; C callbacks only), much
    # cheaper than PortAudio's way to it through ALSA's pulse plugin (docs/performance.md). auto: pulse where the C
    # callbacks run, the devices are the server's defaults and a server answers, else pyaudio (backend_choice.py).
    backend: Literal["auto", "pyaudio", "pulse", "wav", "null"] = "auto"
    # Who runs the device callbacks: "c" (csrc/rta_audio.c on PortAudio's or the pacer's thread: no Python, no GIL
    # per period) or "python" (PyAudio's Python callbacks, and the Python pacing thread: the old path, kept as the
    # contrast). The build without the C extension always runs "python".
    callbacks: Literal["c", "python"] = "c"
    # Device by index or by a case-insensitive substring of its name; None: the system default.
    input_device: int | str | None = None
    output_device: int | str | None = None
    # Device format; None: the device's default rate, and stereo when the device has two channels or more.
    input_rate: int | None = None
    output_rate: int | None = None
    input_channels: int | None = None
    output_channels: int | None = None
    # The session's wire audio format. The rings always hold mono PCM16 at session_rate: write_delta decodes
    # G.711 deltas to PCM16, and the uplink encodes the capture ring's PCM16 (rtaudiod.codecs).
    session_format: Literal["pcm16", "g711_ulaw", "g711_alaw"] = "pcm16"
    session_rate: int | None = None  # None: the format's rate, 24000 for pcm16, 8000 for G.711
    latency: LatencyName = "balanced"
    # soxr recipe. Measured with ResampleStream on 20 ms chunks: LQ holds 4 ms (48<->24 kHz; 14 ms for
    # 48->8 kHz) and emits every chunk; MQ/HQ hold 20-27 ms (55-71 ms for 8 kHz) and emit every other chunk
    # or less, latency a voice loop pays twice. LQ is 16-bit precision, which PCM16 cannot tell apart.
    resample_quality: Literal["QQ", "LQ", "MQ", "HQ", "VHQ"] = "LQ"
    gain_db: float = 0.0
    mute: bool = False
    half_duplex: bool = False  # gate the mic while the speaker is audible (devices without echo cancel)
    # Which echo canceller runs (rtaudiod/audio/echo.py, docs/echo.md): "auto" picks the sound server's
    # echo-cancelled source when the microphone is one, else the internal one (C) when the daemon has both devices
    # (its reference aligned by the devices' timestamps), else none (the pure-Python build, the null backend).
    echo_cancel: Literal["auto", "internal", "system", "off"] = "auto"
    # The internal canceller's engine: webrtc (libwebrtc-audio-processing) holds against a speaker and a microphone
    # on two clocks; speex keeps a person's voice better over a reply on one clock; webrtc+speex is webrtc with speex's
    # output while a person is heard, at 3.3x the CPU (docs/echo.md, the figures).
    echo_engine: Literal["webrtc", "speex", "webrtc+speex"] = "webrtc"
    half_duplex_tail_ms: int = 250  # ...and this long after, for the room's echo to die down
    fade_ms: float = 2.5  # ramp at underrun/flush edges so cuts do not click
    capture: bool = True
    playout: bool = True
    capture_ring_ms: int = 2000
    playout_ring_s: int = 60  # a whole response usually arrives faster than it plays
    # wav backend: input file (None: silence) and output file (None: discard); realtime=False runs as fast as
    # the data allows (output still waits in real time while there is nothing to play).
    wav_input: str | None = None
    wav_output: str | None = None
    realtime: bool = True
    # The playout stream's role for the sound server (role.py): PulseAudio's role-based ducking lowers other audio
    # while the device speaks; the output stream is then stopped while idle (docs/device-features.md: why that is
    # not the default yet). None or "": no role, it always runs.
    media_role: str | None = None

    def __post_init__(self) -> None:
        if self.media_role == "":  # TOML has no null: "" declares no role
            self.media_role = None
        if self.media_role is not None and not ROLE.match(self.media_role):
            raise ValueError(f"media_role must be a role name such as 'phone' or 'announce' (lower-case letters, "
                             f"digits, '_' or '-'), got {self.media_role!r}")
        g711 = self.session_format != "pcm16"
        if self.session_rate is None:
            self.session_rate = 8000 if g711 else 24000
        if g711 and self.session_rate != 8000:
            raise ValueError(f"G.711 ({self.session_format}) is 8000 Hz audio, got session_rate={self.session_rate}")
        if self.session_rate not in (8000, 16000, 24000, 48000):
            raise ValueError(f"session_rate must be 8000, 16000, 24000 or 48000, got {self.session_rate}")
        for key in ("input_rate", "output_rate"):
            rate = getattr(self, key)
            if rate is not None and not 8000 <= rate <= 192000:
                raise ValueError(f"{key} must be between 8000 and 192000 Hz, got {rate}")
        if self.backend == "pulse":
            from rtaudiod._backend import load_c

            if self.callbacks == "python" or load_c("audio") is None:
                raise ValueError('audio.backend = "pulse" runs the C callbacks only: it needs the C extension and '
                                 'audio.callbacks = "c" (or backend = "pyaudio")')
        if self.echo_cancel == "internal":
            from rtaudiod.audio.echo import INTERNAL_REFUSED, internal_available

            if not internal_available():
                raise ValueError(INTERNAL_REFUSED)
            if self.callbacks == "python":
                raise ValueError('audio.echo_cancel = "internal" runs in the C capture callback: it needs '
                                 'audio.callbacks = "c"')
        for key in ("input_channels", "output_channels"):
            ch = getattr(self, key)
            if ch is not None and not 1 <= ch <= 32:
                raise ValueError(f"{key} must be between 1 and 32, got {ch}")

    @property
    def mode(self) -> LatencyMode:
        return LATENCY_MODES[self.latency]
