"""A contender's CPU and memory from the kernel's accounting of its process (/proc/PID/stat and status), read
from outside, so the sampling costs the contender nothing: user + system time of all its threads, and VmHWM (peak
RSS)."""

from __future__ import annotations

import os
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the process so far (every thread)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()  # after "pid (comm)"; comm may hold spaces
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime: fields 14 and 15 of stat(5)


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Sampler:
    """(monotonic time, CPU seconds) of a process every `interval`, for the plot of CPU over the session."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def sample(self) -> tuple[float, float]:
        s = (time.monotonic(), cpu_seconds(self.pid))
        self.samples.append(s)
        return s

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample()
            except OSError:  # the process is gone
                return
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
