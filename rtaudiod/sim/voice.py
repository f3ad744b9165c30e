"""The simulator's voice: espeak-ng speech of the reply text when espeak-ng is installed, else a synthetic signal.

Both are deterministic for a given text, so tests can compare what the client played with what was sent. The
result is in the session's output format: pcm16 at 24 kHz, or G.711 mu-law/A-law at 8 kHz.
"""

import functools
import math
import shutil
import struct
import subprocess

import numpy as np
import soxr

from . import formats

ESPEAK_TIMEOUT_S = 20
ESPEAK_WPM = 175  # espeak-ng's default rate, our speed 1.0


def espeak_available() -> bool:
    """True when `espeak-ng` is on PATH."""
    return shutil.which("espeak-ng") is not None


def _wav_pcm16(wav: bytes) -> tuple[bytes, int]:
    """Samples and rate of a mono 16-bit WAV. espeak-ng streams to stdout, so the header's sizes can be bogus:
    take everything after the `data` chunk header."""
    if wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise ValueError("espeak-ng did not produce a WAV stream")
    pos, rate = 12, 0
    while pos + 8 <= len(wav):
        chunk, size = wav[pos:pos + 4], struct.unpack("<I", wav[pos + 4:pos + 8])[0]
        if chunk == b"fmt ":
            rate = struct.unpack("<I", wav[pos + 12:pos + 16])[0]
        if chunk == b"data":
            data = wav[pos + 8:]
            return data[: len(data) - len(data) % 2], rate
        pos += 8 + size
    raise ValueError("no data chunk in espeak-ng output")


def _espeak_pcm16(text: str, rate: int, speed: float) -> bytes:
    """espeak-ng speech of `text` at `speed` x its default words per minute, resampled with soxr to `rate`."""
    wpm = str(round(ESPEAK_WPM * speed))
    wav = subprocess.run(["espeak-ng", "-s", wpm, "--stdout", "--", text], check=True, capture_output=True,
                         timeout=ESPEAK_TIMEOUT_S).stdout
    pcm, src_rate = _wav_pcm16(wav)
    samples = np.frombuffer(pcm, dtype="<i2")
    if src_rate != rate:
        samples = soxr.resample(samples, src_rate, rate)
    return np.asarray(samples, dtype="<i2").tobytes()


def _synthetic_pcm16(text: str, rate: int) -> bytes:
    """A deterministic stand-in for speech: per word a 180 ms tone burst (pitch from the word) and 60 ms of silence.
    (`speed` does not apply: tests rely on these exact durations.)"""
    out = bytearray()
    for word in text.split() or ["..."]:
        freq = 150 + sum(word.encode()) % 200
        n = rate * 180 // 1000
        for i in range(n):
            envelope = math.sin(math.pi * i / n)
            out += struct.pack("<h", int(8000 * envelope * math.sin(2 * math.pi * freq * i / rate)))
        out += bytes(2 * (rate * 60 // 1000))
    return bytes(out)


@functools.lru_cache(maxsize=64)
def synthesize(text: str, fmt: str, engine: str = "auto", speed: float = 1.0) -> bytes:
    """Wire audio of `text` in `fmt`. `engine`: "espeak", "synthetic", or "auto" (espeak-ng when installed)."""
    rate = formats.RATES[fmt]
    use_espeak = engine == "espeak" or (engine == "auto" and espeak_available())
    pcm = _espeak_pcm16(text, rate, speed) if use_espeak else _synthetic_pcm16(text, rate)
    return formats.from_linear16(pcm, fmt)
