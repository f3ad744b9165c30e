"""The C capture path's echo stage driven by hand (the test is both devices): the playout's reference is what it
handed to the device, the capture reads it period by period (silence when the playout is behind), the canceller's
output is what the tap and the capture ring get, and the engine turns the canceller off when the two devices run at
different rates. Exact and fast; the real-time run on the wav backend is test_echo_wired.py."""

import numpy as np
import pytest

import rtaudiod
from echopaths import delayed, reply
from rtaudiod.audio import AudioConfig, AudioEngine
from rtaudiod.audio.ledger import PlayoutLedger
from rtaudiod.ring import RingBuffer

pytestmark = pytest.mark.skipif(rtaudiod.backend() != "c", reason="the echo canceller is C only")


def mono(ring: RingBuffer) -> np.ndarray:
    return np.frombuffer(ring.read(ring.read_available), "<i2")


def playout(ref: RingBuffer, channels: int = 2):
    from rtaudiod._ext import _audio

    ring, ledger = RingBuffer(1 << 20), PlayoutLedger(core=_audio.LedgerCore())
    p = _audio.Playout(ring, ledger, 48000, 48000, channels, 480, 40, 2.5, "LQ", echo_ref=ref)
    return p, ring, ledger


def test_the_reference_is_what_the_playout_handed_to_the_device():
    ref = RingBuffer(96000)
    p, ring, ledger = playout(ref)
    buf = bytearray(480 * 2 * 2)
    p.fill(buf)  # idle: silence, which the canceller must see too
    assert ref.read_available == 960 and not mono(ref).any()
    x = reply(48000, 0.5).astype("<i2")
    ledger.wrote(ring.write(x.tobytes()))
    handed = []
    for _ in range(40):
        p.fill(buf)
        handed.append(np.frombuffer(bytes(buf), "<i2")[::2])
    assert np.array_equal(mono(ref), np.concatenate(handed))  # channel 0 of every period, as handed
    assert p.ref_dropped == 0
    for _ in range(200):  # nobody reads the reference: full after 1 s, then each period is dropped and counted
        p.fill(buf)
    assert p.ref_dropped > 0


def test_the_capture_cancels_before_the_tap_and_reads_silence_when_the_playout_is_behind():
    from rtaudiod._ext import _audio

    ref, up, tap = RingBuffer(96000), RingBuffer(1 << 20), RingBuffer(1 << 21)
    cap = _audio.Capture(up, 48000, 1, 960, 24000, "LQ", echo_engine="speex", echo_ref=ref)
    cap.tap = tap
    x = reply(48000, 6.0)
    mic = np.round(delayed(x, 48 * 40) * 0.3).astype("<i2")
    x = x.astype("<i2")
    for i in range(0, x.size - 960 + 1, 960):  # the playout one period ahead, as when it started first
        ref.write(x[i:i + 960].tobytes())
        cap.feed(mic[i:i + 960].tobytes())
    f = cap.echo_figures()
    assert f["engine"] == "speex" and f["converged"] and f["ref_short_ms"] == 0 and f["bypassed"] == 0
    # the path's 40 ms less the margin: reading began once the ring held two periods, the older one first
    assert 15 <= f["delay_ms"] <= 25, f
    heard = mono(tap)
    late = slice(3 * 48000, heard.size)
    erle = 10 * np.log10(np.mean(mic[late].astype(float) ** 2) / np.mean(heard[late].astype(float) ** 2))
    assert erle >= 20, erle  # the tap hears the cancelled microphone
    cap.feed(mic[:960].tobytes())  # the playout wrote nothing for this period: the margin's period is read
    cap.feed(mic[:960].tobytes())  # ...and now the ring is empty: silence, owed
    assert cap.echo_figures()["ref_short_ms"] == 20
    ref.write(bytes(960 * 2 * 2))  # two periods come late: the owed one is skipped, one is read
    cap.feed(mic[:960].tobytes())
    assert ref.read_available == 0 and cap.echo_figures()["ref_short_ms"] == 20


def test_a_period_of_whole_blocks_only():
    from rtaudiod._ext import _audio

    ref, up = RingBuffer(96000), RingBuffer(1 << 20)
    cap = _audio.Capture(up, 48000, 1, 960, 24000, "LQ", echo_engine="webrtc", echo_ref=ref)
    cap.feed(bytes(2 * 700))  # 14.6 ms: not whole 10 ms blocks, passed through and counted
    assert cap.echo_figures()["bypassed"] == 1
    with pytest.raises(ValueError, match="reference ring"):
        _audio.Capture(up, 48000, 1, 960, 24000, "LQ", echo_engine="webrtc")
    with pytest.raises(ValueError, match="refused device rate 22050"):
        _audio.Capture(up, 22050, 1, 441, 24000, "LQ", echo_engine="webrtc", echo_ref=ref)


def test_devices_at_two_rates_run_without_a_canceller(tmp_path):
    import wave

    path = tmp_path / "mic.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(bytes(32000))
    engine = AudioEngine(AudioConfig(backend="wav", wav_input=str(path), echo_cancel="internal"))
    try:
        engine.start()
        echo = engine.status()["echo"]
    finally:
        engine.close()
    assert echo["canceller"] == "off" and "48000 Hz" in echo["reason"] and "16000 Hz" in echo["reason"]
    assert "erle_db" not in echo
