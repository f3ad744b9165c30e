"""Starving the playout ring and flooding the rings move the counters; the streams keep running."""

import time

import numpy as np

from audiohelpers import tone, wait_for
from rtaudiod.audio import AudioConfig


def duplex_config(**kw) -> AudioConfig:
    return AudioConfig(backend="pyaudio", input_device="pulse", input_rate=48000, input_channels=2,
                       output_device="pulse", output_rate=48000, output_channels=2, **kw)


def test_starved_playout_counts_underruns_and_resumes(pulse_server, engines):
    engine = engines(duplex_config(capture=False))
    rec = pulse_server.record(f"{pulse_server.speaker}.monitor")
    wait_for(lambda: rec.chunks, 5, "the recorder to start")  # parec starts late on a loaded machine
    burst = tone(440, 0.3, 24000, 0.5)
    engine.begin_item("a")
    engine.write(burst)
    wait_for(lambda: engine.playout.underruns >= 1, 3, "the ring to run dry")
    callbacks = engine.playout.callbacks
    time.sleep(0.3)
    assert engine.playout.callbacks > callbacks  # the device kept asking (and got silence)
    engine.write(burst)  # resumes after the gap
    wait_for(lambda: engine.playout.underruns >= 2, 3, "the second burst to play out")
    time.sleep(0.1)
    got = rec.stop().samples[:, 0]
    loud = np.abs(got) > 1000
    edges = np.flatnonzero(np.diff(loud.astype(np.int8)) == 1)  # silence → sound
    bursts = [e for i, e in enumerate(edges) if i == 0 or e - edges[i - 1] > 4800]
    assert len(bursts) == 2
    assert engine.played_ms("a") == 600.0
    assert engine.output_stream.callback_errors == 0 and engine.output_stream.active


def test_flooded_rings_count_overruns_and_keep_running(pulse_server, engines):
    engine = engines(duplex_config(capture_ring_ms=100, playout_ring_s=1))
    # Capture: nobody reads the 100 ms (rounded up to 8192 bytes) ring.
    wait_for(lambda: engine.capture_ring.overruns > 0, 3, "the capture ring to overflow")
    frames = engine.capture.frames_in
    dropped = engine.capture.dropped_bytes
    time.sleep(0.2)
    assert engine.capture.frames_in > frames and engine.capture.dropped_bytes > dropped
    # Playout: 3 s into a ring of 1 s (rounded up to 64 KiB, 1.37 s).
    pcm = tone(300, 3.0, 24000)
    n = engine.write(pcm)
    assert n == engine.playout_ring.capacity < pcm.nbytes
    assert engine.playout_ring.overruns == 1
    status = engine.status()
    assert status["capture"]["overruns"] > 0 and status["playout"]["overruns"] == 1
    wait_for(lambda: engine.playout.playing, 2, "playback to start")
    engine.capture_ring.skip(engine.capture_ring.read_available)
    wait_for(lambda: engine.capture_ring.read_available > 0, 2, "capture to go on")
    assert engine.input_stream.active and engine.output_stream.active
    assert engine.input_stream.callback_errors == engine.output_stream.callback_errors == 0
