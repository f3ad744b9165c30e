"""Playout and the played-sample ledger driven by hand (the test plays the device): exact and fast.

Each playout test runs on the C processor (csrc/rta_audio.c) and on its Python twin (`audio_impl`, ids c and py)."""

import numpy as np
import pytest

from audiohelpers import tone
from rtaudiod.audio.ledger import PlayoutLedger
from rtaudiod.ring import RingBuffer


class Device:
    """A playout and a fake device calling it; `run(n)` returns the n periods it produced (mono)."""

    def __init__(self, impl, device_rate=24000, channels=1, prebuffer_ms=40, period_ms=10, quality="LQ", **adapt):
        self.ring, self.ledger = RingBuffer(1 << 20), impl.ledger()
        frames = device_rate * period_ms // 1000
        self.playout = impl.Playout(self.ring, self.ledger, 24000, device_rate, channels, frames, prebuffer_ms, 2.5,
                                    quality, **adapt)
        self.buf = memoryview(bytearray(frames * channels * 2))
        self.channels = channels

    def write(self, pcm: np.ndarray, item: str | None = None) -> None:
        if item is not None:
            self.ledger.begin_item(item)
        n = self.ring.write(pcm)
        self.ledger.wrote(n)

    def run(self, periods: int) -> np.ndarray:
        out = []
        for _ in range(periods):
            self.playout.fill(self.buf)
            out.append(np.frombuffer(bytes(self.buf), np.int16)[:: self.channels])
        return np.concatenate(out)

    def played_ms(self, item: str) -> float:
        return self.ledger.played_bytes(item) / 48


def test_prebuffer_then_exact_passthrough(audio_impl):
    dev = Device(audio_impl)
    pcm = tone(440, 0.2, 24000, 0.5)
    dev.write(pcm[:480], "a")  # 20 ms: under the 40 ms prebuffer
    assert not dev.run(1).any() and not dev.playout.playing
    dev.write(pcm[480:])
    got = dev.run(30)
    assert dev.playout.playing is False and dev.playout.underruns == 1  # ran dry at the end
    start = np.flatnonzero(got)[0] - 1  # the tone starts with a 0 sample
    assert np.array_equal(got[start : start + len(pcm)], pcm)
    assert dev.played_ms("a") == 200.0


def test_the_end_of_an_item_is_drained_not_an_underrun(audio_impl):
    dev = Device(audio_impl, prebuffer_ms=20)
    pcm = tone(440, 0.1, 24000)
    dev.write(pcm[:1200], "a")  # the first 50 ms; the rest arrives late
    dev.run(10)
    assert (dev.playout.underruns, dev.playout.drained) == (1, 0)  # starved mid-item
    dev.write(pcm[1200:])
    dev.ledger.end_item()  # response.audio.done: that was all of it
    dev.run(10)
    assert (dev.playout.underruns, dev.playout.drained) == (1, 1)
    dev.write(pcm, "b")  # the next reply, not yet complete, runs dry: an underrun again
    dev.run(20)
    assert (dev.playout.underruns, dev.playout.drained) == (2, 1)


def test_short_reply_plays_after_waiting_one_prebuffer(audio_impl):
    dev = Device(audio_impl, prebuffer_ms=100)
    dev.write(tone(440, 0.03, 24000), "a")  # 30 ms never reaches the 100 ms prebuffer
    got = dev.run(20)
    assert np.count_nonzero(got) > 0 and dev.played_ms("a") == 30.0
    assert not got[: 240 * 10].any()  # but it waited the prebuffer's 100 ms


def test_underrun_fades_instead_of_clicking_and_fades_back_in(audio_impl):
    dev = Device(audio_impl, prebuffer_ms=20)
    loud = np.full(2400, 20000, np.int16)  # a DC step: the worst case for a click
    dev.write(loud, "a")
    got = dev.run(15)
    assert dev.playout.underruns == 1
    start = np.flatnonzero(got)[0]
    assert np.array_equal(got[start + 60 : start + 2400], loud[60:])  # past the fade-in, untouched
    end = np.flatnonzero(got)[-1]
    assert end - (start + 2400) == 59  # then a 2.5 ms decay (60 samples, the last one above zero)
    assert np.abs(np.diff(got[end - 80 : end + 2].astype(int))).max() < 1000  # no step anywhere
    dev.write(loud)
    got = np.concatenate([[0], dev.run(15)])  # the device was silent before
    start = np.flatnonzero(got)[0]
    assert np.abs(np.diff(got[start - 1 : start + 80].astype(int))).max() < 1000  # ramped up again
    assert got[start + 60] == 20000


