"""The rtaudiod contender: the daemon itself (`rtaudiod --config FILE`, the same main()), with a few probes.

    python -m benchmarks.e2e.daemon_probe --config FILE      (BENCH_E2E_OUT=results.json)

The daemon counts its own uplink time per frame and its reply latency (session counters, kept here for the whole
run instead of the last 1000 samples). The probes add what it does not count, with one perf_counter() pair each:
downlink per chunk (the receive thread's write_delta: a frame straight into the playout ring) and barge-in
(speech_started handled while the speaker plays -> the first device callback that hands over silence). Its Python
threads carry `py:<name>` as their OS name (wakeups.py). It prints "streaming" once the daemon is READY, and writes
its figures when the daemon stops (SIGTERM).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time

from benchmarks.e2e.figures import Samples
from benchmarks.e2e.wakeups import name_python_threads
from rtaudiod.audio.engine import AudioEngine
from rtaudiod.audio.playout import Playout
from rtaudiod.daemon import main as daemon_main
from rtaudiod.daemon.daemon import Daemon
from rtaudiod.session import stats
from rtaudiod.session.session import Session

downlink, barge_in = Samples(), Samples()
barge_since: list[float] = []  # set by the receive thread, taken by the playback thread


def patch(cls, name, make):
    setattr(cls, name, functools.wraps(getattr(cls, name))(make(getattr(cls, name))))


def timed_write_delta(orig):
    def write_delta(self, frame):
        t = time.perf_counter()
        written = orig(self, frame)
        if written:
            downlink.add((time.perf_counter() - t) * 1000)
        return written
    return write_delta


def timed_speech_started(orig):
    def on_speech_started(self, link, event):
        playing = self.audio.is_playing
        t = time.perf_counter()
        orig(self, link, event)
        if playing:
            barge_since.append(t)
    return on_speech_started


def timed_fill(orig):
    def fill(self, buf):
        audio = orig(self, buf)
        if not audio and barge_since:
            barge_in.add((time.perf_counter() - barge_since.pop()) * 1000)
            barge_since.clear()
        return audio
    return fill


def announce_start(orig):
    def start(self, *args, **kwargs):
        orig(self, *args, **kwargs)
        print("streaming", flush=True)
    return start


def report_at_stop(orig):
    def stop(self):
        session, engine = self.session, self.engine
        underruns = engine.status()["playout"]["underruns"] if engine else None  # the engine closes below
        orig(self)  # first: until the uplink has stopped it may send one more frame than the counters said
        if session is not None and not getattr(self, "_bench_reported", False):
            self._bench_reported = True
            counters = session.status()["counters"]
            out = {"uplink": counters["uplink_latency"], "reply": counters["reply_latency"],
                   "downlink": downlink.summary(), "barge_in": barge_in.summary(),
                   "frames_sent": counters["frames_sent"], "audio_bytes_sent": counters["audio_bytes_sent"],
                   "frames_withheld": counters["frames_withheld"], "deltas": counters["audio_deltas"],
                   "pcm_received": counters["audio_bytes_received"], "barge_ins": counters["barge_ins"],
                   "underruns": underruns}
            with open(os.environ["BENCH_E2E_OUT"], "w") as f:
                json.dump(out, f, default=str)
    return stop


name_python_threads()  # py:<name> in /proc/PID/task/*/comm, so the wake-ups probe tells them from C threads
stats.Latency.__init__.__defaults__ = (1_000_000,)  # the whole run, not the last 1000 samples
patch(AudioEngine, "write_delta", timed_write_delta)
patch(Session, "_on_speech_started", timed_speech_started)
patch(Playout, "fill", timed_fill)
patch(Daemon, "start", announce_start)
patch(Daemon, "stop", report_at_stop)

if __name__ == "__main__":
    sys.exit(daemon_main.main(sys.argv[1:]))
