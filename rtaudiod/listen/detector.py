"""The wake-word detector: microWakeWord (pymicro-wakeword, the Home Assistant voice stack's detector) on its own
thread, reading its own ring.

The capture callback only copies the microphone (mono, device rate) into the detector's ring; this thread resamples
it to 16 kHz with soxr, computes the features and runs the TFLite model. A detection calls `on_wake(word,
probability)`; the model is then reset and nothing is reported for `REFRACTORY_S` (the mean probability stays above
the cutoff for several strides). `on_tick()` is called at least every `TICK_S` (the listener's timers).
"""

from __future__ import annotations

import logging
import platform
import threading
import time
from collections.abc import Callable
from pathlib import Path

from rtaudiod.errors import RtaudiodError
from rtaudiod.ring import RingBuffer

from .config import BUILTIN_WAKE_WORDS

__all__ = ["WakeWordDetector", "WakeWordError", "WakeWordUnavailable", "load_model"]

log = logging.getLogger("rtaudiod.listen")

RATE = 16000  # what microWakeWord models take
TICK_S = 0.1
CHUNK_S = 0.03  # one model stride (3 feature windows of 10 ms) per read: the fewest Python calls per second
REFRACTORY_S = 1.0
RING_BYTES = 192000 * 2  # one second at the highest device rate


class WakeWordError(RtaudiodError):
    """The wake-word model cannot be loaded (not installed, no such model, a broken file)."""


class WakeWordUnavailable(WakeWordError):
    """The wake-word runtime does not run on this machine: pymicro-wakeword (or its feature extractor) is not
    installed or does not import, or its TFLite library does not load (no build for this platform). Not a
    configuration error: the daemon runs without the wake word (docs/platforms.md)."""


def load_model(spec: str):  # noqa: ANN201 - pymicro_wakeword's MicroWakeWord (an optional import)
    """A built-in model by name, or a model's JSON by path."""
    machine = platform.machine()
    try:
        from pymicro_wakeword import MicroWakeWord, Model
    except ImportError as e:
        raise WakeWordUnavailable(f"the wake word cannot run on this machine ({machine}): pymicro-wakeword does "
                                  f"not import ({e})") from None
    try:
        # The built-in models ship inside the package: when one does not load, the runtime is what fails.
        builtin = MicroWakeWord.from_builtin(Model(spec if spec in BUILTIN_WAKE_WORDS else BUILTIN_WAKE_WORDS[0]))
    except Exception as e:
        raise WakeWordUnavailable(f"the wake word cannot run on this machine ({machine}): pymicro-wakeword's "
                                  f"TFLite runtime does not load ({e})") from None
    if spec in BUILTIN_WAKE_WORDS:
        return builtin
    builtin.close()
    try:
        path = Path(spec)
        if path.suffix != ".json" or not path.is_file():
            raise WakeWordError(f"listen.wake_word: {spec!r} is neither a built-in model "
                                f"({', '.join(BUILTIN_WAKE_WORDS)}) nor the path of a model's .json file")
        return MicroWakeWord.from_config(path)
    except WakeWordError:
        raise
    except Exception as e:  # a broken JSON or model file
        raise WakeWordError(f"listen.wake_word: cannot load {spec!r}: {e}") from None


class WakeWordDetector:
    def __init__(self, spec: str, threshold: float | None, on_wake: Callable[[str, float], None],
                 on_tick: Callable[[], None] | None = None) -> None:
        self.model = load_model(spec)  # first: it says what is missing when the runtime is
        from pymicro_wakeword import MicroWakeWordFeatures

        self.word = self.model.wake_word
        self.threshold = threshold if threshold is not None else self.model.probability_cutoff
        self._features = MicroWakeWordFeatures()
        self.on_wake, self.on_tick = on_wake, on_tick
        self.ring = RingBuffer(RING_BYTES)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Read from any thread.
        self.audio_s = 0.0  # audio examined
        self.cpu_s = 0.0  # this thread's CPU spent on it
        self.detections = 0
        self.best = 0.0  # the highest probability seen since the last detection (for tuning the threshold)

    def start(self, input_rate: Callable[[], int | None]) -> WakeWordDetector:
        """Run on a thread; `input_rate()` gives the rate of what the ring receives (None: no microphone now)."""
        self._input_rate = input_rate
        self._thread = threading.Thread(target=self._run, name="rtaudiod-wakeword", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self.ring.close()  # wakes the thread
        if self._thread is not None:
            self._thread.join(timeout)
        self.model.close()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        import numpy as np  # the detector's own thread: numpy and soxr stay out of a daemon that never listens for a word
        import soxr

        # soxr on int16 directly: the features need no bit-exact silence (rtaudiod.audio.dsp.Resampler's float32
        # round trip), and skipping its five numpy passes per read saves about a tenth of this thread's CPU.
        resampler: soxr.ResampleStream | None = None
        in_rate = 0
        buf = bytearray(0)
        quiet_until = 0.0  # in audio seconds (audio_s)
        while not self._stop.is_set():
            rate = self._input_rate()
            if rate is None:  # no microphone (stopped, reopening): nothing to hear
                self.ring.skip(self.ring.read_available)
                self._tick()
                self._stop.wait(TICK_S)
                continue
            if resampler is None or in_rate != rate:
                resampler, in_rate = soxr.ResampleStream(rate, RATE, 1, dtype="int16", quality="LQ"), rate
                buf = bytearray(int(rate * CHUNK_S) * 2)
            self.ring.wait_readable(len(buf), TICK_S)
            if self._stop.is_set():
                break
            n = self.ring.readinto(buf) & ~1
            if n:
                began = time.thread_time()
                pcm = resampler.resample_chunk(np.frombuffer(buf, np.int16, n // 2))
                for features in self._features.process_streaming(pcm.tobytes()):
                    p = self.model.process_streaming_prob(features)
                    if p is None:
                        continue
                    self.best = max(self.best, p)
                    # The refractory time is audio time: a detector catching up after a stall must not skip a
                    # second wake word that came seconds later in the audio. The features still buffered go on
                    # into the reset model (breaking off here would feed the same audio twice).
                    if p > self.threshold and self.audio_s >= quiet_until:
                        self.detections += 1
                        self.best = 0.0
                        quiet_until = self.audio_s + REFRACTORY_S
                        self.model.reset()  # the model's window still holds the word
                        self._report(p)
                self.audio_s += n / 2 / rate
                self.cpu_s += time.thread_time() - began
            self._tick()

    def _report(self, probability: float) -> None:
        try:
            self.on_wake(self.word, probability)
        except Exception:  # the listener's bug must not stop the detector
            log.exception("the wake-word handler failed")

    def _tick(self) -> None:
        if self.on_tick is not None:
            try:
                self.on_tick()
            except Exception:
                log.exception("the listener's timer failed")
