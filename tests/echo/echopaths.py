"""Echo paths built here, from files (TESTING.md, "An echo path"), and the figures measured on them.

A scene is what a loudspeaker's microphone hears while the daemon plays a reply: the reply (espeak-ng speech,
made at test time) through an echo path, optionally a person talking over it (another espeak-ng voice), and
noise. The echo paths:
  linear       the reply delayed and attenuated (a speaker and a microphone in free field)
  reverberant  the reply soft-clipped (a small speaker driven hard), convolved with a room impulse response
               (a direct path, early reflections and an exponentially decaying tail: RT60 300 ms), plus noise
The figures are the harness's own, from the parts of the scene it built (the echo and the person are known
separately), never the canceller's estimates:
  ERLE         10 log10(echo power in / residual power out) over 100 ms windows where only the echo is present
  convergence  the first time the ERLE of 4 consecutive echo-only windows all reach 10 dB (the C flag's bar)
  double talk  the correlation of the cancelled output with the person's clean voice while they talk
Used by tests/echo and benchmarks/bench_echo.py, benchmarks/echo_figures.py.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import time
from dataclasses import dataclass, field

import numpy as np

REPLY_TEXT = [
    "Sure, here is the weather for today. It will be mostly sunny in the morning, with clouds building up in the "
    "afternoon and a chance of light rain after six.",
    "The high will be around twenty one degrees, and the wind will come from the south west at fifteen kilometres "
    "an hour.",
    "Tomorrow looks cooler, with showers through most of the day, so you may want to take an umbrella with you.",
    "Would you like me to set a reminder to close the windows this evening, or read you the forecast for the "
    "weekend as well?",
]
PERSON_TEXT = "Stop, stop. I only wanted to know if I need a jacket tonight."
PERSON_VOICE = "en-us+f3"


@functools.lru_cache(maxsize=None)
def espeak(text: str, rate: int, voice: str = "en-us", wpm: int = 175) -> np.ndarray:
    """Real speech, int16 mono at `rate`: espeak-ng through sox (TESTING.md's recipe)."""
    assert shutil.which("espeak-ng") and shutil.which("sox"), \
        "espeak-ng and sox are required (scripts/install-system-deps)"
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "--stdout", text], check=True,
                         capture_output=True, timeout=60).stdout
    raw = subprocess.run(["sox", "-t", "wav", "-", "-t", "raw", "-r", str(rate), "-c", "1", "-b", "16",
                          "-e", "signed-integer", "-"], input=wav, check=True, capture_output=True, timeout=60).stdout
    return np.frombuffer(raw, "<i2").copy()


def reply(rate: int, seconds: float) -> np.ndarray:
    """The reply the speaker plays: the sentences again and again until `seconds` long, at -6 dBFS peak."""
    parts, total = [], 0
    while total < seconds * rate:
        for text in REPLY_TEXT:
            parts.append(espeak(text, rate))
            total += parts[-1].size
    x = np.concatenate(parts)[: int(seconds * rate)].astype(np.float64)
    return x * (16384.0 / np.max(np.abs(x)))


def room_impulse_response(rate: int, rt60_ms: float = 300.0, seed: int = 18) -> np.ndarray:
    """A direct path, three early reflections, and a diffuse tail decaying 60 dB over rt60_ms (synthetic, seeded)."""
    rng = np.random.default_rng(seed)
    n = int(rate * rt60_ms / 1000)
    t = np.arange(n) / rate
    h = rng.standard_normal(n) * 10 ** (-3 * t / (rt60_ms / 1000)) * 0.12
    h[: int(0.002 * rate)] = 0.0  # the tail starts after the direct path
    h[0] = 1.0
    for ms, gain in ((3.1, -0.45), (7.4, 0.3), (12.9, -0.2)):
        h[int(ms * rate / 1000)] += gain
    return h


def convolve(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    n = x.size + h.size - 1
    size = 1 << (n - 1).bit_length()
    return np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(h, size), size)[: x.size]


def delayed(x: np.ndarray, samples: int) -> np.ndarray:
    return np.concatenate([np.zeros(samples), x[: x.size - samples]])


@dataclass
class Scene:
    """What the speaker played (ref) and what the microphone heard (mic = echo + person + noise), int16 mono."""

    name: str
    rate: int
    ref: np.ndarray
    mic: np.ndarray
    echo: np.ndarray                 # float: the echo's part of mic
    person: np.ndarray               # float: the person's part of mic (zeros without double talk)
    person_span: tuple[int, int] = (0, 0)
    delay_ms: float = 0.0            # the path's bulk delay (direct path)

    @property
    def seconds(self) -> float:
        return self.ref.size / self.rate


def drifted(x: np.ndarray, ppm: float) -> np.ndarray:
    """x as a device whose clock runs `ppm` parts per million fast plays it: the delay grows by ppm us a second."""
    t = np.arange(x.size) * (1 - ppm * 1e-6)
    return np.interp(t, np.arange(x.size), x)


