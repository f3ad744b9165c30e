"""Wake-ups per thread of a process, from the kernel's context-switch counts, read from outside.

    python -m benchmarks.e2e.wakeups PID [--seconds 10]       (a running daemon: its threads, wake-ups a second)

Each thread's /proc/PID/task/TID/status counts `voluntary_ctxt_switches` (it blocked: every sleep that ends is one
wake-up) and `nonvoluntary_ctxt_switches` (it was preempted); their sum over a window, per second, is how often
the thread is scheduled. Issue 17's target: the daemon's Python threads <= 60 a second in all while audio flows
with nobody on the control socket (uplink frames and received deltas only).

Which thread is which, from /proc/PID/task/TID/comm (15 characters at most):
- `py:<name>`: a Python thread. Python 3.11 does not give its threads an OS name (3.14 does), so the benchmark's
  processes name theirs at start: `name_python_threads()` (daemon_probe.py and the peers' harness call it first);
- `rtaudiod-<name>`: a C thread of rtaudiod's audio path, named in csrc/ with pthread_setname_np: the C pacer of
  the null and wav backends `rtaudiod-pacer` (csrc/rta_pacer.c), PortAudio's callback threads `rtaudiod-pa-out` and
  `rtaudiod-pa-in` on their first callback (csrc/rta_pa.c); they never run Python (`rta-<name>` counts too);
- anything else: a thread of a library (PortAudio's or PulseAudio's own, e.g. `threaded-ml`), or, in a process
  that did not call `name_python_threads()`, any thread at all (they all carry the executable's name).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import threading
import time

PY_PREFIX = "py:"
KINDS = ("python", "c", "other")
C_PREFIXES = ("rtaudiod-", "rta-")  # a Python thread named by name_python_threads() drops `rtaudiod-`
COMM_MAX = 15  # TASK_COMM_LEN - 1
PR_SET_NAME = 15


def _set_os_name(name: str) -> None:
    """Name the calling thread in the OS (its /proc comm) with prctl(PR_SET_NAME); best effort. The 15 characters
    go to what tells threads apart: `rtaudiod-` is dropped, and of a path (the wav backend's thread) its file name."""
    name = name.removeprefix("rtaudiod-").rpartition("/")[2]
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_NAME, (PY_PREFIX + name)[:COMM_MAX].encode(errors="replace"), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def name_python_threads() -> None:
    """From now on every Python thread of this process carries `py:<its threading name>` as its OS name (the
    calling thread, normally the main one, at once); costs one prctl per thread start."""
    _set_os_name(threading.current_thread().name)
    bootstrap = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]

    def named_bootstrap(self: threading.Thread) -> None:
        _set_os_name(self.name)
        bootstrap(self)

    threading.Thread._bootstrap_inner = named_bootstrap  # type: ignore[attr-defined]


def kind(comm: str) -> str:
    if comm.startswith(PY_PREFIX):
        return "python"
    if comm.startswith(C_PREFIXES):
        return "c"
    return "other"


def snapshot(pid: int) -> dict[int, tuple[str, int, int, int]]:
    """{tid: (comm, voluntary, nonvoluntary, cpu_ns)} of every thread of `pid` now (threads that end meanwhile
    skipped); cpu_ns: the time it ran, from /proc/PID/task/TID/schedstat (nanoseconds, where /proc/PID/stat
    counts 10 ms ticks)."""
    out = {}
    for entry in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{entry}/comm") as f:
                comm = f.read().strip()
            vol = nonvol = 0
            with open(f"/proc/{pid}/task/{entry}/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        vol = int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches:"):
                        nonvol = int(line.split()[1])
            with open(f"/proc/{pid}/task/{entry}/schedstat") as f:
                cpu_ns = int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue
        out[int(entry)] = (comm, vol, nonvol, cpu_ns)
    return out


