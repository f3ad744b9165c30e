"""The engine's delta path as the session drives it: items begun by the deltas themselves, responses dropped
after a flush or by name, truncate_point against what the speaker (a WAV file) really got, start latency."""

import base64
import json
import time

import numpy as np
import pytest

from audiohelpers import read_wav, tone, wait_for
from rtaudiod.audio import AudioConfig, AudioEngine
from rtaudiod.errors import FramingError

GA = "response.output_audio.delta"


def delta(pcm, item_id: str | None = "item_a", response_id: str | None = "resp_1") -> str:
    """A GA audio delta in the service's field order."""
    fields = {"type": GA, "event_id": "event_1"}
    if response_id is not None:
        fields["response_id"] = response_id
    if item_id is not None:
        fields["item_id"] = item_id
    fields.update(output_index=0, content_index=0, delta=base64.b64encode(bytes(pcm)).decode())
    return json.dumps(fields, separators=(",", ":"))


@pytest.fixture
def idle():
    """An engine that is never started: the test reads the playout ring itself."""
    engine = AudioEngine(AudioConfig(backend="null"))
    yield engine
    engine.close()


def test_a_new_item_id_begins_a_new_item(idle):
    a, b = tone(440, 0.1, 24000), tone(660, 0.05, 24000)
    assert idle.delta_item_id is None and idle.delta_response_id is None
    assert idle.write_delta(delta(a)) == a.nbytes
    assert idle.write_delta(delta(a)) == a.nbytes  # the same item goes on
    assert idle.write_delta(delta(b, item_id="item_b")) == b.nbytes
    assert (idle.received_ms("item_a"), idle.received_ms("item_b")) == (200.0, 50.0)
    assert (idle.delta_item_id, idle.delta_response_id) == ("item_b", "resp_1")
    assert idle.ledger.current_item() == "item_b"
    idle.write_delta(delta(b, item_id=None))  # no item_id: still the current item
    assert idle.received_ms("item_b") == 100.0 and idle.delta_item_id is None


def test_begin_item_by_hand_still_works_with_deltas(idle):
    idle.begin_item("item_a")
    idle.write_delta(delta(tone(440, 0.1, 24000)))
    assert idle.received_ms("item_a") == 100.0 and idle.ledger.current_item() == "item_a"


def test_deltas_of_a_flushed_response_are_dropped_until_another_response(idle):
    pcm = tone(440, 0.1, 24000)
    idle.write_delta(delta(pcm))
    idle.flush()  # not started: the queue is simply forgotten
    ring = idle.playout_ring
    for _ in range(3):  # resp_1 is still streaming in: nothing of it is written or counted
        assert idle.write_delta(delta(pcm)) == 0
    assert ring.read_available == 0 and idle.dropped_deltas == 3
    assert idle.received_ms("item_a") == 100.0 and idle.ledger.written == pcm.nbytes
    assert idle.status()["playout"]["dropped_deltas"] == 3
    assert idle.write_delta('{"type":"response.done"}') is None  # other events are not deltas
    b = tone(660, 0.05, 24000)
    assert idle.write_delta(delta(b, "item_b", "resp_2")) == b.nbytes  # the next response plays
    assert idle.write_delta(delta(pcm)) == pcm.nbytes  # and resp_1 is no longer dropped
    assert np.array_equal(np.frombuffer(ring.read(ring.read_available), np.int16), np.concatenate([b, pcm]))
    assert idle.dropped_deltas == 3 and idle.received_ms("item_b") == 50.0


def test_flush_before_any_delta_drops_nothing(idle):
    idle.flush()
    assert idle.write_delta(delta(tone(440, 0.01, 24000))) == 480 and idle.dropped_deltas == 0


def test_drop_response_drops_a_response_that_had_not_started(idle):
    a = tone(440, 0.1, 24000)
    idle.write_delta(delta(a))  # resp_1 played; then resp_2 is cancelled before its audio came
    idle.drop_response("resp_2")
    idle.flush()  # after drop_response: resp_2 stays the one dropped (resp_1 is over)
    assert idle.write_delta(delta(a, "item_b", "resp_2")) == 0
    assert idle.received_ms("item_b") is None and idle.dropped_deltas == 1
    assert idle.write_delta(delta(a, "item_c", "resp_3")) == a.nbytes
    idle.flush()  # resp_3 was playing: now it is the one dropped
    assert idle.write_delta(delta(a, "item_c", "resp_3")) == 0 and idle.dropped_deltas == 2


def test_a_broken_delta_is_an_error_and_counts_nothing(idle):
    with pytest.raises(FramingError):
        idle.write_delta('{"type":"%s","item_id":"x","delta":"QUJ"}' % GA)
    assert idle.playout_ring.read_available == 0 and idle.received_ms("x") is None


def test_an_overflowing_delta_keeps_what_fits(idle):
    ring = idle.playout_ring
    ring.write(bytes(ring.capacity - 1001))
    assert idle.write_delta(delta(tone(440, 0.1, 24000))) == 1000 and ring.overruns == 1
    assert idle.received_ms("item_a") == 1000 / 48


