"""The native pulse backend (rtaudiod/audio/pulse_backend.py, csrc/rta_pulse.c) on the private PulseAudio server:
what it plays comes out of the sink's monitor sample for sample, a barge-in drops the server's queue, what it
captures is what was played into the microphone sink, and the ledger's counts agree with the monitor."""

import time

import numpy as np
import pytest

import rtaudiod
from audiohelpers import flush_a_tone, tone, wait_for
from rtaudiod.audio import AudioConfig, AudioDeviceError, AudioEngine

needs_c = pytest.mark.skipif(rtaudiod.backend() != "c", reason="the pulse backend runs the C callbacks only")


def pulse_config(**kw) -> AudioConfig:
    kw.setdefault("capture", False)
    return AudioConfig(backend="pulse", output_rate=48000, output_channels=2, input_rate=48000, input_channels=2,
                       **kw)


@needs_c
def test_played_audio_comes_back_bit_exact_from_the_monitor(pulse_server, engines):
    """48 kHz mono session audio on a 48 kHz stereo sink: no resampling, the up-mix copies the sample, the server
    mixes it with the keepalive's zeros. Noise, so there is one alignment only.

    At balanced's 60 ms, load average 8-11 made the server underrun now and then, and audio was lost (13 ms of 1 s)."""
    pcm = np.random.default_rng(7).integers(-12000, 12000, 48000, dtype=np.int16)
    # `high`: 120 ms in the server, so a loaded machine does not starve it (what is checked is the samples, not the
    # latency; the PortAudio test asks 200 ms of the server for the same reason, test_playback.py).
    engine = engines(pulse_config(session_rate=48000, fade_ms=0, latency="high"))  # no fade-in at the start
    rec = pulse_server.record(f"{pulse_server.speaker}.monitor")
    wait_for(lambda: rec.chunks, 5, "the recorder to start")
    engine.begin_item("item_x")
    engine.write(pcm)
    engine.end_item()
    wait_for(lambda: not engine.is_playing, 10, "playback to finish")
    time.sleep(0.2)  # the server's buffer and the recorder's
    got = rec.stop().samples
    assert np.array_equal(got[:, 0], got[:, 1])
    # Without the zeros (a server underrun's gap, the keepalive's mix) what came out is the session's audio, after the
    # playout's shortest fade-in (one sample, halved).
    heard, sent = got[:, 0][got[:, 0] != 0], pcm[pcm != 0]
    output = engine.status()["output"]
    assert np.array_equal(heard[1:len(sent)], sent[1:]), f"server underruns: {output['xruns']}"
    assert engine.played_ms("item_x") == engine.received_ms("item_x") == 1000.0
    assert engine.status()["output"]["xruns"] == 0


@needs_c
def test_barge_in_drops_the_servers_queue(pulse_server, engines):
    """A flush is served at once (kick) and the 60 ms the server holds in `balanced` is dropped, not played: the
    monitor goes quiet well inside the PortAudio path's bound (50 ms, test_playback.py). The ledger does not count
    the dropped queue as played (rta_playout_unhand): played_ms matches the monitor within a period, as on PortAudio.

    Measured here: silence 0-2 ms after flush() (an upper bound, see Recorded.start_time), 20-22 ms in 2 runs of 9
    at load average 8; before the ledger knew of the server's flush, played_ms exceeded the monitor by 51 ms."""
    engine = engines(pulse_config())
    silent_after, heard_ms = flush_a_tone(pulse_server, engine, "item_b", 24000)
    played = engine.played_ms("item_b")
    print(f"silence {silent_after * 1000:.1f} ms after flush; handed {played:.1f} ms, monitor {heard_ms:.1f} ms")
    assert silent_after <= 0.050
    assert abs(played - heard_ms) <= 10 + 2, "the ledger counts the dropped queue as heard"  # a period, 1 ms windows
    assert engine.status()["playout"]["flushes"] == 1 and not engine.is_playing


