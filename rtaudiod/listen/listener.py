"""`Listener`: the listening mode of a session, which decides when the microphone reaches the service.

    always        the microphone streams; the service's VAD finds the turns          state: streaming
    wake_word     gated until the wake word is heard on the device; then the audio   gated -> listening
                  from just before it (pre-roll) and the live microphone go up; the  -> replying (gated)
                  service's VAD (or turn.end) ends the turn; the reply plays with    -> listening (follow-up)
                  the microphone gated (its echo cannot trigger the service's VAD;   -> gated (timeout)
                  the wake word interrupts it); then a follow-up window keeps the
                  microphone open for an answer; then gated again. The gate closes
                  when the reply starts to sound, not at the end of speech: a pause
                  within the question does not cut it off. `announce --listen` plays
                  as a reply does (gated), then opens the same follow-up window.
    push_to_talk  only between turn.start and turn.end; and after `announce --listen`, gated / listening
                  for the follow-up window, the turn ended by the service's VAD
                  (session/answer.py: switched on for it if turn detection is off)

The listener is the session's `gate` (read by the uplink thread once per microphone frame: one attribute). Its
inputs: the detector thread (`_on_wake`, `_on_tick`), the session's events and state changes (the receive thread),
and `set_mode` (the control API). It never holds its lock while calling into the session (which calls back).
Every change is published on the `listen` topic, every detection on `wake`.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from rtaudiod.errors import SessionError
from rtaudiod.session import Session, State

from .chime import chime
from .config import MODES, ListenConfig

__all__ = ["Listener"]

log = logging.getLogger("rtaudiod.listen")


class Listener:
    def __init__(self, session: Session, config: ListenConfig) -> None:
        self.session, self.audio, self.config = session, session.audio, config
        self.mode = config.mode
        self.state = "gated"  # until start() enters the mode's first state
        self.reason = ""
        self._open = False  # what the gate answers (the uplink reads it per frame)
        self._deadline: float | None = None  # listening: gate again at this time unless the user speaks
        self._lock = threading.Lock()
        self._detector: Any = None
        self._chime = chime(self.audio.config.session_rate) if config.chime else None
        self._unsubscribe: Any = None
        self.wakes = 0
        self.last_wake: dict[str, Any] | None = None
        # Microphone audio sent and withheld, per mode (bytes of session-rate PCM16): the session counts it, the
        # listener books each stretch to the mode it ran in.
        self._bytes = {m: [0, 0] for m in MODES}
        self._mark = (0, 0)

    # ---------------------------------------------------------------------------------------------- life cycle
    def start(self) -> Listener:
        session = self.session
        session.uplink.preroll_bytes = self.config.preroll_ms * session.audio.config.session_rate // 1000 * 2
        session.uplink.gate = self._gate
        self._unsubscribe = session.subscribe({"vad", "state", "announce"}, self._on_session_event)
        self._mark = self._counted()
        self.set_mode(self.mode, "start")
        return self

    def stop(self) -> None:
        session = self.session
        self._stop_detector()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        session.uplink.gate = None

    def reconfigure(self, config: ListenConfig) -> None:
        """A reloaded `[listen]` table: applied live (a new wake-word model restarts the detector)."""
        old, self.config = self.config, config
        self.session.uplink.preroll_bytes = config.preroll_ms * self.audio.config.session_rate // 1000 * 2
        self._chime = chime(self.audio.config.session_rate) if config.chime else None
        if (config.wake_word, config.threshold) != (old.wake_word, old.threshold) and self._detector is not None:
            self._stop_detector()
        if config.mode != self.mode or (config.mode == "wake_word" and self._detector is None):
            self.set_mode(config.mode, "reload")

    @property
    def alive(self) -> bool:
        """False when the detector thread died in wake_word mode."""
        return self.mode != "wake_word" or (self._detector is not None and self._detector.alive)

    # ---------------------------------------------------------------------------------------------- modes
    def set_mode(self, mode: str, reason: str = "requested") -> None:
        """Switch the listening mode now (the next microphone frame obeys it). WakeWordError when the wake-word
        model cannot be loaded (the mode does not change)."""
        if mode not in MODES:
            raise ValueError(f"mode: {mode!r} is not a listening mode ({', '.join(MODES)})")
        if mode == "wake_word" and self._detector is None:
            self._start_detector()
        elif mode != "wake_word":
            self._stop_detector()
        with self._lock:
            self._account()
            self.mode = mode
        first = {"always": "streaming", "wake_word": "gated", "push_to_talk": "gated"}[mode]
        self._enter(first, reason)
        log.info("listening mode: %s", mode)

    def _start_detector(self) -> None:
        from .detector import WakeWordDetector

        self._detector = WakeWordDetector(self.config.wake_word, self.config.threshold, self._on_wake, self._on_tick)
        self.audio.set_tap(self._detector.ring)
        self._detector.start(lambda: self.audio.input_rate)

    def _stop_detector(self) -> None:
        detector, self._detector = self._detector, None
        if detector is not None:
            self.audio.set_tap(None)
            detector.stop()

    # ---------------------------------------------------------------------------------------------- the gate
    def _gate(self) -> bool:
        return self._open

    def _enter(self, state: str, reason: str, deadline: float | None = None) -> None:
        with self._lock:
            if state == self.state and reason == self.reason and deadline == self._deadline:
                return
            self.state, self.reason, self._deadline = state, reason, deadline
            self._open = state == "streaming" or (state == "listening" and self.mode == "wake_word")
            event = {"mode": self.mode, "state": state, "open": self._open or state == "listening",
                     "reason": reason}
        self.session.publish("listen", event)

    # ---------------------------------------------------------------------------------------------- inputs
    def _on_wake(self, word: str, probability: float) -> None:
        """The detector thread: the wake word was heard."""
        with self._lock:
            if self.mode != "wake_word":
                return
            self.wakes += 1
            self.last_wake = {"word": word, "probability": round(probability, 3), "time": time.time()}
            replying = self.state == "replying"
        self.session.publish("wake", dict(self.last_wake))
        log.info("wake word %r heard (probability %.2f)", word, probability)
        session = self.session
        if replying or session.state in (State.THINKING, State.SPEAKING):
            try:
                session.cancel_response("wake_word")  # flush, cancel, truncate at what was heard
            except SessionError:
                pass  # not connected: nothing plays from the service
        if self._chime is not None:
            self.audio.begin_item("rtaudiod-chime")  # its own ledger item: the reply's truncation point stays true
            self.audio.write(self._chime)
        session.uplink.preroll_pending = True  # before the gate opens: the uplink sends the pre-roll with the first frame
        if session.config.push_to_talk:
            try:
                session.turn_start()  # no VAD: the turn is open until turn.end
            except SessionError:
                pass
        self._enter("listening", "wake_word", time.monotonic() + self.config.follow_up_s)

    def _on_tick(self) -> None:
        """The detector thread, at least every 100 ms: the listening window's end."""
        deadline = self._deadline
        if (self.state == "listening" and deadline is not None and time.monotonic() >= deadline
                and not self.session.turn_open and self.session.state is not State.LISTENING):
            self._enter("gated", "timeout")

    def _on_session_event(self, topic: str, data: dict[str, Any]) -> None:
        """The session's threads (its receive thread, usually): its `vad` and `state` events."""
        if topic == "state":
            self._on_state(State(data["state"]), State(data["previous"]))
            return
        if topic == "announce":
            if self.mode == "wake_word" and data.get("listen") and data.get("event") == "started":
                # `announce --listen`: gated while it plays, as a reply; its end opens the follow-up window
                self._enter("replying", "announce")
            elif self.mode == "push_to_talk" and data.get("listen") and data.get("event") == "done":
                self._listen_for_answer()
            return
        if topic == "vad" and self.mode == "push_to_talk" and data.get("event") in ("answer_opened", "answer_closed"):
            opened = data["event"] == "answer_opened"
            self._enter("listening" if opened else "gated", "answer" if opened else data["reason"])
            return
        if self.mode != "wake_word" or self.state != "listening":
            return
        if topic == "vad" and data.get("event") == "speech_started":
            self._enter("listening", "speech")  # no deadline while the user speaks (or until the reply ends)

    def _listen_for_answer(self) -> None:
        """`announce --listen` in push_to_talk mode, or the follow-up window with turn detection `none`: nobody
        presses the button to answer, so the session opens the microphone for the follow-up window and the service's
        VAD ends the answer's turn (session/answer.py)."""
        try:
            self.session.listen_for_answer(self.config.follow_up_s)
        except (SessionError, ValueError) as e:  # not connected, or a follow-up window of 0 s
            log.info("no answer window after the announcement: %s", e)

    def _on_state(self, new: State, old: State) -> None:
        """The session's state changes (its `state` event, published on the actor: only flags here)."""
        if self.mode == "push_to_talk":
            if self.session.turn_open:
                self._enter("listening", "turn")
            elif self.reason == "turn":  # (an answer's window is reported by its own events)
                self._enter("gated", "turn_end")
        elif self.mode != "wake_word":
            return
        elif new is State.SPEAKING and self.state == "listening" and self.session.responding:
            # Gated when the reply sounds, not when the service's VAD says the user stopped: a pause within the
            # question still goes up (a new turn, as in `always`), and only now could the speaker's echo be heard.
            self._enter("replying", "reply")
        elif new is State.READY and (self.state == "replying" or (self.state == "listening"
                                                                  and self._deadline is None)):
            # The reply is over (or there was none to hear): the follow-up window.
            self._enter("listening", "follow_up", time.monotonic() + self.config.follow_up_s)
            if self.session.config.push_to_talk:
                # No VAD ends an answer there and the uplink sends only inside a turn: the session's answer window
                # does both. Posted: this runs inside the state's publish, and the window changes the state again.
                self.session.actor.post(self._listen_for_answer)

    # ---------------------------------------------------------------------------------------------- reporting
    def _counted(self) -> tuple[int, int]:
        stats = self.session.stats
        return stats.mic_bytes_sent, stats.mic_bytes_withheld

    def _account(self) -> None:
        """Book the microphone audio since the last mark to the current mode (lock held)."""
        now = self._counted()
        booked = self._bytes[self.mode]
        booked[0] += now[0] - self._mark[0]
        booked[1] += now[1] - self._mark[1]
        self._mark = now

    def status(self) -> dict[str, Any]:
        bytes_per_s = self.audio.config.session_rate * 2
        with self._lock:
            self._account()
            audio = {m: {"sent_s": round(s / bytes_per_s, 2), "withheld_s": round(w / bytes_per_s, 2)}
                     for m, (s, w) in self._bytes.items()}
        out: dict[str, Any] = {"mode": self.mode, "state": self.state, "reason": self.reason, "open": self._open,
                               "wake_word": self.config.wake_word, "wakes": self.wakes, "last_wake": self.last_wake,
                               "preroll_ms": self.config.preroll_ms, "follow_up_s": self.config.follow_up_s,
                               "microphone": audio}
        detector = self._detector
        if detector is not None:
            out["detector"] = {"word": detector.word, "threshold": detector.threshold,
                               "audio_s": round(detector.audio_s, 1), "cpu_s": round(detector.cpu_s, 3),
                               "best_probability": round(detector.best, 3), "ring_overruns": detector.ring.overruns}  # writes cut short: the detector fell behind
        return out
