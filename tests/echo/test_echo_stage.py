"""The C capture path's echo stage driven by hand (the test is both devices): the playout's reference is what it
handed to the device, stamped with its DAC time; the capture reads the reference for its own periods' ADC times,
whatever order the callbacks run in, through underruns, overruns and two drifting clocks; the canceller's output is
what the tap and the capture ring get, and the engine turns the canceller off when the two devices run at different
rates. Exact and fast; the real-time runs are test_echo_wired.py (the wav backend) and test_echo_loudspeaker.py."""

import struct

import numpy as np
import pytest

import rtaudiod
from echopaths import delayed, reply
from rtaudiod.audio import AudioConfig, AudioEngine
from rtaudiod.audio.ledger import PlayoutLedger
from rtaudiod.ring import RingBuffer

pytestmark = pytest.mark.skipif(rtaudiod.backend() != "c", reason="the echo canceller is C only")


HEADER = struct.Struct("<qII")  # rta_ref_header: the DAC time of the record's first frame (ns), its frames


def mono(ring: RingBuffer) -> np.ndarray:
    return np.frombuffer(ring.read(ring.read_available), "<i2")


def records(ring: RingBuffer) -> list[tuple[int, np.ndarray]]:
    """The playout's stamped records in the reference ring: (DAC time ns, mono frames)."""
    out = []
    while ring.read_available:
        dac_ns, frames, _ = HEADER.unpack(ring.read(HEADER.size))
        out.append((dac_ns, np.frombuffer(ring.read(frames * 2), "<i2")))
    return out


def playout(ref: RingBuffer, channels: int = 2):
    from rtaudiod._ext import _audio

    ring, ledger = RingBuffer(1 << 20), PlayoutLedger(core=_audio.LedgerCore())
    p = _audio.Playout(ring, ledger, 48000, 48000, channels, 480, 40, 2.5, "LQ", echo_ref=ref, device_latency=0.03)
    return p, ring, ledger


def test_the_reference_is_what_the_playout_handed_to_the_device_stamped_with_its_dac_time():
    ref = RingBuffer(1 << 17)
    p, ring, ledger = playout(ref)
    buf = bytearray(480 * 2 * 2)
    p.fill(buf, now=100.0)  # idle: silence, which the canceller must see too
    [(dac_ns, frames)] = records(ref)
    assert dac_ns == 100_030_000_000 and frames.size == 480 and not frames.any()  # now + the device's latency
    x = reply(48000, 0.5).astype("<i2")
    ledger.wrote(ring.write(x.tobytes()))
    handed = []
    for k in range(40):
        p.fill(buf, now=101.0 + k * 0.01)
        handed.append(np.frombuffer(bytes(buf), "<i2")[::2])
    got = records(ref)
    assert [d for d, _ in got] == [101_030_000_000 + k * 10_000_000 for k in range(40)]
    assert np.array_equal(np.concatenate([f for _, f in got]), np.concatenate(handed))  # channel 0, as handed
    assert p.ref_dropped == 0
    for _ in range(300):  # nobody reads the reference: full after ~1.3 s, then each period is dropped and counted
        p.fill(buf)
    assert p.ref_dropped > 0


T0 = 1000.0  # the devices' clock (s): arbitrary, the stage only compares stamps
PLAY, CAP = 480, 960  # 10 ms playout periods, 20 ms capture ones (the balanced mode's)


def run_devices(played: np.ndarray, stamps: np.ndarray, mic: np.ndarray, engine: str = "webrtc",
                late: np.ndarray | None = None, capture_stamps: np.ndarray | None = None,
                capture_late: np.ndarray | None = None):
    """The test is both devices: the playout's records (played[k*PLAY:...] stamped stamps[k]) go into the reference
    ring when their callback runs, 30 ms (the output's latency) before their DAC time plus `late[k]`; the capture's
    periods (mic[i*CAP:...], sampled at capture_stamps[i], default T0 + 20 ms a period) are fed 30 ms after, plus
    `capture_late[i]`. Returns the canceller's output (the tap) and its figures."""
    from rtaudiod._ext import _audio

    ref, up, tap = RingBuffer(1 << 17), RingBuffer(1 << 22), RingBuffer(1 << 23)
    cap = _audio.Capture(up, 48000, 1, CAP, 24000, "LQ", echo_engine=engine, echo_ref=ref)
    cap.tap = tap
    n_cap = mic.size // CAP
    if capture_stamps is None:
        capture_stamps = T0 + np.arange(n_cap) * CAP / 48000
    late = np.zeros(stamps.size) if late is None else late
    capture_late = np.zeros(n_cap) if capture_late is None else capture_late
    # Each device's callbacks run one after the other: a late one delays those after it (then they burst).
    play_at = np.maximum.accumulate(stamps - 0.03 + late)
    cap_at = np.maximum.accumulate(capture_stamps[:n_cap] + 0.03 + capture_late)
    events = [(play_at[k], 0, k) for k in range(stamps.size)] + [(cap_at[i], 1, i) for i in range(n_cap)]
    for _, kind, k in sorted(events):
        if kind == 0:
            block = played[k * PLAY:(k + 1) * PLAY].astype("<i2")
            ref.write(HEADER.pack(int(round(stamps[k] * 1e9)), block.size, 0) + block.tobytes())
        else:
            cap.feed(mic[k * CAP:(k + 1) * CAP].tobytes(), adc_time=capture_stamps[k])
    return mono(tap), cap.echo_figures()