@needs_c
def test_a_flush_while_idle_leaves_a_heard_reply_played(pulse_server, engines):
    """The server's queue after a reply is the silence filled since: a flush then drops none of the reply (before
    rta_playout_unhand was capped at the audio not heard yet, played_ms lost the queue's 60 ms)."""
    engine = engines(pulse_config())
    engine.begin_item("item_q")
    engine.write(tone(440, 0.3, 24000, 0.5))
    engine.end_item()
    wait_for(lambda: not engine.is_playing, 10, "playback to finish")
    # the server's buffer has played out (by the DAC clock): only silence is queued now
    wait_for(lambda: engine.played_ms("item_q") == 300.0, 10, "the reply to be heard whole")
    played = engine.played_ms("item_q")
    engine.flush()
    assert engine.status()["playout"]["flushes"] == 1  # kick served it
    assert engine.played_ms("item_q") == played


@needs_c
def test_a_second_flush_does_not_drop_the_first_ones_queue_again(pulse_server, engines):
    """Two barge-ins in a row: the second finds the server's queue filled with silence since the first, and the
    reply's audio the first counted as unplayed is not counted again."""
    engine = engines(pulse_config())
    flush_a_tone(pulse_server, engine, "item_f", 24000)
    played = engine.played_ms("item_f")
    engine.flush()
    assert engine.status()["playout"]["flushes"] == 2
    assert engine.played_ms("item_f") >= played  # what was heard can only have grown meanwhile, never shrink


@needs_c
def test_capture_hears_the_microphone_sink(pulse_server, engines):
    engine = engines(pulse_config(capture=True, playout=False))
    wait_for(lambda: engine.capture_ring.read_available > 4800, 5, "the microphone to run")
    engine.capture_ring.read(engine.capture_ring.read_available)
    player = pulse_server.play(pulse_server.mic, np.repeat(tone(440, 1.0, 48000, 0.5)[:, None], 2, axis=1))
    player.wait(10)
    time.sleep(0.2)
    got = np.frombuffer(engine.capture_ring.read(engine.capture_ring.read_available), np.int16)
    loud = got[np.flatnonzero(np.abs(got) > 4000)[0]:][:12000].astype(float)  # 0.5 s of the tone, at 24 kHz
    assert len(loud) == 12000
    assert abs(np.argmax(np.abs(np.fft.rfft(loud))) * 24000 / len(loud) - 440) <= 2


@needs_c
def test_the_echo_canceller_gets_whole_periods(pulse_server, engines):
    """The server's capture fragments come in any length; the callback gets whole periods, so the echo canceller
    (whole 10 ms blocks only) runs on every one. Before, each period's remainder passed through it (`bypassed`), the
    canceller never ran, and its stage held the uplink for good on a loudspeaker."""
    engine = engines(pulse_config(capture=True, echo_cancel="internal"))
    wait_for(lambda: engine.capture_ring.read_available > 24000, 5, "the microphone to run")
    echo = engine.status()["echo"]
    assert echo["canceller"] == "internal" and echo["bypassed"] == 0, echo


@needs_c
def test_a_sink_that_does_not_exist_is_a_clear_error(pulse_server):
    engine = AudioEngine(pulse_config(output_device="no_such_sink"))
    with pytest.raises(AudioDeviceError, match="no_such_sink"):
        engine.start()
    engine.close()


@needs_c
def test_the_media_role_is_a_stream_property(pulse_server, engines):
    engines(pulse_config(media_role="phone"))
    inputs = pulse_server.pactl("list", "sink-inputs")
    assert 'media.role = "phone"' in inputs and 'application.name = "rtaudiod"' in inputs


def test_the_python_callbacks_are_refused_with_a_clear_error():
    """Both builds: the Python callbacks, and the build without the extension, cannot run this backend."""
    with pytest.raises(ValueError, match='backend = "pulse" runs the C callbacks only'):
        AudioConfig(backend="pulse", callbacks="python")
    if rtaudiod.backend() != "c":
        with pytest.raises(ValueError, match="needs the C extension"):
            AudioConfig(backend="pulse")
