"""The wake-ups probe (benchmarks/e2e/wakeups.py) on a process whose threads wake a known number of times: it tells
Python threads (named by `name_python_threads`) from the others and counts each one's wake-ups. Counts, not times."""

import subprocess
import sys
import time

from benchmarks.e2e import wakeups
from benchmarks.e2e.run import ROOT

#: A process with three threads besides the main one: `rtaudiod-reader` wakes once per byte written to its stdin,
#: `rtaudiod-idle` never wakes, and one renamed by hand `rtaudiod-pacer`, as a C thread of the audio path would be.
CHILD = """
import sys, threading
from benchmarks.e2e.wakeups import name_python_threads
name_python_threads()
def reader():
    while sys.stdin.buffer.read(1):
        pass
def c_like():
    import ctypes
    ctypes.CDLL(None).prctl(15, b"rtaudiod-pacer", 0, 0, 0)
    threading.Event().wait()
threading.Thread(target=reader, name="rtaudiod-reader").start()
threading.Thread(target=threading.Event().wait, name="rtaudiod-idle", daemon=True).start()
threading.Thread(target=c_like, daemon=True).start()
print("ready", flush=True)
"""


def test_the_probe_counts_each_threads_wake_ups_and_tells_python_threads_apart():
    wakes = 50
    with subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          cwd=ROOT) as child:
        assert child.stdout.readline() == b"ready\n"
        time.sleep(0.2)  # the threads are blocked where they will stay
        window = wakeups.Window(child.pid)
        for _ in range(wakes):  # one byte at a time, each after the reader has gone back to sleep
            child.stdin.write(b"x")
            child.stdin.flush()
            time.sleep(0.01)
        result = window.end()
        child.stdin.close()  # the reader sees the end, the process exits
    by_comm = {t["comm"]: t for t in result["threads"]}
    assert {"py:MainThread", "py:reader", "py:idle", "rtaudiod-pacer"} <= by_comm.keys()
    assert by_comm["py:reader"]["kind"] == by_comm["py:idle"]["kind"] == "python"
    assert by_comm["rtaudiod-pacer"]["kind"] == "c"
    reader = by_comm["py:reader"]
    # every byte woke the reader (the writer waited for it to sleep again); a preemption may add one or two
    assert wakes <= round(reader["voluntary_per_s"] * result["window_s"]) <= wakes + 5
    assert by_comm["py:idle"]["per_s"] == 0 and by_comm["rtaudiod-pacer"]["per_s"] == 0
    # the CPU each ran (schedstat): the reader's wake-ups cost some, a thread that slept throughout none
    assert reader["cpu_ms_per_s"] > 0 and by_comm["py:idle"]["cpu_ms_per_s"] == 0
    assert result["python_per_s"] >= reader["per_s"] and result["c_per_s"] == 0
    assert "| **all Python threads** | python |" in "\n".join(wakeups.table(result))


def test_kinds_by_name():
    assert [wakeups.kind(c) for c in ("py:uplink", "rtaudiod-pacer", "rtaudiod-pa-out", "rtaudiod-pa-in",
                                      "rta-audio", "python3", "threaded-ml")] == \
        ["python", "c", "c", "c", "c", "other", "other"]
