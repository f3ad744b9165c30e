"""The jitter-adaptive playout, driven period by period (the test plays the device), on the C processor and its
Python twin: the start target rises on an underrun by its measured gap (bounded), comes down slowly after stable playback, and a short
reply still starts once it has waited the target."""

import numpy as np

from audiohelpers import tone
from test_playout_unit import Device

ADAPT = {"max_prebuffer_ms": 100, "raise_ms": 20, "lower_ms": 10, "relax_ms": 1000}


def starve(dev: Device, gap_periods: int) -> None:
    """One underrun whose gap is `gap_periods` device periods: 60 ms of a reply plays (once it has waited the start
    target), the ring runs dry mid-item and stays empty that long. The audio written next ends the gap."""
    underruns = dev.playout.underruns
    dev.write(tone(440, 0.2, 24000)[:1440])
    for _ in range(200):
        dev.run(1)
        if dev.playout.underruns > underruns:
            break
    dev.run(gap_periods)


def test_an_underrun_raises_the_target_by_its_gap(audio_impl):
    dev = Device(audio_impl, prebuffer_ms=40, **dict(ADAPT, max_prebuffer_ms=400))
    dev.ledger.begin_item("a")
    starve(dev, 12)
    assert (dev.playout.underruns, dev.playout.target_ms, dev.playout.raises) == (1, 40, 0)  # the gap goes on
    dev.write(tone(440, 0.2, 24000))
    dev.run(1)
    assert (dev.playout.target_ms, dev.playout.raises) == (180, 1)  # 40 + the 120 ms gap + 20
    starve(dev, 5)
    dev.write(tone(440, 0.2, 24000))
    dev.run(1)
    assert (dev.playout.underruns, dev.playout.target_ms, dev.playout.raises) == (2, 250, 2)  # kept, raised again


def test_a_raise_is_bounded_and_an_outage_raises_one_step(audio_impl):
    bounded = Device(audio_impl, prebuffer_ms=40, **ADAPT)
    bounded.ledger.begin_item("a")
    starve(bounded, 6)
    bounded.write(tone(440, 0.2, 24000))
    bounded.run(1)
    assert bounded.playout.target_ms == 100  # 40 + 60 + 20 wanted, 100 the bound
    outage = Device(audio_impl, prebuffer_ms=40, **dict(ADAPT, max_prebuffer_ms=400))
    outage.ledger.begin_item("a")
    starve(outage, 50)  # 500 ms dry (the idle path counts it too): no buffer up to 400 ms covers it
    outage.write(tone(440, 0.2, 24000))
    outage.run(1)
    assert (outage.playout.target_ms, outage.playout.raises) == (60, 1)


def test_a_barge_in_ends_a_gap_without_a_raise(audio_impl):
    dev = Device(audio_impl, prebuffer_ms=40, **dict(ADAPT, max_prebuffer_ms=400))
    dev.ledger.begin_item("a")
    starve(dev, 12)
    dev.playout.flush()
    dev.run(1)
    dev.write(tone(440, 0.2, 24000), "b")
    dev.run(5)
    assert (dev.playout.underruns, dev.playout.flushes, dev.playout.target_ms) == (1, 1, 40)


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
    dev.write(np.full(1200, 8000, np.int16))  # 50 ms ends the 20 ms gap: the target is 80, it waits 8 periods
    got = dev.run(12)
    assert dev.playout.target_ms == 80
    first = np.flatnonzero(got)[0]
    assert 8 * 240 <= first < 9 * 240, first


def test_stable_playback_lowers_the_target_slowly_to_the_floor(audio_impl):
    dev = Device(audio_impl, prebuffer_ms=40, **ADAPT)
    dev.ledger.begin_item("a")
    starve(dev, 4)
    dev.write(tone(440, 5.0, 24000))  # ends the 40 ms gap (target 100); 5 s of steady audio: one step down per 1 s
    dev.ledger.end_item()                # of playback without an underrun
    dev.run(1)
    assert dev.playout.target_ms == 100
    dev.run(149)
    assert dev.playout.target_ms == 90  # 1.5 s played: one step
    dev.run(300)
    assert dev.playout.target_ms == 60  # 4.5 s: four
    dev.run(100)
    assert (dev.playout.underruns, dev.playout.drained, dev.playout.target_ms) == (1, 1, 50)  # the end: no raise
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


def test_the_target_is_a_lead_beyond_the_newest_arrival(audio_impl):
    """100 ms deltas 100 ms apart and a 100 ms target: starting at the first delta would leave no lead for the next
    one's jitter; playback starts when the second arrives (100 ms of lead beyond it), and plays without a gap."""
    dev = Device(audio_impl, prebuffer_ms=100, **dict(ADAPT, max_prebuffer_ms=400))
    dev.ledger.begin_item("a")
    pcm = np.full(2400 * 6, 8000, np.int16)
    got = []
    for k in range(6):
        dev.write(pcm[k * 2400 : (k + 1) * 2400])
        got.append(dev.run(10))
    first = np.flatnonzero(np.concatenate(got))[0]
    assert 10 * 240 <= first < 11 * 240, first  # the period the second delta arrived in
    assert dev.playout.underruns == 0


def test_a_whole_reply_at_once_starts_at_once(audio_impl):
    dev = Device(audio_impl, prebuffer_ms=100, **ADAPT)
    dev.write(np.full(24000, 8000, np.int16), "a")  # 1 s in one arrival: the sender is far ahead
    assert np.flatnonzero(dev.run(2))[0] < 240