def test_flush_drops_queued_audio_keeps_later_items_and_counts_played(audio_impl):
    dev = Device(audio_impl)
    dev.write(tone(440, 1.0, 24000, 0.5), "a")
    dev.run(20)  # 200 ms played after the 40 ms prebuffer started at once
    dev.playout.flush()
    dev.write(tone(660, 0.1, 24000, 0.5), "b")  # written after the flush: must play
    got = dev.run(40)
    assert dev.playout.flushes == 1
    played_a = dev.played_ms("a")
    assert 200.0 <= played_a <= 203.0  # 20 periods + the 2.5 ms ramp taken from what came next
    assert dev.played_ms("b") == 100.0
    assert dev.ledger.received_bytes("a") == 48000
    assert np.count_nonzero(got) > 0.9 * 2400  # b's 100 ms came out


def test_flush_with_resampling_drops_the_fifo_and_accounts_for_it(audio_impl):
    dev = Device(audio_impl, device_rate=48000, channels=2)
    dev.write(tone(440, 1.0, 24000, 0.5), "a")
    out = dev.run(30)
    dev.playout.flush()
    after = dev.run(3)
    assert np.abs(after[120:]).max() == 0  # silent after the 2.5 ms ramp (120 samples at 48 kHz)
    heard = np.flatnonzero(np.abs(np.concatenate([out, after])) > 0)
    heard_ms = (heard[-1] - heard[0] + 1) / 48
    assert abs(dev.played_ms("a") - heard_ms) < 1.0, (dev.played_ms("a"), heard_ms)


def test_ledger_spans_unplayed_and_pending():
    """The consumer's bookkeeping counts once settle() publishes it (as Playout.fill does at its end)."""
    led = PlayoutLedger()
    led.begin_item("a")
    led.wrote(1000)
    led.begin_item("b")
    led.wrote(500)
    led.consumed(600)
    assert led.played_bytes("a") == 0  # a callback in progress: nothing published yet
    led.pending = 100
    led.settle()
    assert led.played_bytes("a") == 500 and led.played_bytes("b") == 0
    assert led.played_total == 500
    led.dropped(100)  # the last 100 consumed bytes never reached the device
    led.pending = 0
    led.skipped(400)  # a flush skips the rest of a
    assert led.played_total == 500  # a flush being served: the total stays what was published, never steps back
    led.settle()
    assert led.played_bytes("a") == 500 and led.received_bytes("a") == 1000
    led.consumed(300)
    led.settle()
    assert led.played_bytes("b") == 300 and led.played_total == 800
    assert led.played_bytes("nope") is None and led.current_item() == "b"


@pytest.mark.parametrize("quality", ["LQ", "HQ"])
def test_played_accounting_holds_with_bursty_resamplers(audio_impl, quality):
    """soxr HQ emits ~35 ms blocks: pending must cover what sits in the FIFO and the resampler."""
    dev = Device(audio_impl, device_rate=44100, channels=2, quality=quality)
    dev.write(tone(440, 2.0, 24000, 0.5), "a")
    out = dev.run(60)
    heard = np.flatnonzero(np.abs(out) > 0)
    heard_ms = (heard[-1] - heard[0] + 1) / 44.1
    assert abs(dev.played_ms("a") - heard_ms) < 2.0, (dev.played_ms("a"), heard_ms)


def test_write_delta_decodes_into_the_ring_and_counts_overruns():
    import base64
    import json

    from rtaudiod.audio import AudioConfig, AudioEngine

    engine = AudioEngine(AudioConfig(backend="null", playout_ring_s=1))  # 64 KiB ring, not started
    try:
        pcm = tone(440, 0.5, 24000)
        frame = json.dumps({"type": "response.output_audio.delta", "item_id": "i", "delta": base64.b64encode(pcm.tobytes()).decode()})
        engine.begin_item("i")
        assert engine.write_delta(frame) == pcm.nbytes
        assert engine.write_delta('{"type":"response.done"}') is None
        assert engine.received_ms("i") == 500.0 and engine.played_ms("i") == 0.0
        big = json.dumps({"type": "response.audio.delta", "delta": base64.b64encode(bytes(100_000)).decode()})
        n = engine.write_delta(big)  # does not fit: what fits is kept, one overrun counted
        assert n == engine.playout_ring.capacity - pcm.nbytes and engine.playout_ring.overruns == 1
        assert engine.received_ms("i") * 48 == engine.playout_ring.capacity
        engine.flush()  # not started: the queued audio is simply forgotten
        assert engine.playout_ring.read_available == 0 and engine.played_ms("i") == 0.0
    finally:
        engine.close()


