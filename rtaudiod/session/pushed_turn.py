"""`PushedTurn`: a push-to-talk turn (`turn_start` ... `turn_end` or `turn_cancel`), and the switches of the
service's turn detection around it (docs/push-to-talk.md).

A pushed turn owns the input buffer: the service's VAD, if configured, is switched off until the turn is committed
or dropped, then back on. Each switch is a `session.update` that names only `turn_detection`, since the service drops
a refused update whole and nothing else may ride on it. A refused switch *back* to the configured turn detection
(this one's, or an answer window's) would leave the service on another turn detection for the rest of the session:
it is asked again a few times (`restore_later`).

Plain Python on the actor, like the conversation it belongs to; the receive thread reads `open` and `vad_off_id`
(one attribute each).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from rtaudiod import protocol as rp
from rtaudiod.errors import SessionError

if TYPE_CHECKING:
    from .conversation import Conversation
    from .link import Link
    from .uplink import TurnEnd

__all__ = ["PushedTurn", "RESTORE_RETRY_S", "RESTORE_TRIES"]

log = logging.getLogger("rtaudiod.session")

#: A refused switch back to the configured turn detection is asked again this long after, at most this many times.
RESTORE_RETRY_S = 2.0
RESTORE_TRIES = 3
#: The event_ids of this module's session.updates start so (a refusal names them; events.py routes it here).
VAD_OFF, VAD_ON, VAD_RESTORE = "rtad_vad_off", "rtad_vad_on", "rtad_vad_restore"


class PushedTurn:
    def __init__(self, conversation: Conversation) -> None:
        self.c = conversation
        self.open = False  # the uplink sends the microphone (turn_start, not yet turn_end or turn_cancel)
        # the event_id of the session.update that turned the VAD off for the open turn; None while the service runs
        # the configured turn detection
        self.vad_off_id: str | None = None
        self._half_duplex_before: bool | None = None
        self._ending: TurnEnd | None = None  # the turn_end the uplink serves (a cancel meanwhile drops it)
        self._restore_timer: Any = None
        self._restore_tries = 0

    @property
    def owns_input(self) -> bool:
        """A turn is open, or its VAD is not back yet: a `speech_started` the VAD sent before it heard the switch
        changes nothing."""
        return self.open or self.vad_off_id is not None

    def reset(self) -> None:
        """A new connection is configured with the configured turn detection."""
        self.vad_off_id = None
        self._restore_tries = 0
        if self._restore_timer is not None:
            self._restore_timer.cancel()
            self._restore_timer = None

    # ------------------------------------------------------------------------------------------------ commands
    def start(self) -> None:
        c = self.c
        link = c.configured_link()
        c.barge_in("turn_start")
        c.drop_queue("turn_start")
        c.answer.close("turn_start")  # the pushed turn takes the input over
        self._pause_vad(link)
        # Posted before the turn opens: the uplink sends every posted event before its next frame (outbox.py).
        c.send(rp.input_audio_clear(event_id=c.new_id("clear")), link)
        c.user_speaking = False  # the pushed turn takes the input over: a VAD turn in progress ends here
        c.uplink.start_turn()
        self.open = True  # the uplink sends from its next frame on
        if c.audio.half_duplex:  # the speaker was just flushed: do not wait for its tail to die away
            self._half_duplex_before = True
            c.audio.half_duplex = False
        c.emit("vad", {"event": "turn_started"})
        c.update_state()

    def end(self, respond: bool) -> TurnEnd:
        self.c.configured_link()
        if not self.open:
            raise SessionError("no turn is open (turn_start first)", code="no_turn")
        self._ending = self.c.uplink.request_turn_end(respond)
        return self._ending

    def cancel(self) -> None:
        c = self.c
        link = c.configured_link()
        if not self.open:
            raise SessionError("no turn is open (turn_start first)", code="no_turn")
        self.close()
        c.uplink.drop_injected()  # injected for the dropped turn: it must not start the next one
        c.send(rp.input_audio_clear(event_id=c.new_id("clear")), link)
        self._resume_vad(link)
        c.update_state()

    def commit(self, link: Link, request: TurnEnd, ms: int) -> bool:
        """Once the turn's audio went up (the uplink thread waits for this): commit it, or clear a too-short turn;
        the turn closes either way. Posted before the uplink's next frame, so the commit precedes it. A turn_cancel
        since the turn_end took the turn (its clear went out, its VAD is back): nothing to commit."""
        c = self.c
        if request is not self._ending:
            return False
        try:
            if ms < c.config.min_commit_ms:
                c.stats.commits_skipped += 1
                c.send(rp.input_audio_clear(event_id=c.new_id("clear")), link)
                self._resume_vad(link)
                c.emit("error", {"code": "turn_too_short", "fatal": False,
                                 "message": f"the turn held {ms} ms of audio; the service needs at least "
                                            f"{c.config.min_commit_ms} ms: not committed"})
                return False
            c.send(rp.input_audio_commit(event_id=c.new_id("commit")), link)
            self._resume_vad(link)
            c.awaiting_reply_since = time.monotonic()
            if request.respond:
                c.request_response(None)
            return True
        finally:
            self.close()
            c.update_state()

    def close(self) -> None:
        self.open = False
        self._ending = None
        if self._half_duplex_before:
            self.c.audio.half_duplex = True
        self._half_duplex_before = None

    # ------------------------------------------------------------------------------------------------ VAD switch
    def _pause_vad(self, link: Link) -> None:
        """Switch the service's VAD off for the turn, so it neither commits part of the turn on a pause nor leaves a
        `speech_started` without its `speech_stopped` when the commit takes the buffer."""
        c = self.c
        if c.config.push_to_talk or self.vad_off_id is not None:
            return
        self.vad_off_id = c.new_id("vad_off")
        c.send(rp.session_update(rp.SessionConfig(turn_detection=None), event_id=self.vad_off_id), link)

    def _resume_vad(self, link: Link) -> None:
        """The turn is over: the service runs the configured turn detection again, from the audio after the turn."""
        c = self.c
        if self.vad_off_id is None:
            return
        self.vad_off_id = None
        if not c.config.push_to_talk:  # a settings change within the turn may have turned it off for good
            c.send(rp.session_update(rp.SessionConfig(turn_detection=c.config.turn_detection.to_protocol()),
                                     event_id=c.new_id("vad_on")), link)

    def refused(self, event_id: str) -> None:
        """The service refused a switch of this module's (events.py routes the error here)."""
        if event_id == self.vad_off_id:  # the turn goes on with the VAD on; its events still change nothing
            self.vad_off_id = None
        elif event_id.startswith((VAD_ON, VAD_RESTORE)):
            self.restore_later()

    def restore_later(self) -> None:
        """The service kept a turn detection other than the configured one (it refused the switch back): ask again
        shortly. A switch in progress (a turn's over the VAD, an answer window's) puts it back at its end anyway."""
        if self._restore_timer is not None:
            return
        if self._restore_tries >= RESTORE_TRIES:
            self.c.emit("error", {"code": "turn_detection_refused", "fatal": False,
                                  "message": f"the service refused {RESTORE_TRIES + 1} times to switch back to the "
                                             f"configured turn detection; it stays as the service has it"})
            return
        self._restore_timer = self.c.actor.after(RESTORE_RETRY_S, self._restore)

    def _restore(self) -> None:
        self._restore_timer = None
        c = self.c
        if c.link is None or c.link.ended.is_set() or self.vad_off_id is not None or c.answer.vad_switched:
            return  # a new link starts configured; a turn's switch or a window's puts it back at its end
        self._restore_tries += 1
        log.info("asking the service again for the configured turn detection (try %d of %d)",
                 self._restore_tries, RESTORE_TRIES)
        td = c.config.turn_detection.to_protocol()
        c.send(rp.session_update(rp.SessionConfig(turn_detection=td), event_id=c.new_id("vad_restore")))
