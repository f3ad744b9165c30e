"""glibc's malloc arenas, capped by the daemon's main before its threads start (rtaudiod/daemon/arenas.py): a
process of many allocating threads ends with two arenas, not one per thread up to 8 per core, and glibc never reads
/sys/devices/system/cpu/online to learn its cap. Run in a fresh interpreter each (the cap is the process's)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

THREADS = 12  # more than glibc's 8 before it looks up the CPU count

PROGRAM = f"""
import ctypes, sys, threading
from rtaudiod.daemon.arenas import cap_malloc_arenas
if sys.argv[1] == "capped":
    assert cap_malloc_arenas()
barrier = threading.Barrier({THREADS})
def work():
    kept = [bytearray(4096) for _ in range(64)]  # past pymalloc's small objects: malloc's, in this thread's arena
    barrier.wait()  # all alive at once: none hands its arena on to the next
threads = [threading.Thread(target=work) for _ in range({THREADS})]
for t in threads: t.start()
for t in threads: t.join()
ctypes.CDLL(None).malloc_stats()  # one "Arena N:" block per arena, on stderr
"""


def run(mode: str, tmp_path) -> tuple[int, bool]:
    """(the arenas the program ended with, whether it read the CPU count file), under strace."""
    trace = tmp_path / f"{mode}.trace"
    done = subprocess.run(["strace", "-f", "-e", "trace=open,openat", "-o", str(trace), sys.executable, "-c", PROGRAM,
                           mode], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    arenas = sum(line.startswith("Arena ") for line in done.stderr.splitlines())
    return arenas, "/sys/devices/system/cpu/online" in trace.read_text()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's arenas")
def test_the_daemon_caps_mallocs_arenas(tmp_path):
    assert shutil.which("strace"), "strace is required (scripts/install-system-deps)"
    arenas, read = run("default", tmp_path)
    assert arenas > 2 and read  # the control: each thread took an arena of its own, and glibc looked up its cap
    assert run("capped", tmp_path) == (2, False)


def test_a_users_own_cap_is_left_alone(monkeypatch):
    """MALLOC_ARENA_MAX in the environment (a unit's Environment=): glibc took it at start; the daemon keeps it."""
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    from rtaudiod.daemon.arenas import cap_malloc_arenas
    assert cap_malloc_arenas() is False
