#!/usr/bin/env python3
"""Detection rate, false accepts per hour and CPU per audio second of rtaudiod's wake-word detector, per built-in model.

    .venv/bin/python benchmarks/wakeword_accuracy.py [--models okay_nabu,alexa] [--negative-minutes 5] [--json PATH]

The real `WakeWordDetector` (its thread, ring, soxr, features, model, threshold and refractory) is fed 48 kHz mono
through its ring with blocking writes, faster than real time; every `on_wake` call is counted. Audio: espeak-ng.
  positives   each wake phrase ("okay nabu", "alexa", "hey jarvis", "hey mycroft") in VARIANTS (voice, speed,
              pitch), followed by a question, after 0.5 s of silence: every model hears every clip, so the table
              shows each model's detection rate on its own phrase and its accepts on the other phrases.
  negatives   varied sentences with no wake word, cycled through the same voices, until --negative-minutes of
              audio: the false accepts per hour of speech (not per hour of a quiet room: that would be far fewer).
  CPU         the detector thread's own counters: cpu_s / audio_s (thread CPU, so another process's load on a
              shared machine does not count, but cache and frequency effects do).
The detector's 1 s refractory after a detection is audio time, so feeding faster than real time changes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rtaudiod.listen.config import BUILTIN_WAKE_WORDS  # noqa: E402
from rtaudiod.listen.detector import CHUNK_S, WakeWordDetector  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from voices import OTHER, VARIANTS, espeak  # noqa: E402

RATE = 48000  # the commonest device rate: the detector resamples it as it does on a device
PHRASES = {"okay_nabu": "Okay nabu", "alexa": "Alexa", "hey_jarvis": "Hey Jarvis", "hey_mycroft": "Hey Mycroft"}
QUESTIONS = ["what time is it?", "turn on the kitchen lights.", "what's the weather tomorrow?",
             "set a timer for ten minutes.", "play some jazz.", "how tall is the Eiffel tower?",
             "add milk to the shopping list.", "what's on my calendar today?", "tell me a joke.",
             "how long do I boil an egg?"]
def silence(seconds: float) -> bytes:
    return bytes(int(RATE * seconds) * 2)


class FedDetector:
    """The real detector, fed clip by clip; `feed` returns the detections in the clip."""

    CHUNK = int(RATE * CHUNK_S) * 2

    def __init__(self, model: str) -> None:
        self.wakes = 0
        self._fed_s = 0.0
        self._examined = threading.Event()
        self.detector = WakeWordDetector(model, None, self._on_wake, self._on_tick)
        self.detector.start(lambda: RATE)

    def _on_wake(self, word: str, probability: float) -> None:
        self.wakes += 1

    def _on_tick(self) -> None:  # after every read
        if self.detector.audio_s >= self._fed_s - 1e-6:
            self._examined.set()

    def feed(self, pcm: bytes) -> int:
        pcm += bytes(-len(pcm) % self.CHUNK)  # whole reads: the last one does not wait for more
        before = self.wakes
        self._examined.clear()
        self._fed_s += len(pcm) / 2 / RATE
        for i in range(0, len(pcm), self.CHUNK):
            self.detector.ring.write(pcm[i:i + self.CHUNK], timeout=None)
        if not self._examined.wait(60):
            raise RuntimeError("the detector stopped examining audio")
        return self.wakes - before  # the refractory second is audio time: each clip is longer than it

    def close(self) -> None:
        self.detector.stop()


def positives() -> dict[str, list[bytes]]:
    return {word: [silence(0.5) + espeak(f"{phrase}, {QUESTIONS[i]}", *VARIANTS[i], rate=RATE) + silence(0.5)
                   for i in range(len(VARIANTS))]
            for word, phrase in PHRASES.items()}


def negatives(minutes: float) -> list[bytes]:
    clips, total, i = [], 0.0, 0
    while total < minutes * 60:
        variant = VARIANTS[i % len(VARIANTS)]
        clip = espeak(OTHER[i % len(OTHER)], variant[0], variant[1] + 10 * (i // len(OTHER) % 3 - 1), variant[2],
                      rate=RATE)
        clips.append(clip + silence(0.3))
        total += len(clips[-1]) / 2 / RATE
        i += 1
    return clips


def measure(model: str, pos: dict[str, list[bytes]], neg: list[bytes]) -> dict:
    fed = FedDetector(model)
    try:
        heard = {word: sum(fed.feed(clip) > 0 for clip in clips) for word, clips in pos.items()}
        false_accepts = sum(fed.feed(clip) for clip in neg)
        d = fed.detector
        return {"model": model, "word": d.word, "threshold": d.threshold, "clips_per_phrase": len(VARIANTS),
                "detected": heard, "negative_s": round(sum(len(c) for c in neg) / 2 / RATE, 1),
                "false_accepts": false_accepts, "audio_s": round(d.audio_s, 1), "cpu_s": round(d.cpu_s, 4),
                "ring_overruns": d.ring.overruns}
    finally:
        fed.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(BUILTIN_WAKE_WORDS))
    p.add_argument("--negative-minutes", type=float, default=5.0)
    p.add_argument("--json", help="also write the figures to this file")
    args = p.parse_args()
    models = args.models.split(",")
    print(f"$ {' '.join([Path(sys.executable).name, *sys.argv])}")
    pos, neg = positives(), negatives(args.negative_minutes)
    results = [measure(m, pos, neg) for m in models]

    words = list(PHRASES)
    print(f"\nclips detected out of {len(VARIANTS)} per phrase (espeak-ng voice/speed variants, each phrase "
          f"followed by a question); the model's own phrase in [brackets]")
    print(f"{'model':<12} {'threshold':>9}  " + "  ".join(f"{w:>11}" for w in words)
          + f"  {'false accepts':>16}  {'per hour':>8}  {'CPU ms/audio s':>14}")
    for r in results:
        cells = [f"[{r['detected'][w]}/{len(VARIANTS)}]" if w == r["model"] else f"{r['detected'][w]}/{len(VARIANTS)}"
                 for w in words]
        per_hour = r["false_accepts"] * 3600 / r["negative_s"]
        cpu_ms = 1000 * r["cpu_s"] / r["audio_s"]
        print(f"{r['model']:<12} {r['threshold']:>9.2f}  " + "  ".join(f"{c:>11}" for c in cells)
              + f"  {r['false_accepts']:>3} in {r['negative_s'] / 60:5.1f} min  {per_hour:>8.1f}  {cpu_ms:>14.2f}")
    print(f"\nnegatives: {len(neg)} clips of other speech ({len(OTHER)} sentences cycled through the {len(VARIANTS)} "
          f"voices, 10 wpm slower or faster each round)\nCPU: the detector thread's thread_time over the audio it "
          f"examined (48 kHz in: soxr, features, model), positives and negatives together")
    if any(r["ring_overruns"] for r in results):
        print("WARNING: the detector's ring overflowed:", {r["model"]: r["ring_overruns"] for r in results})
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
