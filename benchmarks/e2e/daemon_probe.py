"""The rtaudiod contender: the daemon itself (`rtaudiod --config FILE`, the same main()), with a few probes.

    python -m benchmarks.e2e.daemon_probe --config FILE      (BENCH_E2E_OUT=results.json)

The daemon counts its own uplink time per frame and its reply latency (session counters, kept here for the whole
run instead of the last 1000 samples). The probes add what it does not count: downlink per chunk (the receive
thread's write_delta: a frame straight into the playout ring, one perf_counter() pair) and barge-in (speech_started
handled while the speaker plays -> the first device period wholly silent: BargeInWatch). Its Python threads carry
`py:<name>` as their OS name (wakeups.py); the C audio path's threads name themselves (`rtaudiod-pacer`, ...). It
prints "streaming" once the daemon is READY, and writes its figures when the daemon stops (SIGTERM).

Nothing here imports the Python playout or capture (numpy, soxr): on the C path the daemon never loads them, and
the probe must not add them to its peak RSS.
"""

from __future__ import annotations

import functools
import json
import os
import queue
import sys
import threading
import time

from benchmarks.e2e.figures import Samples
from benchmarks.e2e.wakeups import name_python_threads
from rtaudiod.audio.engine import AudioEngine
from rtaudiod.daemon import main as daemon_main
from rtaudiod.daemon.daemon import Daemon
from rtaudiod.session import stats
from rtaudiod.session.receiver import Receiver

downlink, barge_in = Samples(), Samples()
barge_served = Samples()  # the flush asked for -> the callback that served it (the fade-out begins)
BARGE_POLL_S = 0.001
BARGE_GIVE_UP_S = 1.0


class BargeInWatch:
    """Barge-in, timed from outside the device callbacks: on the C path they run no Python to patch. After a flush
    asked for at time t, the callback that serves it hands the fade-out (a few ms, then zeros) and the next one is
    the first period wholly silent, the moment the peers' speaker stand-in reports (harness.py). The playout's own
    counters tell both (`flush_pending`, `callbacks`; the C playout and its Python twin alike), polled every 1 ms
    from this thread, which sleeps on a queue in between: no wake-ups while audio merely flows. Resolution: the
    poll, ~1 ms plus a GIL hand-off."""

    def __init__(self) -> None:
        self._asked: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._run, name="rtaudiod-bench-barge", daemon=True).start()

    def asked(self, t: float, engine: AudioEngine) -> None:
        self._asked.put((t, engine))

    def _run(self) -> None:
        while True:
            t, engine = self._asked.get()
            served_by = None  # the callback count once the flush was served
            while time.perf_counter() - t < BARGE_GIVE_UP_S:
                playout = engine.playout
                if playout is None:  # the device went away meanwhile: no figure
                    break
                if served_by is None and not playout.flush_pending:
                    served_by = playout.callbacks
                    barge_served.add((time.perf_counter() - t) * 1000)
                elif served_by is not None and playout.callbacks > served_by:
                    barge_in.add((time.perf_counter() - t) * 1000)
                    break
                time.sleep(BARGE_POLL_S)


barge_watch = BargeInWatch()


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
    """The receive thread's own reaction to `speech_started` (session/receiver.py): it silences the speaker before
    the event goes to the conversation's actor, and returns what was playing (None: it did not silence it)."""
    def speech_started(self):
        playing, playout = self.audio.is_playing, self.audio.playout
        flushes = playout.flushes if playout is not None else 0
        t = time.perf_counter()
        heard = orig(self)
        if heard is not None and playing and playout is not None and (playout.flush_pending
                                                                        or playout.flushes > flushes):
            barge_watch.asked(t, self.audio)  # it flushed the speaker (with interrupt_response off it does not)
        return heard
    return speech_started


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
                   "barge_in_served": barge_served.summary(),
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
patch(Receiver, "_speech_started", timed_speech_started)
patch(Daemon, "start", announce_start)
patch(Daemon, "stop", report_at_stop)

if __name__ == "__main__":
    sys.exit(daemon_main.main(sys.argv[1:]))
