"""`AnswerWindow`: the microphone opened for an answer nobody pushed a button for (`announce --listen` in
push_to_talk mode: Home Assistant's "start conversation").

While the window is open the uplink sends the microphone as inside a pushed turn, and the service's VAD ends the
answer's turn: the configured one, or, with `turn_detection = "none"`, a `server_vad` switched on for this one turn
(a `session.update` naming only `turn_detection`, as push-to-talk's switch: a refused update is dropped whole) with
`create_response: false`, and switched off again as soon as the answer is committed; the daemon then asks for the
reply itself, through its response queue. Nobody speaking within the window: the input buffer is cleared (nothing
is committed) and the window closes with `no_answer`; an answer the VAD has not ended `ANSWER_MAX_S` after the
window's end is dropped the same way (`too_long`). Each change is on the `vad` topic (`answer_opened`,
`answer_closed` with the `reason`: `answered`, `no_answer`, `too_long`, `turn_start`, `refused`, `disconnected`).
Plain Python on the actor, like the conversation it belongs to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rtaudiod import protocol as rp
from rtaudiod.errors import SessionError

if TYPE_CHECKING:
    from .conversation import Conversation

__all__ = ["AnswerWindow"]

#: Once the answer has begun, how long it may go on before the window closes anyway (its audio cleared): a turn the
#: VAD never ends (someone talking on and on, a radio) must not keep a push-to-talk microphone open for good.
ANSWER_MAX_S = 30.0
#: The event_id of the window's `session.update` that turns the VAD on starts so (a refusal names it).
VAD_ON = "rtad_answer_vad_on"


class AnswerWindow:
    def __init__(self, conversation: Conversation) -> None:
        self.c = conversation
        self.open = False  # read by the uplink thread per frame (one attribute)
        self.vad_switched = False  # the window turned the service's VAD on: it turns it off again
        self.speech = False  # the answer has begun: the window's end waits for its commit
        self._timer: Any = None

    def start(self, seconds: float) -> None:
        c = self.c
        link = c.configured_link()
        if self.open:
            return
        if c.turn.open:
            raise SessionError("a push-to-talk turn is open: it takes the answer", code="turn_open")
        # Nothing said before the window belongs to the answer (a pushed turn clears the buffer likewise).
        c.send(rp.input_audio_clear(event_id=c.new_id("clear")), link)
        if c.config.push_to_talk:
            c.send(rp.session_update(rp.SessionConfig(turn_detection=self.vad()),
                                     event_id=c.new_id("answer_vad_on")), link)
            self.vad_switched = True
        self.open, self.speech = True, False
        self._timer = c.actor.after(seconds, self._timeout)
        c.emit("vad", {"event": "answer_opened", "seconds": seconds})
        c.update_state()

    def vad(self) -> rp.TurnDetection:
        """Server VAD with the configured parameters, if any; the reply is the daemon's to ask for."""
        td = self.c.config.turn_detection
        tuning = {k: getattr(td, k) for k in ("threshold", "prefix_padding_ms", "silence_duration_ms")
                  if getattr(td, k) is not None}
        return rp.TurnDetection(type="server_vad", create_response=False, **tuning)

    def speech_started(self) -> None:
        if self.open:
            self.speech = True

    def committed(self) -> None:
        """The service's VAD committed the answer."""
        if not self.open:
            return
        switched = self.vad_switched
        self.close("answered")
        if switched:  # create_response was off: the reply is ours to ask for
            self.c.request_response(None)

    def _timeout(self) -> None:
        self._timer = None
        if not self.open:
            return
        if not self.speech:
            self.close("no_answer")
        else:  # the answer goes on: its commit closes the window, or this cap does
            self._timer = self.c.actor.after(ANSWER_MAX_S, lambda: self.close("too_long"))

    def close(self, reason: str) -> None:
        """The window ends: what went up unanswered is cleared (nothing is committed), and the service's VAD is
        back off if the window turned it on. On a link that ended (`disconnected`) there is nothing to send."""
        if not self.open:
            return
        self.open = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        c, switched = self.c, self.vad_switched
        self.vad_switched = False
        try:
            if reason in ("no_answer", "refused", "too_long"):
                c.send(rp.input_audio_clear(event_id=c.new_id("clear")))
            if switched and reason not in ("disconnected", "refused"):  # back to the configured turn detection
                c.send(rp.session_update(rp.SessionConfig(turn_detection=c.config.turn_detection.to_protocol()),
                                         event_id=c.new_id("answer_vad_off")))
        except SessionError:  # the link ended meanwhile: the next one starts with the configured VAD
            pass
        c.emit("vad", {"event": "answer_closed", "reason": reason})
        c.update_state()

    def refused(self, event_id: str) -> None:
        """The service refused a `session.update` of the window: if it was the one turning the VAD on, nothing
        would end the answer's turn."""
        if event_id.startswith(VAD_ON) and self.open:
            self.close("refused")
