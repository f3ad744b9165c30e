"""WAV and null backends: exact round trips, resampling from a 48 kHz stereo file, real-time pacing."""

import time

import numpy as np
import pytest

from audiohelpers import read_wav, speech, tone, wait_for, write_wav, xcorr_peak
from rtaudiod.audio import LATENCY_MODES, AudioConfig, FileBackend


@pytest.fixture
def speech24(tmp_path) -> np.ndarray:
    return speech(tmp_path / "s24.raw", "Turn on the kitchen lights.", 24000, 1)[:, 0]


def test_wav_input_round_trips_exactly(engines, tmp_path, speech24):
    path = write_wav(tmp_path / "in.wav", speech24, 24000)
    engine = engines(AudioConfig(backend="wav", wav_input=path, realtime=False, playout=False, capture_ring_ms=10000))
    wait_for(engine.input_stream.finished.is_set, 5, "the file to be read")
    engine.stop()
    got = np.frombuffer(engine.capture_ring.read(engine.capture_ring.read_available), np.int16)
    assert np.array_equal(got[: len(speech24)], speech24)
    assert not got[len(speech24):].any()  # the last frame is padded with silence
    assert len(got) == -(-len(speech24) // 480) * 480


def test_wav_output_round_trips_exactly(engines, tmp_path, speech24):
    path = tmp_path / "out.wav"
    engine = engines(AudioConfig(backend="wav", wav_output=str(path), output_rate=24000, output_channels=1,
                                 realtime=False, capture=False))
    engine.begin_item("x")
    engine.write(speech24)
    wait_for(lambda: not engine.is_playing, 10, "the audio to be written")
    engine.close()
    got, rate, channels = read_wav(path)
    assert (rate, channels) == (24000, 1)
    start = np.flatnonzero(got)[0] - np.flatnonzero(speech24)[0]
    assert np.array_equal(got[start : start + len(speech24)], speech24)
    assert not got[:start].any() and not got[start + len(speech24):].any()
    assert engine.played_ms("x") == len(speech24) / 24


def test_wav_output_fast_mode_resampled_to_48k_stereo(engines, tmp_path):
    pcm = tone(440, 5.0, 24000)
    engine = engines(AudioConfig(backend="wav", wav_output=str(tmp_path / "o.wav"), output_rate=48000, capture=False,
                                 realtime=False))
    engine.write(pcm)
    wait_for(lambda: not engine.is_playing, 10, "the audio to be written")
    engine.close()
    got, rate, channels = read_wav(tmp_path / "o.wav")
    assert (rate, channels) == (48000, 2)
    loud = np.flatnonzero(np.abs(got[::2]) > 1000)
    assert abs((loud[-1] - loud[0]) / 48000 - 5.0) < 0.01


def test_wav_input_48k_stereo_is_downmixed_and_resampled(engines, tmp_path):
    left = tone(1000, 1.0, 48000, 0.4)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)  # one channel only: the mix halves it
    path = write_wav(tmp_path / "in48.wav", stereo, 48000)
    engine = engines(AudioConfig(backend="wav", wav_input=path, realtime=False, playout=False, capture_ring_ms=10000))
    wait_for(engine.input_stream.finished.is_set, 5, "the file to be read")
    engine.stop()
    got = np.frombuffer(engine.capture_ring.read(engine.capture_ring.read_available), np.int16)
    assert abs(len(got) - 24000) < 600
    steady = got[2400:21600].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(steady * np.hanning(len(steady))))
    assert abs(np.argmax(spectrum) * 24000 / len(steady) - 1000) < 2  # still 1 kHz at the session rate
    assert abs(np.abs(steady).max() - 0.2 * 32767) < 0.01 * 32767


def test_null_backend_runs_in_real_time(engines):
    engine = engines(AudioConfig(backend="null"))
    assert engine.backend.name == "null"
    wait_for(lambda: engine.capture_ring.read_available > 0, 2, "capture")
    engine.capture_ring.skip(engine.capture_ring.read_available)
    engine.begin_item("n")
    engine.write(tone(440, 0.2, 24000))  # waits the 300 ms start target (balanced), then plays
    t0 = time.monotonic()
    time.sleep(0.8)
    got = np.frombuffer(engine.capture_ring.read(engine.capture_ring.read_available), np.int16)
    assert not got.any() and abs(len(got) / 24000 - (time.monotonic() - t0)) < 0.1
    assert engine.played_ms("n") == 200.0 and not engine.is_playing


@pytest.mark.parametrize("mode", ["low", "balanced", "high"])
def test_latency_modes_set_frames(engines, mode):
    engine = engines(AudioConfig(backend="null", latency=mode))
    status = engine.status()
    m = LATENCY_MODES[mode]
    assert status["latency_mode"] == mode
    assert status["input"]["frames"] == 48000 * m.capture_ms // 1000
    assert status["output"]["frames"] == 48000 * m.playout_period_ms // 1000
    assert status["playout"]["prebuffer_ms"] == m.prebuffer_ms