def scene(path: str, rate: int = 48000, seconds: float = 20.0, *, delay_ms: float = 60.0,
          double_talk_at_s: float | None = None, drift_ppm: float = 0.0, seed: int = 18) -> Scene:
    """A scene on the `linear` or `reverberant` path; with double_talk_at_s, the person starts talking then; with
    drift_ppm, the speaker's clock and the microphone's differ (two devices, not one card)."""
    ref = reply(rate, seconds)
    d = int(delay_ms * rate / 1000)
    rng = np.random.default_rng(seed)
    if path == "linear":
        echo = delayed(ref, d) * 10 ** (-10 / 20)
        noise = np.zeros(ref.size)
    elif path == "reverberant":
        clipped = np.tanh(1.6 * ref / 32768) / 1.6 * 32768  # mild: -1 dB at the reply's peaks
        echo = delayed(convolve(clipped, room_impulse_response(rate)), d) * 10 ** (-12 / 20)
        noise = rng.standard_normal(ref.size) * 32768 * 10 ** (-60 / 20)  # -60 dBFS rms, a quiet room
    else:
        raise ValueError(f"unknown echo path {path!r}")
    if drift_ppm:
        echo = drifted(echo, drift_ppm)
    person = np.zeros(ref.size)
    span = (0, 0)
    if double_talk_at_s is not None:
        voice = espeak(PERSON_TEXT, rate, PERSON_VOICE).astype(np.float64)
        voice *= 8000.0 / np.max(np.abs(voice))  # about as loud at the microphone as the echo
        start = int(double_talk_at_s * rate)
        end = min(ref.size, start + voice.size)
        person[start:end] = voice[: end - start]
        span = (start, end)
    mic = np.clip(np.round(echo + person + noise), -32768, 32767).astype("<i2")
    return Scene(path, rate, np.round(ref).astype("<i2"), mic, echo, person, span, delay_ms)


@dataclass
class Run:
    out: np.ndarray
    cpu_s: float
    figures: list[dict] = field(default_factory=list)  # the canceller's own figures, once a second


def cancel(scene: Scene, engine: str | None, period_ms: int = 20, **options) -> Run:
    """The scene through rtaudiod's C canceller, one device period at a time, as the capture callback will."""
    from rtaudiod._ext._echo import EchoCanceller

    canceller = EchoCanceller(scene.rate, engine, **options)
    n = scene.rate * period_ms // 1000
    usable = scene.mic.size - scene.mic.size % n
    out = np.zeros(scene.mic.size, "<i2")
    figures = []
    per_second = scene.rate // n
    cpu = 0.0
    for i, start in enumerate(range(0, usable, n)):
        t0 = time.process_time()
        canceller.process(scene.mic[start:start + n], scene.ref[start:start + n], out[start:start + n])
        cpu += time.process_time() - t0
        if (i + 1) % per_second == 0:
            figures.append(canceller.figures())
    return Run(out, cpu, figures)


WINDOW_MS = 100


def _windows(scene: Scene):
    n = scene.rate * WINDOW_MS // 1000
    guard = scene.rate // 5  # 200 ms either side of the person: their voice is not echo
    for start in range(0, scene.mic.size - n + 1, n):
        end = start + n
        echo_power = float(np.mean(scene.echo[start:end] ** 2))
        if echo_power < (32768 * 10 ** (-45 / 20)) ** 2:  # the reply's gaps: nothing to cancel
            continue
        if scene.person_span[1] and start < scene.person_span[1] + guard and end > scene.person_span[0] - guard:
            continue
        yield start, end, echo_power


def erle_db(scene: Scene, out: np.ndarray, from_s: float = 0.0) -> float:
    """Echo power in over residual power out, pooled over the echo-only windows from `from_s` on."""
    echo_in = residual = 0.0
    for start, end, echo_power in _windows(scene):
        if start >= from_s * scene.rate:
            echo_in += echo_power
            residual += float(np.mean(out[start:end].astype(np.float64) ** 2))
    return 10 * np.log10((echo_in + 1e-9) / (residual + 1e-9))


def convergence_s(scene: Scene, out: np.ndarray, bar_db: float = 10.0, run: int = 4) -> float | None:
    """The start of the first `run` consecutive echo-only windows whose ERLE are all >= bar_db."""
    streak = []
    for start, end, echo_power in _windows(scene):
        residual = float(np.mean(out[start:end].astype(np.float64) ** 2))
        if 10 * np.log10((echo_power + 1e-9) / (residual + 1e-9)) >= bar_db:
            streak.append(start)
            if len(streak) == run:
                return max(0.0, (streak[0] - int(scene.delay_ms * scene.rate / 1000)) / scene.rate)
        else:
            streak = []
    return None


def correlation(a: np.ndarray, b: np.ndarray, max_lag: int = 0) -> tuple[float, int]:
    """(largest normalised correlation, its lag) of `a` against `b` delayed by 0..max_lag samples."""
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    best, best_lag = 0.0, 0
    for lag in range(max_lag + 1):
        x, y = a[lag:], b[: b.size - lag]
        denom = np.sqrt(np.sum(x * x) * np.sum(y * y))
        if denom > 0 and np.sum(x * y) / denom > best:
            best, best_lag = float(np.sum(x * y) / denom), lag
    return best, best_lag


def double_talk(scene: Scene, signal: np.ndarray) -> tuple[float, float]:
    """(correlation, latency ms) of `signal` (the cancelled output, or the raw mic for contrast) with the person's
    clean voice while they talk. Lags up to 20 ms are searched: the engines' block processing delays their output
    (speex's preprocessor by one 10 ms block, webrtc by ~8 ms), which is itself a figure worth reporting."""
    start, end = scene.person_span
    corr, lag = correlation(signal[start:end], scene.person[start:end], max_lag=scene.rate // 50)
    return corr, lag * 1000 / scene.rate
