"""Wake-ups a second of the session's own threads while the conversation is idle (connected, nothing said), read
from the kernel's context-switch counts (benchmarks/e2e/wakeups.py).

    .venv/bin/python -m benchmarks.session_idle_wakeups [--seconds 10]

The simulator runs in the same process (its threads are left out by name); the null backend's engine has no
capture device, so the uplink wakes on its 0.1 s wait. Prints one line per session thread and their sum.
"""

from __future__ import annotations

import argparse
import os
import time

from benchmarks.e2e.wakeups import name_python_threads

SESSION_THREADS = ("py:session", "py:recv", "py:uplink", "py:send", "py:conversation")


def switches() -> dict[str, int]:
    counts: dict[str, int] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/self/task/{tid}/status") as f:
                total = sum(int(line.split()[1]) for line in f if "ctxt_switches" in line)
        except OSError:
            continue
        if comm in SESSION_THREADS:
            counts[comm] = counts.get(comm, 0) + total
    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    name_python_threads()
    from rtaudiod.audio import AudioConfig, AudioEngine
    from rtaudiod.session import RealtimeConfig, Session
    from rtaudiod.sim import Simulator

    sim = Simulator(dialect="ga", api_key="sk-bench-0123456789").start()
    engine = AudioEngine(AudioConfig(backend="null", capture=False)).start()
    session = Session(RealtimeConfig(api_key="sk-bench-0123456789", base_url=sim.url, dialect="ga",
                                     model="gpt-realtime"), engine).start()
    try:
        assert session.wait_ready(10), session.error
        time.sleep(1.0)
        before = switches()
        time.sleep(args.seconds)
        after = switches()
    finally:
        session.stop()
        engine.close()
        sim.stop()
    total = 0.0
    for name in sorted(after):
        rate = (after[name] - before.get(name, 0)) / args.seconds
        total += rate
        print(f"{name:18} {rate:6.1f} wake-ups/s")
    print(f"{'session threads':18} {total:6.1f} wake-ups/s")


if __name__ == "__main__":
    main()
