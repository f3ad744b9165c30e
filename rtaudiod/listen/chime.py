"""The wake-word chime: two short rising tones, generated at the session rate (no file to ship or find).

Plain Python (math and array), so the daemon's import path does without numpy."""

from __future__ import annotations

import math
from array import array

__all__ = ["chime"]

TONES = ((880.0, 0.07), (1320.0, 0.09))  # Hz, seconds
LEVEL = 0.25  # -12 dBFS: audible over a quiet room, not startling
FADE_S = 0.005  # raised-cosine edges: no clicks


def chime(rate: int) -> array:
    """The chime as mono int16 samples at `rate` (an array('h'): a bytes-like buffer of native int16)."""
    out = array("h")
    fade = int(rate * FADE_S)
    ramp = [0.5 - 0.5 * math.cos(math.pi * i / (fade - 1)) for i in range(fade)]
    for freq, seconds in TONES:
        n = int(rate * seconds)
        for i in range(n):
            v = math.sin(2 * math.pi * freq * (i / rate))
            if i < fade:
                v *= ramp[i]
            if i >= n - fade:
                v *= ramp[n - 1 - i]
            out.append(round(v * LEVEL * 32767))
    return out
