"""Input levels, software gain, mute and half-duplex gating (WAV and null backends: exact, no server)."""

import numpy as np
import pytest

from audiohelpers import tone, wait_for, write_wav
from rtaudiod.audio import AudioConfig



def captured(engine) -> np.ndarray:
    return np.frombuffer(engine.capture_ring.read(engine.capture_ring.read_available), np.int16)


def run_file(engines, path, **kw):
    engine = engines(AudioConfig(backend="wav", wav_input=path, realtime=False, playout=False,
                                 capture_ring_ms=10000, **kw))
    wait_for(engine.input_stream.finished.is_set, 5, "the file to be read")
    engine.stop()
    return engine


@pytest.mark.parametrize("gain_db", [0.0, 6.0])
def test_levels_and_gain(engines, tmp_path, gain_db):
    sine = tone(500, 0.5, 24000, amplitude=0.25)  # peak -12.0 dBFS, RMS -15.1 dBFS
    engine = run_file(engines, write_wav(tmp_path / "t.wav", sine, 24000), gain_db=gain_db)
    got = captured(engine)[: len(sine)]
    status = engine.status()["capture"]
    # The last frame is the file's end padded with silence: levels are those of a full frame before it.
    assert status["gain_db"] == gain_db
    expected = np.round(sine * 10 ** (gain_db / 20)).astype(np.int16)
    assert np.abs(got.astype(int) - expected).max() <= 1
    frame = got[-960:-480].astype(np.float64)
    assert status["peak_dbfs"] <= 0.0
    assert abs(20 * np.log10(np.abs(frame).max() / 32768) - (-12.04 + gain_db)) < 0.1
    assert abs(20 * np.log10(np.sqrt(np.mean(frame**2)) / 32768) - (-15.05 + gain_db)) < 0.1


def test_status_levels_of_the_last_frame(engines, tmp_path):
    sine = tone(500, 0.5, 24000, amplitude=0.25)
    engine = engines(AudioConfig(backend="wav", wav_input=write_wav(tmp_path / "t.wav", sine, 24000), realtime=True,
                                 playout=False))
    wait_for(lambda: engine.capture.frames_in >= 5, 3, "a few frames")
    status = engine.status()["capture"]
    assert abs(status["rms_dbfs"] - -15.05) < 0.15 and abs(status["peak_dbfs"] - -12.04) < 0.15


def test_gain_clips_instead_of_wrapping(engines, tmp_path):
    sine = tone(500, 0.2, 24000, amplitude=0.5)
    got = captured(run_file(engines, write_wav(tmp_path / "t.wav", sine, 24000), gain_db=20.0))[: len(sine)]
    assert got.max() == 32767 and got.min() == -32768
    assert np.all(np.sign(got[sine != 0]) == np.sign(sine[sine != 0]))  # no wrap-around


def test_mute_sends_silence_but_keeps_measuring(engines, tmp_path):
    sine = tone(500, 0.3, 24000, amplitude=0.25)
    engine = run_file(engines, write_wav(tmp_path / "t.wav", sine, 24000), mute=True)
    got = captured(engine)
    assert len(got) >= len(sine) and not got.any()
    status = engine.status()
    assert status["muted"] is True
    assert abs(status["capture"]["rms_dbfs"] - -15.05) < 0.15  # the level meter still hears the mic


def test_half_duplex_gates_the_mic_while_playing_plus_tail(engines, tmp_path):
    """Mic: a steady tone (real-time WAV input). Speaker: 300 ms at t~0.3 s. The captured tone must
    drop to silence while the speaker plays and for the tail after, then come back."""
    sine = tone(500, 3.0, 24000, amplitude=0.25)
    engine = engines(AudioConfig(backend="wav", wav_input=write_wav(tmp_path / "t.wav", sine, 24000),
                                 output_rate=24000, output_channels=1, half_duplex=True, half_duplex_tail_ms=250,
                                 capture_ring_ms=10000))
    wait_for(lambda: engine.capture.frames_in >= 15, 3, "300 ms of capture")
    engine.write(tone(300, 0.3, 24000))
    wait_for(lambda: engine.capture.frames_in >= 75, 5, "1.5 s of capture")
    got = captured(engine)
    frames = got[: len(got) // 480 * 480].reshape(-1, 480)
    silent = ~frames.any(axis=1)
    gated = np.flatnonzero(silent)
    assert len(gated) and np.all(np.diff(gated) == 1), "one gated stretch"
    gated_ms = len(gated) * 20
    # 300 ms of audio + one 10 ms period + the 250 ms tail, to within a capture frame either way.
    assert 540 <= gated_ms <= 600, gated_ms
    assert (np.abs(frames[gated[-1] + 1 :]).max(axis=1) > 8000).all()  # the mic is back, for good
    assert engine.status()["capture"]["gated_frames"] == len(gated)


def test_half_duplex_can_be_switched_at_run_time(engines):
    engine = engines(AudioConfig(backend="null"))
    assert not engine.half_duplex
    engine.half_duplex = True
    engine.write(tone(300, 0.2, 24000))
    wait_for(lambda: engine.capture.gated, 2, "the gate to close")
    engine.half_duplex = False
    wait_for(lambda: not engine.capture.gated, 1, "the gate to open")


def test_status_reports_the_output_level_of_what_the_speaker_gets(engines):
    """The playout measures the block it hands the device: the reply's level while it plays, silence after."""
    engine = engines(AudioConfig(backend="null", output_rate=48000, output_channels=2))
    assert engine.status()["playout"]["rms_dbfs"] == -120.0
    engine.write(tone(500, 1.5, 24000, amplitude=0.25))  # peak -12.0 dBFS, RMS -15.1 dBFS
    wait_for(lambda: engine.status()["playout"]["played_ms"] >= 500, 5, "half a second played")
    playing = engine.status()["playout"]
    assert abs(playing["rms_dbfs"] - -15.05) < 0.3 and abs(playing["peak_dbfs"] - -12.04) < 0.3, playing
    wait_for(lambda: not engine.is_playing and engine.status()["playout"]["rms_dbfs"] == -120.0, 5,
             "the level to fall to silence once the reply is over")
