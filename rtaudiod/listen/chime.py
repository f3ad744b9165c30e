"""The wake-word chime: two short rising tones, generated at the session rate (no file to ship or find)."""

from __future__ import annotations

import numpy as np

__all__ = ["chime"]

TONES = ((880.0, 0.07), (1320.0, 0.09))  # Hz, seconds
LEVEL = 0.25  # -12 dBFS: audible over a quiet room, not startling
FADE_S = 0.005  # raised-cosine edges: no clicks


def chime(rate: int) -> np.ndarray:
    """The chime as mono int16 at `rate`."""
    parts = []
    for freq, seconds in TONES:
        t = np.arange(int(rate * seconds)) / rate
        tone = np.sin(2 * np.pi * freq * t)
        fade = int(rate * FADE_S)
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, fade))
        tone[:fade] *= ramp
        tone[-fade:] *= ramp[::-1]
        parts.append(tone)
    return np.rint(np.concatenate(parts) * LEVEL * 32767).astype(np.int16)