def test_a_raising_callback_is_counted_and_the_stream_goes_on():
    import time

    from rtaudiod.audio import FileBackend

    backend = FileBackend()
    calls = []

    def bad(buf):
        calls.append(1)
        raise ValueError("boom")

    stream = backend.open_output(backend.resolve(None, output=True), 48000, 2, 480, bad)
    stream.start()
    try:
        deadline = time.monotonic() + 2
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stream.close()
    assert stream.callback_errors >= 3 and isinstance(stream.last_error, ValueError)


def test_a_loud_first_sample_fades_in_even_at_the_first_start(audio_impl):
    dev = Device(audio_impl, prebuffer_ms=20)
    dev.write(np.full(2400, -20000, np.int16))
    got = np.concatenate([[0], dev.run(5)])
    assert np.abs(np.diff(got.astype(int))).max() < 1000


@pytest.mark.parametrize("quality", ["LQ", "HQ"])
@pytest.mark.parametrize("device_rate", [48000, 44100])
def test_played_ms_in_mid_play_counts_only_what_reached_the_device(audio_impl, quality, device_rate):
    """While the 1 s tone still plays, played_ms is what the device got so far: the silence that sat
    in the resampler and the FIFO ahead of the tone is not part of it."""
    dev = Device(audio_impl, device_rate=device_rate, channels=1, quality=quality)
    idle = dev.run(5)  # the device runs before the audio comes: silence fills the resampler
    dev.write(np.full(24000, 8000, np.int16), "a")  # DC: every handed sample of it is loud
    out = np.concatenate([idle, dev.run(30)])
    heard = np.flatnonzero(np.abs(out) > 100)
    heard_ms = (heard[-1] - heard[0] + 1) * 1000 / device_rate
    assert abs(dev.played_ms("a") - heard_ms) < 0.5, (dev.played_ms("a"), heard_ms)


def test_begin_item_again_for_the_current_item_keeps_its_span():
    led = PlayoutLedger()
    led.begin_item("a")
    led.wrote(1000)
    led.begin_item("a")  # e.g. called for each delta of the item, or for a second content part
    led.wrote(1000)
    assert led.received_bytes("a") == 2000
    led.consumed(2000)
    led.settle()
    assert led.played_bytes("a") == 2000


def test_an_odd_length_delta_does_not_shift_the_samples_after_it():
    """A delta of an odd byte count (a broken frame, or G.711 bytes sent by mistake) must not leave the
    ring one byte off: every later sample would play byte-swapped, as full-scale noise."""
    import base64
    import json

    from rtaudiod.audio import AudioConfig, AudioEngine

    def delta(data: bytes) -> str:
        return json.dumps({"type": "response.output_audio.delta", "delta": base64.b64encode(data).decode()})

    engine = AudioEngine(AudioConfig(backend="null"))  # not started: the test reads the ring
    try:
        pcm = tone(440, 0.1, 24000)
        engine.begin_item("i")
        assert engine.write_delta(delta(b"\x01\x02\x03")) == 4  # padded to a whole sample
        engine.write(np.frombuffer(b"\x05", np.uint8))
        assert engine.write_delta(delta(pcm.tobytes())) == pcm.nbytes
        got = np.frombuffer(engine.playout_ring.read(engine.playout_ring.read_available), np.int16)
        assert np.array_equal(got[-len(pcm):], pcm) and len(got) == len(pcm) + 3
        assert engine.received_ms("i") * 48 == got.nbytes
    finally:
        engine.close()


def test_ledger_keeps_every_thrown_away_range_of_a_remembered_item():
    """Hundreds of flushes inside one remembered item: its played figure stays exact (a fixed cap on the
    remembered ranges let old ones fall off, and played_ms then grew by what was never played)."""
    ledger = PlayoutLedger()
    ledger.begin_item("a")
    for _ in range(300):  # per round: 100 bytes played, 60 skipped by a flush
        ledger.wrote(160)
        ledger.consumed(100)
        ledger.skipped(60)
        ledger.settle()
    assert ledger.played_bytes("a") == 300 * 100
    for i in range(100):  # later items push "a" out; their ranges before the oldest one are forgotten
        ledger.begin_item(f"b{i}")
        ledger.wrote(10)
        ledger.consumed(4)
        ledger.skipped(6)
        ledger.settle()
    assert ledger.played_bytes("a") is None and ledger.played_bytes("b99") == 4
    assert len(ledger._unplayed) <= 64
