"""The jitter-adaptive playout, driven period by period (the test plays the device), on the C processor and its
Python twin: the start target rises on underruns (bounded), comes down slowly after stable playback, and a short
reply still starts once it has waited the target."""

import numpy as np

from audiohelpers import tone
from test_playout_unit import Device

ADAPT = {"max_prebuffer_ms": 100, "raise_ms": 20, "lower_ms": 10, "relax_ms": 1000}


def starve(dev: Device, times: int) -> None:
    """`times` underruns: 60 ms of a reply at a time (over the 40 ms start target), each run dry mid-item."""
    for _ in range(times):
        dev.write(tone(440, 0.2, 24000)[:1440])
        dev.run(30)


def test_each_underrun_raises_the_target_up_to_its_bound(audio_impl):
    dev = Device(audio_impl, prebuffer_ms=40, **ADAPT)
    dev.ledger.begin_item("a")
    starve(dev, 1)
    assert (dev.playout.underruns, dev.playout.target_ms, dev.playout.raises) == (1, 60, 1)
    starve(dev, 5)
    assert (dev.playout.underruns, dev.playout.target_ms, dev.playout.raises) == (6, 100, 3)  # 40 + 3 x 20: the bound


def test_the_end_of_a_reply_does_not_raise_the_target(audio_impl):
    dev = Device(audio_impl, prebuffer_ms=40, **ADAPT)
    dev.write(tone(440, 0.2, 24000), "a")
    dev.ledger.end_item()
    dev.run(40)
    assert (dev.playout.drained, dev.playout.underruns, dev.playout.target_ms) == (1, 0, 40)


def test_a_raised_target_holds_back_the_next_start(audio_impl):
    dev = Device(audio_impl, prebuffer_ms=40, **ADAPT)
    dev.ledger.begin_item("a")
    starve(dev, 2)
    assert dev.playout.target_ms == 80
    dev.write(np.full(1200, 8000, np.int16))  # 50 ms, under the 80 ms target: it waits 8 periods, then plays
    got = dev.run(12)
    first = np.flatnonzero(got)[0]
    assert 8 * 240 <= first < 9 * 240, first


def test_stable_playback_lowers_the_target_slowly_to_the_floor(audio_impl):
    dev = Device(audio_impl, prebuffer_ms=40, **ADAPT)
    dev.ledger.begin_item("a")
    starve(dev, 3)
    assert dev.playout.target_ms == 100
    dev.write(tone(440, 5.0, 24000))  # 5 s of steady audio: one step down per 1 s of playback without an underrun
    dev.ledger.end_item()
    dev.run(150)
    assert dev.playout.target_ms == 90  # 1.5 s played: one step
    dev.run(300)
    assert dev.playout.target_ms == 60  # 4.5 s: four
    dev.run(100)
    assert (dev.playout.underruns, dev.playout.drained, dev.playout.target_ms) == (3, 1, 50)  # the end: no raise
    dev.write(tone(440, 6.0, 24000))
    dev.ledger.end_item()
    dev.run(700)
    assert dev.playout.target_ms == 40  # never below prebuffer_ms


def test_c_and_python_playouts_hand_the_same_samples(request):
    """The same jittery writes, a flush, a resampled device: both implementations hand the device the same
    samples and publish the same ledger figures (the twin is the C callback's oracle)."""
    import rtaudiod

    if rtaudiod.backend() != "c":
        import pytest

        pytest.skip("C extension not in use")
    from types import SimpleNamespace

    from rtaudiod._ext import _audio
    from rtaudiod.audio.ledger import PlayoutLedger
    from rtaudiod.audio.playout import Playout

    impls = [SimpleNamespace(Playout=_audio.Playout, ledger=lambda: PlayoutLedger(core=_audio.LedgerCore())),
             SimpleNamespace(Playout=Playout, ledger=PlayoutLedger)]
    rng = np.random.default_rng(7)
    speechy = (rng.standard_normal(24000 * 3) * 4000).astype(np.int16)
    for device_rate, channels in [(24000, 1), (48000, 2), (44100, 2)]:
        outs, played, counters = [], [], []
        for impl in impls:
            dev = Device(impl, device_rate=device_rate, channels=channels, **ADAPT)
            pos, got = 0, []
            dev.ledger.begin_item("a")
            for step in range(300):
                if step % 7 == 0 and pos < len(speechy):  # bursts of 70 ms every 70 ms, with a stall now and then
                    n = 0 if step % 63 == 0 else 1680
                    dev.write(speechy[pos : pos + n])
                    pos += n
                if step == 200:
                    dev.playout.flush()
                got.append(dev.run(1))
            outs.append(np.concatenate(got))
            played.append(dev.ledger.played_bytes("a"))
            counters.append((dev.playout.underruns, dev.playout.flushes, dev.playout.target_ms, dev.playout.raises))
        assert counters[0] == counters[1], (device_rate, counters)
        assert played[0] == played[1], (device_rate, played)
        diff = np.abs(outs[0].astype(int) - outs[1].astype(int)).max()
        assert diff == 0, (device_rate, diff)
