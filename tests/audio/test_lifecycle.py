"""Engine life cycle on the null backend: start/stop/close leave no stream running and nothing reachable."""

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

from audiohelpers import read_wav, tone, wait_for
from rtaudiod.audio import AudioConfig, AudioEngine


def device_threads() -> list[str]:
    """The null backend's pacing threads: Python ones (the Python path) or the C pacer's (named in the kernel)."""
    python = [t.name for t in threading.enumerate() if t.name.startswith("rtaudiod-null")]
    c = [comm for comm in (task.read_text().strip() for task in Path("/proc/self/task").glob("*/comm"))
         if comm == "rtaudiod-pacer"]
    return python + c


def test_a_second_start_opens_no_second_pair_of_streams(engines):
    engine = engines(AudioConfig(backend="null"))
    first = engine.output_stream
    engine.start()  # e.g. a reconnect that restarts everything: must not add a second playout consumer
    assert engine.output_stream is first
    assert len(device_threads()) == 2
    engine.close()
    wait_for(lambda: not device_threads(), 2, "the device threads to end")


def test_flush_while_stopped_discards_the_queue(engines):
    engine = engines(AudioConfig(backend="null"))
    engine.begin_item("a")
    engine.write(tone(440, 1.0, 24000))
    wait_for(lambda: engine.played_ms("a") > 100, 2, "playback to start")
    engine.stop()
    engine.flush()  # no callback runs now: the engine itself must drop the queue
    assert engine.playout_ring.read_available == 0
    assert not engine.is_playing
    played = engine.played_ms("a")
    engine.start()
    engine.begin_item("b")
    engine.write(tone(440, 0.1, 24000))
    wait_for(lambda: engine.played_ms("b") == 100.0, 2, "the next item to play")
    assert engine.played_ms("a") == played  # nothing of the flushed item came back after the restart


def test_audio_held_inside_the_playout_at_stop_is_not_counted_as_played(engines, tmp_path):
    """What the playout had taken from the ring but not yet handed to the device (resampler, FIFO)
    never plays once the stream stops: played_ms must match what reached the WAV "device"."""
    path = tmp_path / "out.wav"
    engine = engines(AudioConfig(backend="wav", wav_output=str(path), output_rate=48000, output_channels=1,
                                 resample_quality="HQ", capture=False))  # HQ holds ~27 ms
    engine.begin_item("a")
    engine.write(np.full(48000, 8000, np.int16))  # 2 s of DC: every handed sample is loud
    wait_for(lambda: engine.played_ms("a") > 300, 3, "playback to start")
    engine.stop()
    engine.flush()
    got, _, _ = read_wav(path)
    loud = np.flatnonzero(np.abs(got) > 100)
    heard_ms = (loud[-1] - loud[0] + 1) / 48
    assert abs(engine.played_ms("a") - heard_ms) < 1.0, (engine.played_ms("a"), heard_ms)
    stopped_at = engine.played_ms("a")
    engine.start()
    wait_for(lambda: engine.playout.callbacks >= 3, 2, "the new stream to call back")
    assert engine.played_ms("a") == stopped_at


def test_close_leaves_no_soxr_stream_for_the_interpreter_exit():
    """A closed engine that something still references at exit (here a daemon thread) must not hold
    soxr streams: nanobind reports them as leaked instances on stderr."""
    script = (
        "import threading, time\n"
        "from rtaudiod.audio import AudioConfig, AudioEngine\n"
        "engine = AudioEngine(AudioConfig(backend='null', half_duplex=True)).start()\n"
        "time.sleep(0.1)\n"
        "engine.close()\n"
        "holder = threading.Thread(target=lambda e=engine: time.sleep(60), daemon=True)\n"
        "holder.start()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "leaked" not in done.stderr, done.stderr
