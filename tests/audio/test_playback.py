"""Playback through a real sound server: PulseAudio null sink `rtspk`, recorded from its monitor."""

import numpy as np
import pytest
import soxr

from audiohelpers import flush_a_tone, rms_db, speech, tone, wait_for, xcorr_peak
from pulse_server import Recorded
from rtaudiod.audio import AudioConfig

SESSION = 24000


def pulse_config(**kw) -> AudioConfig:
    kw.setdefault("capture", False)
    return AudioConfig(backend="pyaudio", output_device="pulse", output_rate=48000, output_channels=2,
                       input_device="pulse", input_rate=48000, input_channels=2, **kw)


def test_playout_comes_out_intact_at_the_right_speed(pulse_server, engines, tmp_path, monkeypatch):
    # What is checked is the samples and their speed, not the latency: 200 ms of buffering in the sound server
    # (libpulse reads it when the stream connects), as in test_gil_stall. At the default ~20 ms a loaded machine made
    # the device underrun now and then (CI, Python callbacks: 150 ms of silence mid-sentence, correlation 0.72).
    monkeypatch.setenv("PULSE_LATENCY_MSEC", "200")
    pcm = speech(tmp_path / "s.raw", "Turn on the kitchen lights, please.", SESSION, 1)[:, 0]
    engine = engines(pulse_config())
    rec = pulse_server.record(f"{pulse_server.speaker}.monitor")
    wait_for(lambda: rec.chunks, 5, "the recorder to start")  # parec starts late on a loaded machine
    ref = soxr.resample(pcm.astype(np.float32), SESSION, 48000, "VHQ")
    ref_start = np.flatnonzero(np.abs(ref) > 300)[0]

    def recorded_whole() -> bool:
        """The recording holds as much after the first loud sample as the reference does (a fixed wait after the
        engine's end cut the tail when the sound server held more than the device latency PortAudio reports)."""
        got = Recorded(list(rec.chunks)).samples[:, 0]
        loud = np.flatnonzero(np.abs(got) > 300)
        return len(loud) > 0 and len(got) >= loud[0] - ref_start + len(ref) + 480

    engine.begin_item("item_a")
    assert engine.write(pcm) == pcm.nbytes
    wait_for(lambda: not engine.is_playing, 10, "playback to finish")
    wait_for(recorded_whole, 5, "the recorder to get the whole sentence")
    got = rec.stop().samples
    assert np.array_equal(got[:, 0], got[:, 1])  # mono up-mixed to both channels
    lag, corr = xcorr_peak(ref, got[:, 0])
    # What to look at when it fails: the engine's underruns and xruns, and how much the recorder got.
    assert corr >= 0.95, (corr, lag, len(got) / 48000, len(ref) / 48000, engine.status()["output"])
    seg = got[lag : lag + len(ref), 0]
    assert abs(rms_db(seg) - rms_db(ref)) < 1.0
    # Speed: the sound spans as many device samples as the audio lasts.
    loud = np.flatnonzero(np.abs(got[:, 0]) > 300)
    span = (loud[-1] - loud[0]) / 48000
    ref_loud = np.flatnonzero(np.abs(ref) > 300)
    expected = (ref_loud[-1] - ref_loud[0]) / 48000
    assert abs(span - expected) / expected < 0.02, (span, expected)
    assert engine.played_ms("item_a") == engine.received_ms("item_a") == len(pcm) * 1000 / SESSION
    assert engine.status()["output"]["device"] == "pulse"


@pytest.mark.parametrize("latency", ["low", "balanced"])
def test_barge_in_flush_silences_within_50ms_and_played_ms_matches(pulse_server, engines, latency):
    """5 s of tone; flush after ~1.5 s. The monitor must go quiet within 50 ms of flush(), and played_ms
    must match the audio the monitor captured within one device buffer (10 ms in both modes).

    Measured here: silence 25-28 ms after flush() (an upper bound, see Recorded.start_time), PortAudio
    reporting 20 ms of output latency; played_ms within 1 ms of the monitor."""
    engine = engines(pulse_config(latency=latency))
    silent_after, heard_ms = flush_a_tone(pulse_server, engine, "item_b", SESSION)
    played = engine.played_ms("item_b")
    period_ms = engine.output_stream.frames * 1000 / engine.output_stream.rate
    print(f"silence {silent_after * 1000:.1f} ms after flush; played {played:.1f} ms, monitor {heard_ms:.1f} ms; "
          f"device latency {engine.output_stream.latency * 1000:.1f} ms")
    assert 0 < silent_after <= 0.050
    assert abs(played - heard_ms) <= period_ms + 1, f"device xruns: {engine.output_stream.xruns}"
    assert engine.status()["playout"]["flushes"] == 1
    assert not engine.is_playing  # the rest of the 5 s was discarded
    assert engine.playout_ring.read_available == 0


def test_heard_comes_from_the_dac_clock(pulse_server, engines):
    """C path: what the DAC has played (PortAudio's outputBufferDacTime, per callback) trails what was handed to the
    device by the device's delay while the reply plays, and equals it once the reply has sounded. The Python path
    has no DAC clock: heard is what was handed."""
    engine = engines(pulse_config())
    engine.begin_item("item_d")
    engine.write(tone(440, 1.0, SESSION, 0.3))
    engine.end_item()
    wait_for(lambda: engine.played_ms("item_d") > 300, 5, "the reply to play")
    playout = engine.status()["playout"]
    if engine.status()["callbacks"] == "c":
        assert 0 < playout["heard_ms"] < playout["played_ms"], playout
    else:
        assert playout["heard_ms"] == playout["played_ms"]
    wait_for(lambda: not engine.is_playing, 5, "the reply to end")
    wait_for(lambda: engine.status()["playout"]["heard_ms"] == 1000.0, 1, "the DAC to play the last sample")
    assert engine.status()["playout"]["played_ms"] == 1000.0