def rates(before: dict, after: dict, seconds: float) -> dict:
    """Wake-ups and CPU a second over the window between two snapshots: per thread (alive at its end; one born in
    it counts from 0) and per kind. Threads that ended in the window are not counted (their counts are gone)."""
    threads = []
    for tid, (comm, vol, nonvol, cpu) in sorted(after.items()):
        _, vol0, nonvol0, cpu0 = before.get(tid, (comm, 0, 0, 0))
        threads.append({"tid": tid, "comm": comm, "kind": kind(comm), "voluntary_per_s": (vol - vol0) / seconds,
                        "nonvoluntary_per_s": (nonvol - nonvol0) / seconds,
                        "per_s": (vol - vol0 + nonvol - nonvol0) / seconds,
                        "cpu_ms_per_s": (cpu - cpu0) / 1e6 / seconds})
    total = {k: sum(t["per_s"] for t in threads if t["kind"] == k) for k in KINDS}
    return {"window_s": seconds, "python_per_s": total["python"], "c_per_s": total["c"],
            "other_per_s": total["other"], "python_voluntary_per_s": voluntary(threads, "python"),
            "cpu_ms_per_s": {k: cpu_ms(threads, k) for k in KINDS},
            "ended": len(set(before) - set(after)), "threads": threads}


def cpu_ms(threads: list[dict], kind_: str) -> float:
    """CPU ms a second of a kind's threads (what the audio path's C threads cost beside Python's)."""
    return sum(t.get("cpu_ms_per_s", 0.0) for t in threads if t["kind"] == kind_)


def voluntary(threads: list[dict], kind_: str) -> float:
    """The voluntary share of a kind's wake-ups a second: the thread slept and was woken (a frame, a delta, a
    timer, the GIL handed over); the rest are preemptions, which grow with the machine's load."""
    return sum(t["voluntary_per_s"] for t in threads if t["kind"] == kind_)


class Window:
    """A measurement window: `Window(pid)` takes the first snapshot, `.end()` the second and returns `rates`."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.t0, self.before = time.monotonic(), snapshot(pid)

    def end(self) -> dict:
        after, t1 = snapshot(self.pid), time.monotonic()
        return rates(self.before, after, t1 - self.t0)


def table(result: dict) -> list[str]:
    """Markdown: one row per thread, busiest first, then the totals per kind."""
    threads = result["threads"]

    def cpu(t: dict) -> str:
        return f"{t['cpu_ms_per_s']:.2f}" if "cpu_ms_per_s" in t else "–"

    def per_wake(t: dict) -> str:
        return f"{1000 * t['cpu_ms_per_s'] / t['per_s']:.0f}" if "cpu_ms_per_s" in t and t["per_s"] else "–"

    lines = ["| thread (comm) | kind | wake-ups/s | voluntary/s | preempted/s | CPU ms/s | CPU µs a wake-up |",
             "|---|---|---|---|---|---|---|"]
    for t in sorted(threads, key=lambda t: -t["per_s"]):
        lines.append(f"| {t['comm']} ({t['tid']}) | {t['kind']} | {t['per_s']:.1f} | {t['voluntary_per_s']:.1f} | "
                     f"{t['nonvoluntary_per_s']:.1f} | {cpu(t)} | {per_wake(t)} |")
    for k, name in (("python", "Python threads"), ("c", "rtaudiod C threads"), ("other", "other threads")):
        label, total = (f"**all {name}**", f"**{result['python_per_s']:.1f}**") if k == "python" else \
            (f"all {name}", f"{result[f'{k}_per_s']:.1f}")
        vol = f"{voluntary(threads, k):.1f}" if k == "python" else ""
        lines.append(f"| {label} | {k} | {total} | {vol} | | {cpu_ms(threads, k):.2f} | |")
    return lines


def main() -> int:
    p = argparse.ArgumentParser(description="Wake-ups per second of each thread of a running process.")
    p.add_argument("pid", type=int)
    p.add_argument("--seconds", type=float, default=10.0)
    args = p.parse_args()
    window = Window(args.pid)
    time.sleep(args.seconds)
    result = window.end()
    print("\n".join(table(result)))
    if not any(t["kind"] == "python" for t in result["threads"]):
        print(f"\nno thread named {PY_PREFIX}*: this process did not call name_python_threads(), so its Python "
              "threads are among the 'other' ones")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
