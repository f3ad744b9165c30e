"""The echo canceller wired into the C capture path (csrc/rta_echo_stage.c): the wav backend on the C pacer, the
playout's reference handed to the capture callback through a ring, a file-driven echo path (the reply the engine
plays, delayed and attenuated into the microphone's WAV file). What is checked is what leaves the engine: the
capture ring (what the session sends), the wake-word tap, and `status`."""

import threading
import time
import wave

import numpy as np
import pytest
import soxr

import rtaudiod
from echopaths import delayed, reply
from rtaudiod.audio import AudioConfig, AudioEngine
from rtaudiod.ring import RingBuffer

SESSION_RATE, DEVICE_RATE = 24000, 48000
SECONDS = 9.0
DELAY_MS = 120
FROM_S = 4.0  # converged by then (webrtc: ~1 s of reference; docs/echo.md)


def power(x: np.ndarray) -> float:
    return float(np.mean(x.astype(np.float64) ** 2)) + 1e-9


def db(a: float, b: float) -> float:
    return 10 * np.log10(a / b)


@pytest.fixture(scope="module")
def echo_path(tmp_path_factory):
    """The reply at the session rate, and the microphone's file: that reply at the device rate, 120 ms late, -10 dB."""
    played = reply(SESSION_RATE, SECONDS).astype("<i2")
    at_device = soxr.resample(played.astype(np.float32) / 32768, SESSION_RATE, DEVICE_RATE)
    mic = np.round(delayed(at_device * 32768, DEVICE_RATE * DELAY_MS // 1000) * 10 ** (-10 / 20)).astype("<i2")
    path = tmp_path_factory.mktemp("echo") / "mic.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(DEVICE_RATE)
        w.writeframes(mic.tobytes())
    return played, mic, str(path)


def run_engine(mic_path: str, played: np.ndarray, echo_cancel: str, out: dict) -> None:
    """Play the reply through an engine whose microphone is the file, in real time; keep what left the engine."""
    engine = AudioEngine(AudioConfig(backend="wav", wav_input=mic_path, echo_cancel=echo_cancel,
                                     capture_ring_ms=int(SECONDS * 1000) + 2000))
    tap = RingBuffer(int(SECONDS + 2) * DEVICE_RATE * 2)
    engine.set_tap(tap)
    try:
        engine.write(played.tobytes())  # queued first: the playout's first period plays it, so the echo in the
        engine.start()                   # file (120 ms after the capture's start) comes after its reference
        deadline = time.monotonic() + SECONDS + 10
        while engine.status()["input"]["active"] and engine.capture.frames_in * 0.02 < SECONDS \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        out["status"] = engine.status()
    finally:
        engine.stop()
    out["uplink"] = np.frombuffer(engine.capture_ring.read(engine.capture_ring.read_available), "<i2")
    out["tap"] = np.frombuffer(tap.read(tap.read_available), "<i2")
    engine.close()


@pytest.fixture(scope="module")
def runs(echo_path):
    """Both settings at once (one real-time pass): echo_cancel internal and off."""
    if rtaudiod.backend() != "c":
        pytest.skip("the echo canceller is C only (the pure-Python build runs echo_cancel = off)")
    played, _, path = echo_path
    results = {"internal": {}, "off": {}}
    threads = [threading.Thread(target=run_engine, args=(path, played, mode, results[mode])) for mode in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def window(x: np.ndarray, rate: int) -> np.ndarray:
    return x[int(FROM_S * rate): int((SECONDS - 0.5) * rate)]


def test_uplink_is_cancelled_by_15_db_after_convergence(echo_path, runs):
    _, mic, _ = echo_path
    echo_in = power(window(mic, DEVICE_RATE))
    cancelled = db(echo_in, power(window(runs["internal"]["uplink"], SESSION_RATE)))
    raw = db(echo_in, power(window(runs["off"]["uplink"], SESSION_RATE)))
    print(f"uplink ERLE from {FROM_S} s: internal {cancelled:.1f} dB, off {raw:.1f} dB;",
          runs["internal"]["status"]["echo"])
    assert cancelled >= 15, f"internal: the uplink's echo {cancelled:.1f} dB under the microphone's"
    assert abs(raw) < 3, f"off: the uplink is the microphone, resampled ({raw:.1f} dB)"


def test_wake_word_tap_hears_the_cancelled_signal(echo_path, runs):
    _, mic, _ = echo_path
    on, off = runs["internal"]["tap"], runs["off"]["tap"]
    assert off.size >= int(SECONDS * DEVICE_RATE) - DEVICE_RATE // 10
    n = min(off.size, mic.size)
    assert np.array_equal(off[:n], mic[:n]), "off: the tap is the microphone, sample for sample"
    assert db(power(window(mic, DEVICE_RATE)), power(window(on, DEVICE_RATE))) >= 15
    # The tap and the uplink are the same cancelled signal (the uplink resampled): not gated, not muted.
    up = window(runs["internal"]["uplink"], SESSION_RATE)
    assert abs(db(power(window(on, DEVICE_RATE)), power(up))) < 3


def test_uplink_is_held_until_converged(runs):
    on, off = runs["internal"]["status"]["capture"], runs["off"]["status"]["capture"]
    assert on["gated_frames"] > 0 and not on["gated"], "held while the first reply played, released once converged"
    assert off["gated_frames"] == 0
    first = runs["internal"]["uplink"][: SESSION_RATE // 2]  # the first 0.5 s: the echo is there, not converged
    assert power(first) < 1, "the uplink stays silent until the canceller converges"


def test_status_reports_the_canceller(runs):
    echo = runs["internal"]["status"]["echo"]
    assert echo["canceller"] == "internal" and echo["engine"] == "webrtc"
    assert 'audio.echo_cancel = "internal"' in echo["reason"]
    assert echo["converged"] and echo["delay_locked"]
    # The path's delay less the reference ring's margin (a capture period, 20 ms) and the two streams' start offset
    assert DELAY_MS - 50 <= echo["delay_ms"] <= DELAY_MS, echo
    assert echo["erle_db"] >= 10, echo
    assert echo["bypassed"] == 0 and echo["ref_trimmed_ms"] == 0
    off = runs["off"]["status"]["echo"]
    assert off["canceller"] == "off" and 'audio.echo_cancel = "off"' in off["reason"] and "erle_db" not in off


def test_auto_on_the_wav_backend(tmp_path):
    """auto: the internal canceller when the daemon plays and records itself (the C build); the pure-Python build
    has none, and says so."""
    engine = AudioEngine(AudioConfig(backend="wav", wav_output=str(tmp_path / "out.wav"), echo_cancel="auto"))
    try:
        engine.start()
        echo = engine.status()["echo"]
    finally:
        engine.close()
    if rtaudiod.backend() == "c":
        assert echo["canceller"] == "internal" and echo["engine"] == "webrtc" and "converged" in echo
        assert "records the microphone itself" in echo["reason"]
    else:
        assert echo["canceller"] == "off" and "pure-Python" in echo["reason"] and "erle_db" not in echo
    # faster than real time, the microphone's file is not paced with the speaker: nothing to line up
    engine = AudioEngine(AudioConfig(backend="wav", wav_output=str(tmp_path / "out.wav"), realtime=False,
                                     echo_cancel="auto"))
    try:
        engine.start()
        echo = engine.status()["echo"]
    finally:
        engine.close()
    assert echo["canceller"] == "off" and "faster than real time" in echo["reason"]
