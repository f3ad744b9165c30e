"""The capture callback driven by hand (the test is the device), on the C processor and its Python twin: down-mix,
resampling, gain, the wake-word tap, mute; and both give the same bytes for the same frames."""

import numpy as np
import pytest

from audiohelpers import tone
from rtaudiod.ring import RingBuffer


def feed(cap, stereo: np.ndarray, frames: int) -> None:
    for i in range(0, len(stereo) - frames + 1, frames):
        cap.feed(stereo[i : i + frames].tobytes())


def drain(ring: RingBuffer) -> np.ndarray:
    return np.frombuffer(ring.read(ring.read_available), np.int16)


def test_stereo_is_down_mixed_to_the_floor_of_the_mean(audio_impl):
    ring = RingBuffer(1 << 16)
    cap = audio_impl.Capture(ring, 24000, 2, 480, 24000, "LQ")
    frames = np.array([[3, 4], [-3, -4], [32767, 32767], [-32768, -32767]] * 120, np.int16)
    feed(cap, frames, 480)
    got = drain(ring)
    assert list(got[:4]) == [3, -4, 32767, -32768]  # (-7) // 2 = -4, as numpy's floor_divide
    assert cap.frames_in == 1 and cap.bytes_written == 960 and cap.dropped_bytes == 0


def test_gain_mute_and_the_tap(audio_impl):
    ring, tap = RingBuffer(1 << 16), RingBuffer(1 << 16)
    cap = audio_impl.Capture(ring, 48000, 1, 960, 24000, "LQ", gain_db=-6.0)
    cap.tap = tap
    pcm = tone(1000, 0.2, 48000, 0.5)
    feed(cap, pcm, 960)
    assert np.array_equal(drain(tap), pcm)  # the tap: mono at the device rate, before the gain
    got = drain(ring)
    assert abs(np.abs(got[1200:]).max() - 0.5 * 32767 * 10 ** (-6 / 20)) < 200  # -6 dB, at the session rate
    assert 20 * np.log10(cap.peak / 32768) == pytest.approx(-12.0, abs=0.2)
    cap.muted = True
    feed(cap, pcm, 960)
    assert tap.read_available == 0 and not drain(ring).any()  # muted: silence keeps the timing, the tap hears nothing
    cap.tap = None
    cap.muted = False
    feed(cap, pcm, 960)
    assert tap.read_available == 0 and drain(ring).any()


def test_c_and_python_captures_write_the_same_bytes():
    import rtaudiod

    if rtaudiod.backend() != "c":
        pytest.skip("C extension not in use")
    from rtaudiod._ext import _audio
    from rtaudiod.audio.capture import Capture

    rng = np.random.default_rng(3)
    for rate, channels, session, quality, gain in [(48000, 2, 24000, "LQ", 0.0), (44100, 2, 16000, "HQ", 3.0),
                                                   (48000, 1, 8000, "MQ", -2.0), (24000, 1, 24000, "LQ", 0.0)]:
        frames = rate // 50
        x = (rng.standard_normal((rate, channels)) * 6000).astype(np.int16)
        got = []
        for make in (_audio.Capture, Capture):
            ring = RingBuffer(1 << 18)
            cap = make(ring, rate, channels, frames, session, quality, gain)
            feed(cap, x, frames)
            got.append((drain(ring), round(cap.rms, 1), cap.peak))
        assert np.array_equal(got[0][0], got[1][0]), (rate, session, quality)
        assert got[0][1:] == got[1][1:]
