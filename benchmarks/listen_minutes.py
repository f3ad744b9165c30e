#!/usr/bin/env python3
"""Audio minutes sent to the service per hour in each listening mode, measured on the real stack.

    .venv/bin/python benchmarks/listen_minutes.py [--modes always,wake_word,push_to_talk] [--json PATH]

Each mode runs in its own process, all at once (real time: ~4 minutes in all): rtaudiod-sim (real-time pace, the
service's latencies, server VAD; none in push_to_talk), a Session on real PulseAudio devices (the null sinks of
tests/pulse_server.py: the "microphone" is a sink the script plays espeak-ng into) and a Listener in the mode, as
tests/listen/listenhelpers.py builds them. The script, an "hour in a kitchen" compressed to a few minutes:
background talk not addressed to the device (several voices), quiet stretches, a question with its reply and one
follow-up answer, a second question later. The question is asked as each mode asks it: after "Okay nabu" in
wake_word, holding the button (turn.start .. turn.end) in push_to_talk, plainly in always. The script waits for each
reply to finish playing before it goes on (as a person would), so the modes' runs last a little differently.

Measured: the listener's own per-mode counters (`status()["microphone"][mode]["sent_s"]`), cross-checked against the
audio rtaudiod-sim received (its input_audio_buffer.append events), over the run's wall time, scaled to an hour.
The figure depends on how much of the script is talk: it is printed too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "listen"), str(ROOT / "tests" / "session"), str(ROOT / "tests"),
                str(Path(__file__).resolve().parent)]

from listenhelpers import make_stack  # noqa: E402
from pulse_server import pulse_server  # noqa: E402
from sessionhelpers import REAL_TIME  # noqa: E402
from voices import OTHER, VARIANTS, espeak  # noqa: E402

from rtaudiod.listen import ListenConfig  # noqa: E402

MODES = ("always", "wake_word", "push_to_talk")
WAKE = "Okay nabu"
# (what, text or seconds): "talk" is background speech, "ask" a question to the device, "answer" the follow-up.
SCRIPT = [("quiet", 3), ("talk", 5), ("quiet", 10),
          ("ask", "what's the weather like tomorrow?"), ("answer", "And what about the weekend?"),
          ("quiet", 6), ("talk", 8), ("quiet", 15),
          ("ask", "set a timer for ten minutes."),
          ("quiet", 6), ("talk", 8), ("quiet", 15), ("talk", 5), ("quiet", 5)]
REPLY_TIMEOUT_S = 25


class Kitchen:
    """Plays the script into the stack's microphone sink, asking as `mode` asks."""

    def __init__(self, stack, mode: str) -> None:
        self.stack, self.mode = stack, mode
        self.talk_s = 0.0  # speech played into the microphone
        self.next_sentence = 0
        self.unanswered = 0
        self.turns = 0  # questions and answers addressed to the device

    def say(self, pcm: bytes) -> None:
        mono = np.frombuffer(pcm, np.int16)
        player = self.stack.pulse.play(self.stack.pulse.mic, np.repeat(mono[:, None], 2, axis=1))
        assert player.wait(60) == 0
        self.talk_s += len(mono) / 48000

    def talk(self, sentences: int) -> None:
        for _ in range(sentences):
            i = self.next_sentence
            self.next_sentence += 1
            voice, wpm, pitch = VARIANTS[i % len(VARIANTS)]
            self.say(espeak(OTHER[i % len(OTHER)], voice, wpm, pitch))
            time.sleep(0.8)

    def ask(self, text: str, wake: bool) -> None:
        if wake and self.mode == "wake_word":
            text = f"{WAKE}, {text}"
        self.turns += 1
        done_before = len(self._done())
        session = self.stack.session
        if self.mode == "push_to_talk":
            session.turn_start()
            self.say(espeak(text))
            time.sleep(0.3)  # the button is let go a moment after the last word
            session.turn_end()
        else:
            self.say(espeak(text))
        self._wait_reply(done_before)

    def _done(self) -> list[dict]:
        return [e for e in self.stack.events.of("response") if e.get("event") == "done"]

    def _wait_reply(self, done_before: int) -> None:
        """Until the reply has played (a missed wake word gets none: counted, and the script goes on)."""
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while len(self._done()) <= done_before:
            if time.monotonic() > deadline:
                self.unanswered += 1
                return
            time.sleep(0.05)
        while self.stack.engine.is_playing and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # the listener thinks a moment before answering

    def play(self) -> None:
        for what, arg in SCRIPT:
            if what == "quiet":
                time.sleep(arg)
            elif what == "talk":
                self.talk(arg)
            else:
                self.ask(arg, wake=what == "ask")


def run(mode: str) -> dict:
    turn_detection = {"type": "none"} if mode == "push_to_talk" else {"type": "server_vad", "silence_duration_ms": 500}
    with contextlib.contextmanager(pulse_server.__wrapped__)() as pulse:
        began = time.monotonic()
        stack = make_stack(pulse, ListenConfig(mode=mode), turn_detection=turn_detection, **REAL_TIME)
        try:
            kitchen = Kitchen(stack, mode)
            kitchen.play()
            time.sleep(1.0)  # the last frames reach the simulator
            elapsed = time.monotonic() - began
            status = stack.listener.status()
            received_s = len(stack.received()) / 2 / stack.engine.config.session_rate
            return {"mode": mode, "elapsed_s": round(elapsed, 1), "talk_s": round(kitchen.talk_s, 1),
                    "sent_s": status["microphone"][mode]["sent_s"],
                    "withheld_s": status["microphone"][mode]["withheld_s"],
                    "sim_received_s": round(received_s, 2), "wakes": stack.listener.wakes,
                    "responses": len(kitchen._done()), "turns": kitchen.turns,
                    "unanswered_questions": kitchen.unanswered,
                    "sent_min_per_hour": round(status["microphone"][mode]["sent_s"] / elapsed * 60, 1)}
        finally:
            stack.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--json", help="also write the figures to this file")
    args = p.parse_args()
    modes = args.modes.split(",")
    print(f"$ {' '.join([Path(sys.executable).name, *sys.argv])}", flush=True)
    with ProcessPoolExecutor(len(modes)) as pool:
        results = list(pool.map(run, modes))
    print(f"\n{'mode':<13} {'run s':>6} {'talk s':>6} {'sent s':>7} {'sim got s':>9} {'withheld s':>10} "
          f"{'wakes':>5} {'replies':>7} {'missed asks':>11} {'sent s/turn':>11} {'sent min/hour':>13}")
    for r in results:
        print(f"{r['mode']:<13} {r['elapsed_s']:>6.0f} {r['talk_s']:>6.0f} {r['sent_s']:>7.1f} "
              f"{r['sim_received_s']:>9.1f} {r['withheld_s']:>10.1f} {r['wakes']:>5} {r['responses']:>7} "
              f"{r['unanswered_questions']:>11} {r['sent_s'] / r['turns']:>11.1f} {r['sent_min_per_hour']:>13.1f}")
    print("\nsent s: the listener's counter for the mode; sim got s: what rtaudiod-sim received (they must agree); "
          "talk s: speech played into the microphone; sent s/turn: sent s / the questions and answers addressed to the "
          "device; sent min/hour = sent s / run s x 60 (at this script's density of turns and talk)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
