"""Helpers for the audio tests: test signals (tones, real speech, WAV files) and signal comparisons."""

import shutil
import subprocess
import time
import wave
from pathlib import Path

import numpy as np
import pytest

def tone(freq: float, seconds: float, rate: int, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return np.round(np.sin(2 * np.pi * freq * t) * amplitude * 32767).astype(np.int16)


def speech(path: Path, text: str, rate: int, channels: int) -> np.ndarray:
    """Real speech: espeak-ng → sox at `rate`/`channels`; int16 samples, shape (n, channels)."""
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("espeak-ng and sox are needed for real speech (scripts/install-system-deps)")
    raw = subprocess.run(["espeak-ng", "--stdout", text], check=True, capture_output=True).stdout
    subprocess.run(["sox", "-t", "wav", "-", "-r", str(rate), "-c", str(channels), "-b", "16", "-e", "signed-integer",
                    "-t", "raw", str(path)], input=raw, check=True)
    return np.fromfile(path, np.int16).reshape(-1, channels)


def xcorr_peak(ref: np.ndarray, got: np.ndarray) -> tuple[int, float]:
    """(lag, normalised correlation) of `ref` found inside `got` (got[lag:lag+len(ref)] ~ ref)."""
    ref = ref.astype(np.float64)
    got = got.astype(np.float64)
    n = 1 << (len(ref) + len(got)).bit_length()
    corr = np.fft.irfft(np.fft.rfft(got, n) * np.conj(np.fft.rfft(ref, n)), n)[: len(got) - len(ref) + 1]
    lag = int(np.argmax(corr))
    seg = got[lag : lag + len(ref)]
    return lag, float(np.dot(seg, ref) / (np.linalg.norm(seg) * np.linalg.norm(ref) + 1e-12))


def rms_db(x: np.ndarray) -> float:
    x = x.astype(np.float64)
    return 20 * np.log10(np.sqrt(np.mean(x * x)) / 32768 + 1e-12)


def wait_for(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def write_wav(path, samples: np.ndarray, rate: int) -> str:
    samples = samples.reshape(len(samples), -1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(samples.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype(np.int16).tobytes())
    return str(path)


def read_wav(path) -> tuple[np.ndarray, int, int]:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), np.int16), w.getframerate(), w.getnchannels()


def flush_a_tone(pulse_server, engine, item_id: str, rate: int, cut=None) -> tuple[float, float]:
    """Barge-in on a real sound server: 5 s of tone as `item_id`, flushed after 1.5 s (or cut by `cut()`, e.g. the
    output stream stopped), recorded from the speaker's monitor. Returns (an upper bound on the seconds from flush() to the last loud sample, see
    Recorded.start_time; the milliseconds of tone heard). Heard counts the loud 1 ms windows, so a gap the sound server
    inserts on a loaded machine (an xrun of its own, ~40 ms of silence mid-tone) is not counted."""
    rec = pulse_server.record(f"{pulse_server.speaker}.monitor")
    wait_for(lambda: rec.chunks, 5, "the recorder to start")  # parec starts late on a loaded machine
    engine.begin_item(item_id)
    engine.write(tone(440, 5.0, rate, 0.5))
    time.sleep(1.5)
    t_flush = time.monotonic()
    (cut or engine.flush)()
    time.sleep(0.4)
    recorded = rec.stop()
    got = recorded.samples[:, 0]
    loud = np.flatnonzero(np.abs(got) > 1000)
    start, end = loud[0], loud[-1]
    silent_after = recorded.start_time() + end / 48000 - t_flush
    windows = np.abs(got[start : end + 1][: (end + 1 - start) // 48 * 48]).reshape(-1, 48).max(axis=1)
    return silent_after, float(np.count_nonzero(windows > 1000))
