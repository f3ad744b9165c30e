"""Helpers for the session tests: an event recorder, a paced microphone, speech, and waiting.

The session runs for real: a real `rtaudiod-sim` on 127.0.0.1, real sockets, a real `AudioEngine` on the headless
backend (its output paced in real time like a sound card). The microphone is a thread that writes 20 ms of PCM
into the capture ring every 20 ms, as the capture callback would (the engine runs with `capture=False`, so the
ring has exactly one producer).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

import msgspec
import numpy as np

from openai_schemas import validate_client_event, validate_server_event
from rtaudiod.audio import AudioConfig, AudioEngine
from rtaudiod.session import RealtimeConfig
from rtaudiod.sim import Simulator
from rtaudiod.sim.session import FIRST_AUDIO_LATENCY_S, RESPONSE_LATENCY_S, TRANSCRIPTION_LATENCY_S

KEY = "sk-test-key-0123456789"
MODELS = {"beta": "gpt-4o-realtime-preview", "ga": "gpt-realtime"}

#: Shapes and sequences only: no pacing, no latency.
FAST = {"pace": 0, "response_latency": 0, "first_audio_latency": 0, "transcription_latency": 0}
#: Races (barge-in, cancel, truncate): real-time pace and the service's latencies.
REAL_TIME = {"pace": 1.0, "response_latency": RESPONSE_LATENCY_S, "first_audio_latency": FIRST_AUDIO_LATENCY_S,
             "transcription_latency": TRANSCRIPTION_LATENCY_S}


def check_conformance(sim: Simulator) -> None:
    dialect = sim.dialect.name
    for s in sim.sessions:
        for event in s.sent_events:
            validate_server_event(event, dialect)
        for event in s.received_events:
            validate_client_event(event, dialect)


def config_for(sim: Simulator, **overrides: Any) -> RealtimeConfig:
    """A config for `sim`: its URL, dialect, the dialect's model, the test key; short timers for tests."""
    fields: dict[str, Any] = {"base_url": sim.url, "dialect": sim.dialect.name, "model": MODELS[sim.dialect.name],
                              "api_key": KEY, "reconnect_initial_s": 0.05, "reconnect_max_s": 0.5,
                              "connect_timeout_s": 5.0}
    fields.update(overrides)
    return msgspec.convert(fields, RealtimeConfig)  # as the daemon loads it: nested tables validated too


def wait_until(pred: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


class Recorder:
    """Everything the session reported through `on_event`, in order, thread-safe."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def __call__(self, topic: str, data: dict[str, Any]) -> None:
        with self._lock:
            self.events.append((topic, data))

    def of(self, topic: str) -> list[dict[str, Any]]:
        with self._lock:
            return [d for t, d in self.events if t == topic]

    def wait(self, topic: str, pred: Callable[[dict[str, Any]], bool] = lambda d: True, timeout: float = 10.0,
             after: int = 0) -> dict[str, Any]:
        """The first `topic` event (from the `after`-th on) for which `pred` holds."""
        def find() -> dict[str, Any] | None:
            return next((d for d in self.of(topic)[after:] if pred(d)), None)
        return wait_until(find, timeout, f"a {topic} event")


class Mic:
    """A paced microphone: 20 ms of queued PCM (or silence) into the capture ring every 20 ms."""

    def __init__(self, engine: AudioEngine, frame_ms: int = 20) -> None:
        self.engine = engine
        rate = engine.config.session_rate
        self.frame = rate * frame_ms // 1000 * 2
        self.period = frame_ms / 1000
        self._queue = bytearray()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.written = 0
        self._thread = threading.Thread(target=self._run, name="test-mic", daemon=True)
        self._thread.start()

    def say(self, pcm: bytes) -> float:
        """Queue `pcm`; returns the seconds until it has all been captured."""
        with self._lock:
            self._queue += pcm
            return len(self._queue) / self.frame * self.period

    @property
    def idle(self) -> bool:
        with self._lock:
            return not self._queue

    def _run(self) -> None:
        deadline = time.monotonic()
        silence = bytes(self.frame)
        while not self._stop.is_set():
            with self._lock:
                chunk = bytes(self._queue[: self.frame])
                del self._queue[: self.frame]
            chunk += silence[len(chunk):]
            self.written += self.engine.capture_ring.write(chunk)
            deadline += self.period
            self._stop.wait(max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)


def speech(text: str, rate: int = 24000) -> bytes:
    """Real speech: espeak-ng through sox, 16-bit mono at `rate` (TESTING.md's recipe)."""
    assert shutil.which("espeak-ng") and shutil.which("sox"), "espeak-ng and sox are required (scripts/install-system-deps)"
    wav = subprocess.run(["espeak-ng", "--stdout", text], check=True, capture_output=True, timeout=30).stdout
    return subprocess.run(["sox", "-t", "wav", "-", "-t", "raw", "-r", str(rate), "-c", "1", "-b", "16",
                           "-e", "signed-integer", "-"], input=wav, check=True, capture_output=True,
                          timeout=30).stdout


def xcorr(ref: bytes, got: bytes) -> tuple[int, float]:
    """(lag in samples, normalised correlation) of `ref` found inside `got`."""
    a = np.frombuffer(ref, "<i2").astype(np.float64)
    b = np.frombuffer(got, "<i2").astype(np.float64)
    if len(b) < len(a):
        b = np.concatenate([b, np.zeros(len(a) - len(b))])
    n = 1 << (len(a) + len(b)).bit_length()
    corr = np.fft.irfft(np.fft.rfft(b, n) * np.conj(np.fft.rfft(a, n)), n)[: len(b) - len(a) + 1]
    lag = int(np.argmax(corr))
    seg = b[lag: lag + len(a)]
    return lag, float(np.dot(seg, a) / (np.linalg.norm(seg) * np.linalg.norm(a) + 1e-12))


def null_engine(session_format: str = "pcm16", **kwargs: Any) -> AudioEngine:
    """A started engine on the headless backend: output paced in real time, no capture device (see Mic)."""
    kwargs.setdefault("latency", "low")
    return AudioEngine(AudioConfig(backend="null", session_format=session_format, capture=False, **kwargs)).start()