def test_file_backend_lists_its_devices(tmp_path):
    backend = FileBackend(output_path=str(tmp_path / "o.wav"))
    assert [d.name for d in backend.devices()] == ["null input", str(tmp_path / "o.wav")]


def test_engine_restarts_and_keeps_its_rings(engines):
    engine = engines(AudioConfig(backend="null"))
    assert engine.status()["input"]["active"] and engine.status()["output"]["active"]
    engine.begin_item("r")
    engine.write(tone(440, 0.1, 24000))
    wait_for(lambda: not engine.is_playing, 2, "playback")
    engine.stop()
    assert engine.status()["input"] is None and engine.input_stream is None
    engine.start()
    engine.write(tone(440, 0.1, 24000))
    wait_for(lambda: not engine.is_playing, 2, "playback after a restart")
    assert engine.played_ms("r") == 200.0
    assert engine.status()["output"]["active"]


@pytest.mark.parametrize("realtime", [False, True])
def test_wav_input_finished_once_the_last_frame_was_delivered(tmp_path, realtime):
    """`finished` says the whole file went to the callback: a reader waiting on it must find the
    padded last frame already there (the callback here takes its time, as a loaded machine may)."""
    import threading

    path = write_wav(tmp_path / "in.wav", tone(440, 0.05, 24000) + 1, 24000)  # 2.5 frames of 480
    backend = FileBackend(input_path=path, realtime=realtime)
    frames: list[bytes] = []

    def slow(data: bytes) -> None:
        threading.Event().wait(0.02)
        frames.append(data)

    stream = backend.open_input(backend.resolve(None, output=False), 24000, 1, 480, slow)
    stream.start()
    try:
        assert stream.finished.wait(5)
        assert len(frames) >= 3
        got = np.frombuffer(b"".join(frames[:3]), np.int16)
        assert np.array_equal(got[:1200], tone(440, 0.05, 24000) + 1) and not got[1200:].any()
    finally:
        stream.close()


def test_wav_output_keeps_what_was_played_before_a_restart(engines, tmp_path):
    path = tmp_path / "out.wav"
    engine = engines(AudioConfig(backend="wav", wav_output=str(path), output_rate=24000, output_channels=1,
                                 capture=False, realtime=False))
    first, second = tone(440, 0.5, 24000), tone(660, 0.5, 24000)
    engine.write(first)
    wait_for(lambda: not engine.is_playing, 10, "the first half to be written")
    engine.stop()
    engine.start()  # the same "device" again: it must not start a new, empty file
    engine.write(second)
    wait_for(lambda: not engine.is_playing, 10, "the second half to be written")
    engine.close()
    got, _, _ = read_wav(path)
    for pcm in (first, second):
        lag, _ = xcorr_peak(pcm, got)
        assert np.array_equal(got[lag : lag + len(pcm)], pcm)


@pytest.mark.parametrize("law", ["ulaw", "alaw"])
def test_g711_session_deltas_play_as_their_decoded_pcm(engines, tmp_path, law):
    """A G.711 session's deltas carry one code a sample at 8 kHz: what reaches the speaker is their PCM16
    decoding (audioop-exact), timed at 8 kHz, not the codes played as 16-bit noise."""
    import base64
    import json

    from rtaudiod import codecs

    encode, decode = getattr(codecs, f"{law}_encode"), getattr(codecs, f"{law}_decode")
    codes = encode(tone(440, 1.0, 8000).tobytes())
    path = tmp_path / "g711.wav"
    engine = engines(AudioConfig(backend="wav", session_format=f"g711_{law}", wav_output=str(path),
                                 output_rate=8000, output_channels=1, realtime=False, capture=False))
    assert engine.config.session_rate == 8000
    engine.begin_item("x")
    for at in range(0, len(codes), 800):  # 100 ms deltas, as the service sends them
        delta = base64.b64encode(codes[at : at + 800]).decode()
        assert engine.write_delta(json.dumps({"type": "response.audio.delta", "delta": delta})) == 1600
    assert engine.received_ms("x") == 1000.0
    wait_for(lambda: not engine.is_playing, 10, "the audio to be written")
    engine.close()
    got, rate, channels = read_wav(path)
    expected = np.frombuffer(decode(codes), np.int16)
    assert (rate, channels) == (8000, 1)
    start = np.flatnonzero(got)[0] - np.flatnonzero(expected)[0]
    assert np.array_equal(got[start : start + len(expected)], expected)


def test_g711_needs_8k_and_pcm16_defaults_to_24k():
    assert AudioConfig().session_rate == 24000
    assert AudioConfig(session_format="g711_alaw").session_rate == 8000
    with pytest.raises(ValueError, match="G.711"):
        AudioConfig(session_format="g711_ulaw", session_rate=24000)