def erle(mic: np.ndarray, out: np.ndarray, start_s: float, end_s: float | None = None) -> float:
    part = slice(int(start_s * 48000), None if end_s is None else int(end_s * 48000))
    return 10 * np.log10(np.mean(mic[part].astype(float) ** 2) / (np.mean(out[part].astype(float) ** 2) + 1e-9))


def echo_of(played: np.ndarray, delay_ms: int = 40) -> np.ndarray:
    return np.round(delayed(played.astype(float), 48 * delay_ms) * 0.3).astype("<i2")


@pytest.mark.parametrize("engine", ["speex", "webrtc", "webrtc+speex"])
def test_callbacks_out_of_step_do_not_move_the_alignment(engine):
    """Both callbacks run late, each by its own amount, up to the output's latency (25 ms) and to 80 ms (a loaded
    machine, a sound server's bursts): the stamps, not the callbacks' order or count, place the reference, so
    nothing is read as silence and nothing moves."""
    x = reply(48000, 8.0)
    stamps = T0 + np.arange(x.size // PLAY) * PLAY / 48000
    rng = np.random.default_rng(18)
    late, capture_late = rng.uniform(0, 0.025, stamps.size), rng.uniform(0, 0.08, x.size // CAP)
    out, f = run_devices(x, stamps, echo_of(x), engine, late=late, capture_late=capture_late)
    mic = echo_of(x)
    assert f["engine"] == engine and f["converged"] and f["bypassed"] == 0
    assert f["ref_short_ms"] == 0 and f["realigned"] == 0 and f["slips"] == 0, f
    assert 15 <= f["delay_ms"] <= 25, f  # the path's 40 ms less the 20 ms margin the reference is read ahead
    assert erle(mic, out, 3.0) >= 20


def test_an_underrun_is_silence_on_the_timeline():
    """The playout stalls 100 ms at 4 s: the device plays silence (so the room echoes silence), and the next
    record's stamp is 100 ms later than its count says. The stage lays the silence out too: the alignment holds."""
    x = reply(48000, 9.0)
    k_stall = 400
    stamps = T0 + np.arange(x.size // PLAY) * PLAY / 48000
    stamps[k_stall:] += 0.1
    played = np.concatenate([x[:k_stall * PLAY], np.zeros(4800), x[k_stall * PLAY:]])[: x.size]  # what sounded
    mic = echo_of(played)
    out, f = run_devices(x, stamps, mic)
    # read as silence while the playout stalled (the device played silence then), and realigned once it came back
    assert f["realigned"] == 1 and 0 < f["ref_short_ms"] <= 100, f
    assert 15 <= f["delay_ms"] <= 25, f
    assert erle(mic, out, 5.0) >= 20  # after the stall as before it


def test_a_capture_overrun_keeps_the_alignment():
    """The capture loses 3 periods (60 ms) at 5 s: its next period's stamp says so, and the reference read for it
    is the one that was playing then."""
    x = reply(48000, 9.0)
    stamps = T0 + np.arange(x.size // PLAY) * PLAY / 48000
    full = echo_of(x)
    lost = slice(250 * CAP, 253 * CAP)
    mic = np.delete(full, np.arange(full.size)[lost])
    cap_stamps = T0 + np.arange(full.size // CAP) * CAP / 48000
    cap_stamps = np.delete(cap_stamps, [250, 251, 252])
    out, f = run_devices(x, stamps, mic, capture_stamps=cap_stamps)
    assert f["realigned"] == 1, f
    assert erle(mic, out, 5.5) >= 20


def test_two_clocks_drifting_apart_are_followed_and_measured():
    """The speaker's clock runs 200 ppm fast against the microphone's (two devices): its records' stamps come
    closer together than their frames say. The read position follows sample by sample, the drift is measured."""
    x = reply(48000, 25.0)
    e = 200e-6
    stamps = T0 + np.arange(x.size // PLAY) * PLAY / (48000 * (1 + e))
    j = np.arange(x.size)
    mic = np.round(np.interp((j - 48 * 40) * (1 + e), np.arange(x.size), x, left=0) * 0.3).astype("<i2")
    out, f = run_devices(x, stamps, mic)
    assert 180 <= f["drift_ppm"] <= 220, f
    # 5 ms of drift over 25 s, followed a sample at a time once it is 1 ms away
    assert f["slips"] >= 150 and f["realigned"] == 0, f
    assert erle(mic, out, 3.0) >= 20


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
