"""The wake-word detector's cost per second of audio: rtaudiod's detector against the loop pymicro-wakeword's
README and `python -m pymicro_wakeword` show.

Group "wakeword okay_nabu espeak-ng speech" (~4 s: "Okay nabu, what time is it? ..."; items = audio seconds, so
ratios.py's rate column reads as "times faster than real time"; median / items = time per audio second):
  rtaudiod    the real WakeWordDetector thread: the speech at 48 kHz written into its ring (as the capture tap
              does), then what `_run` does per 30 ms read: soxr 48 kHz -> 16 kHz, features, model; timed from
              the first write to the last chunk examined. A fresh detector per round (loading it is not timed).
  pymicro     the baseline: the same speech at 16 kHz, fed 10 ms at a time to MicroWakeWordFeatures and
              MicroWakeWord.process_streaming (no resampling: the user's audio is already at 16 kHz).
Both must hear "Okay Nabu" in it (checked once per contender, outside the timing).
"""

import sys
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymicro_wakeword")

from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model  # noqa: E402

from rtaudiod.listen.detector import CHUNK_S, RATE, WakeWordDetector  # noqa: E402

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path[:0] = [str(TESTS / "session"), str(TESTS)]  # the tests' espeak-ng speech helper
from sessionhelpers import speech  # noqa: E402

TEXT = "Okay nabu, what time is it? The weather will be sunny this afternoon."
DEVICE_RATE = 48000
GROUP = "wakeword okay_nabu espeak-ng speech"
WORD = "Okay Nabu"


def padded(text: str, rate: int) -> bytes:
    """espeak-ng speech at `rate`, padded with silence to whole detector reads (30 ms) so none waits for more."""
    pcm = speech(text, rate)
    chunk = int(rate * CHUNK_S) * 2
    return pcm + bytes(-len(pcm) % chunk)


@pytest.fixture(scope="module")
def audio():
    a48, a16 = padded(TEXT, DEVICE_RATE), padded(TEXT, RATE)
    seconds = len(a48) / 2 / DEVICE_RATE
    assert abs(seconds - len(a16) / 2 / RATE) < 0.01  # the same speech for both
    return a48, a16, seconds


class DetectorRun:
    """A started WakeWordDetector and what it reported."""

    def __init__(self, seconds: float) -> None:
        self.words: list[str] = []
        self.done = threading.Event()
        self.seconds = seconds
        # on_tick runs after every read: the moment the last chunk has been examined
        self.detector = WakeWordDetector("okay_nabu", None, lambda word, p: self.words.append(word), self._tick)
        self.detector.start(lambda: DEVICE_RATE)

    def _tick(self) -> None:
        if self.detector.audio_s >= self.seconds - 1e-6:
            self.done.set()

    def feed(self, pcm: bytes) -> list[str]:
        chunk = int(DEVICE_RATE * CHUNK_S) * 2
        for i in range(0, len(pcm), chunk):
            self.detector.ring.write(pcm[i:i + chunk], timeout=None)  # blocking: nothing dropped
        assert self.done.wait(30), "the detector did not examine all the audio"
        return sorted(set(self.words))


def pymicro_loop(model: MicroWakeWord, features: MicroWakeWordFeatures, pcm16k: bytes) -> list[str]:
    words = set()
    for i in range(0, len(pcm16k), 320):  # 10 ms
        for f in features.process_streaming(pcm16k[i:i + 320]):
            if model.process_streaming(f):
                words.add(model.wake_word)
    return sorted(words)


def check(benchmark, contender: str, result: list[str], seconds: float, baseline: bool = False) -> None:
    benchmark.extra_info["contender"] = contender
    benchmark.extra_info["items"] = round(seconds, 3)  # audio seconds
    if baseline:
        benchmark.extra_info["baseline"] = True
    assert result == [WORD], f"{contender} heard {result} in {TEXT!r}"


def rounds(request) -> int:
    return 1 if request.config.getoption("benchmark_disable") else 15


@pytest.mark.benchmark(group=GROUP)
def test_rtaudiod_detector(benchmark, audio, request):
    a48, _, seconds = audio
    runs: list[DetectorRun] = []

    def setup():
        runs.append(DetectorRun(seconds))
        return (runs[-1], a48), {}

    try:
        result = benchmark.pedantic(DetectorRun.feed, setup=setup, teardown=lambda run, _: run.detector.stop(),
                                    rounds=rounds(request))
    finally:
        for run in runs:
            run.detector.stop()
    check(benchmark, "rtaudiod", result, seconds)


@pytest.mark.benchmark(group=GROUP)
def test_pymicro_wakeword_readme_loop(benchmark, audio, request):
    _, a16, seconds = audio
    model = MicroWakeWord.from_builtin(Model("okay_nabu"))
    features = MicroWakeWordFeatures()

    def setup():
        model.reset()
        features.reset()
        return (model, features, a16), {}

    try:
        result = benchmark.pedantic(pymicro_loop, setup=setup, rounds=rounds(request))
    finally:
        model.close()
    check(benchmark, "pymicro-wakeword loop", result, seconds, baseline=True)