@pytest.mark.parametrize("law", ["ulaw", "alaw"])
def test_g711_deltas_go_through_the_one_pass(law):
    from rtaudiod import codecs

    engine = AudioEngine(AudioConfig(backend="null", session_format=f"g711_{law}"))
    try:
        codes = getattr(codecs, f"{law}_encode")(tone(440, 0.1, 8000).tobytes())
        assert engine.write_delta(delta(codes)) == 2 * len(codes)
        got = engine.playout_ring.read(engine.playout_ring.read_available)
        assert got == getattr(codecs, f"{law}_decode")(codes)
        assert engine.received_ms("item_a") == 100.0
    finally:
        engine.close()


def test_truncate_point_of_unknown_or_unplayed_items_is_none(idle):
    assert idle.truncate_point("nope") is None
    idle.write_delta(delta(tone(440, 0.1, 24000)))
    assert idle.truncate_point("item_a") is None  # received, but nothing played
    assert idle.start_latency_ms("item_a") is None


@pytest.mark.parametrize("output_rate, channels", [(24000, 1), (48000, 2)])
def test_truncate_point_right_after_flush_matches_the_speaker(engines, tmp_path, output_rate, channels):
    """Real-time WAV "speaker": 2 s of item_a as 100 ms deltas, flush after ~0.6 s, truncate_point read at
    once. The file must hold item_a for that many ms, within one device period; the rest of resp_1 is
    dropped, and resp_2 (item_b) plays after it."""
    path = tmp_path / "out.wav"
    engine = engines(AudioConfig(backend="wav", wav_output=str(path), output_rate=output_rate,
                                 output_channels=channels, capture=False, latency="low"))  # fmt: skip
    a = np.full(48000, 8000, np.int16)  # DC: every handed sample of it is loud, and positive
    for at in range(0, 24000, 2400):
        engine.write_delta(delta(a[at : at + 2400]))
    time.sleep(0.6)
    engine.flush()
    point = engine.truncate_point("item_a")
    for at in range(24000, 48000, 2400):  # the rest of resp_1 arrives after the flush: dropped
        assert engine.write_delta(delta(a[at : at + 2400])) == 0
    b = np.full(4800, -8000, np.int16)
    engine.write_delta(delta(b, "item_b", "resp_2"))
    wait_for(lambda: engine.played_ms("item_b") == 200.0, 5, "item_b to play")
    later = engine.truncate_point("item_a")
    engine.close()
    got, rate, got_channels = read_wav(path)
    mono = got[::got_channels]
    heard_a = np.count_nonzero(mono > 0) * 1000 / rate  # a's samples, fade-in and fade-out included
    heard_b = np.count_nonzero(mono < 0) * 1000 / rate
    period_ms = 10  # `low`: 10 ms device periods
    print(f"truncate_point right after flush {point} ms, later {later} ms; the file holds {heard_a:.2f} ms")
    assert point is not None and 400 <= point <= 900
    assert abs(point - heard_a) <= period_ms
    assert point <= later <= point + 3  # right after flush it lacks at most the 2.5 ms fade-out
    assert abs(later - heard_a) <= 1.0
    assert 200.0 <= heard_b <= 204.0 and engine.dropped_deltas == 10  # + its 2.5 ms decay to silence at the end
    assert engine.received_ms("item_a") == 1000.0


def test_start_latency_is_known_once_the_first_sample_was_handed(engines):
    """balanced mode: playback waits for a 300 ms lead beyond the newest delta; a 700 ms reply in one delta is more
    than that twice over (the sender is ahead), so its first sample goes out at once, while a 30 ms reply waits the
    prebuffer's time first. Checked as an order (write, then handed; the long reply sooner than the short one), not
    against a clock: a loaded machine stretches both."""
    engine = engines(AudioConfig(backend="null", capture=False))
    engine.write_delta(delta(tone(440, 0.7, 24000)))
    wait_for(lambda: engine.start_latency_ms("item_a") is not None, 2, "the first sample to be handed")
    at_once = engine.start_latency_ms("item_a")
    assert engine.start_latency_ms("nope") is None
    wait_for(lambda: not engine.is_playing, 2, "the reply to end")
    engine.write_delta(delta(tone(440, 0.03, 24000), "item_b", "resp_2"))  # under the prebuffer: it waits one
    wait_for(lambda: engine.start_latency_ms("item_b") is not None, 2, "the short reply to start")
    assert 0 <= at_once < engine.start_latency_ms("item_b")


def test_an_item_flushed_before_it_played_has_no_start_latency(engines):
    engine = engines(AudioConfig(backend="null", capture=False), start=False)
    engine.write_delta(delta(tone(440, 0.1, 24000)))
    engine.flush()  # not started: item_a is forgotten before anything played it
    engine.write_delta(delta(tone(440, 0.1, 24000), "item_b", "resp_2"))
    engine.start()  # the device plays item_b
    wait_for(lambda: engine.start_latency_ms("item_b") is not None, 2, "item_b to be handed")
    assert engine.start_latency_ms("item_a") is None
