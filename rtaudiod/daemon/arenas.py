"""glibc's malloc arenas, capped before the daemon starts its threads.

glibc gives a thread that allocates while the other arenas are busy an arena of its own (a heap, with its own
free lists and fragmentation), up to 8 per core. The daemon's dozen threads allocate little: two arenas serve
them, and spare the resident memory of the others. It also ends a file read during the daemon's life: past 8
arenas glibc reads /sys/devices/system/cpu/online, once, to learn its cap (tests/reliability/test_security.py).

`mallopt(M_ARENA_MAX)` from the daemon's own `main`, before any thread: `MALLOC_ARENA_MAX` in the environment
works only when set before the process starts (glibc reads it at start-up), so it would need every way the daemon
is started to set it (the units, the tests, a user's shell).
"""

from __future__ import annotations

import ctypes
import logging
import os

__all__ = ["ARENA_MAX", "cap_malloc_arenas"]

log = logging.getLogger("rtaudiod.daemon")

ARENA_MAX = 2
M_ARENA_MAX = -8  # glibc's malloc.h


def cap_malloc_arenas(arenas: int = ARENA_MAX) -> bool:
    """Cap glibc's malloc arenas at `arenas`; False where that cannot be done (another C library: musl has no
    arenas to cap) or where the user chose a cap already (`MALLOC_ARENA_MAX`, which glibc has read)."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    done = mallopt(M_ARENA_MAX, arenas) == 1
    if not done:
        log.debug("mallopt(M_ARENA_MAX, %d) refused", arenas)
    return done
