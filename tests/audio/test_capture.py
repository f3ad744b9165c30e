"""Capture through a real sound server: speech played into the null sink `rtmic`, captured from its monitor."""

import time

import numpy as np
import soxr

from audiohelpers import rms_db, speech, wait_for, xcorr_peak
from rtaudiod.audio import AudioConfig


def mic_config(session_rate: int = 24000, **kw) -> AudioConfig:
    kw.setdefault("playout", False)
    return AudioConfig(backend="pyaudio", input_device="pulse", input_rate=48000, input_channels=2,
                       output_device="pulse", output_rate=48000, output_channels=2, session_rate=session_rate,
                       capture_ring_ms=10000, **kw)


def aligned_corr(stereo: np.ndarray, got: np.ndarray, rate: int) -> tuple[np.ndarray, tuple[int, float]]:
    """The reference (48 kHz mono resampled to `rate` with soxr VHQ) and its best correlation in `got`.

    The sound server's delay is a whole number of 48 kHz samples, not of `rate` samples: a reference
    off by half a sample decorrelates the upper band (at 8 kHz, 3.5 kHz turns by 80 degrees). So the
    reference is built at each of the 48000/rate sub-sample phases and the best one counts."""
    mono = stereo.astype(np.float32).mean(axis=1)
    best = None
    for phase in range(48000 // rate):
        ref = soxr.resample(np.concatenate([np.zeros(phase, np.float32), mono]), 48000, rate, "VHQ")
        found = xcorr_peak(ref, got)
        if best is None or found[1] > best[1][1]:
            best = (ref, found)
    return best


def drain(engine) -> np.ndarray:
    return np.frombuffer(engine.capture_ring.read(engine.capture_ring.read_available), np.int16)


def test_speech_from_48k_stereo_arrives_at_session_rate_mono_intact(pulse_server, engines, tmp_path):
    stereo = speech(tmp_path / "s48.raw", "Turn on the kitchen lights.", 48000, 2)
    engine = engines(mic_config())
    wait_for(lambda: engine.capture_ring.read_available > 0, 5, "capture to start")
    drain(engine)
    player = pulse_server.play(pulse_server.mic, stereo)
    assert player.wait(10) == 0
    time.sleep(0.3)
    got = drain(engine)
    ref, (lag, corr) = aligned_corr(stereo, got, 24000)
    print(f"capture correlation {corr:.4f} at lag {lag}")
    assert corr >= 0.95, corr
    assert abs(rms_db(got[lag : lag + len(ref)]) - rms_db(ref)) < 1.0
    status = engine.status()
    assert status["input"]["rate"] == 48000 and status["input"]["channels"] == 2
    assert status["capture"]["overruns"] == 0 and status["capture"]["dropped_bytes"] == 0


def test_capture_at_8k_for_g711(pulse_server, engines, tmp_path):
    stereo = speech(tmp_path / "s48.raw", "Call me back at eight.", 48000, 2)
    engine = engines(mic_config(session_rate=8000))
    wait_for(lambda: engine.capture_ring.read_available > 0, 5, "capture to start")
    drain(engine)
    assert pulse_server.play(pulse_server.mic, stereo).wait(10) == 0
    time.sleep(0.3)
    got = drain(engine)
    _, (_, corr) = aligned_corr(stereo, got, 8000)
    assert corr >= 0.95, corr


def test_capture_frames_follow_the_device_clock(pulse_server, engines):
    """Session-rate bytes arrive at the session rate (the stream runs on the sink's clock)."""
    engine = engines(mic_config())
    wait_for(lambda: engine.capture_ring.read_available > 0, 5, "capture to start")
    drain(engine)
    t0 = time.monotonic()
    time.sleep(1.0)
    n = len(drain(engine))
    elapsed = time.monotonic() - t0
    assert abs(n / 24000 - elapsed) < 0.1, (n, elapsed)
