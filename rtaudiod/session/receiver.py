"""`Receiver`: what the receive thread does with each server frame before the conversation's actor sees it.

The fast path and the latency traps stay here, on the thread that reads the frame, so that no reaction the user
hears waits for the actor:
  an audio delta       straight into the playout ring (one C pass); the first of an item is posted to the actor;
  speech_started       the speaker is silenced (the engine's flush) before the event is posted: a barge-in;
  response.created     a response the actor marked as unwanted (`drop_next_created`) is dropped before its first
                       delta is read;
  audio done           the engine's `end_item`;
  an error             what ends the link (expired, fatal) is decided before the close frame that follows.
Everything else is decoded and posted to the actor (conversation.py, events.py) as it is.
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING

from rtaudiod import protocol as rp
from rtaudiod.codecs import alaw_decode, ulaw_decode
from rtaudiod.errors import RtaudiodError
from rtaudiod.framing import decode_audio_delta

from .events import KEYISH, end_link_on_error
from .link import Link

if TYPE_CHECKING:
    from .session import Session

__all__ = ["Receiver"]

log = logging.getLogger("rtaudiod.session")
# A server that turns bad sends many bad frames, one per audio delta: one warning per interval says so without
# flooding the journal of a small device (each frame is still counted and reported on the `error` topic).
BAD_EVENT_LOG_INTERVAL_S = 10.0
_KEYISH_BYTES = re.compile(KEYISH.pattern.encode())


class Receiver:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.audio, self.stats, self.subscribers = session.audio, session.stats, session.subscribers
        self.conversation, self.actor = session.conversation, session.actor
        self._bad_logged_at = -BAD_EVENT_LOG_INTERVAL_S  # the first bad frame is always logged
        self._bad_unlogged = 0
        self._last_delta_item: str | None = None
        # The assistant's audio for other consumers (the `audio.output` topic): PCM16 mono at the session rate, as
        # written to the playout ring. Decoded a second time only while someone listens.
        self._to_pcm16 = {"g711_ulaw": ulaw_decode, "g711_alaw": alaw_decode}.get(session.config.audio_format)

    def on_frame(self, link: Link, frame: bytes) -> None:
        """One server message. A broken frame is logged and counted; the session goes on."""
        self.stats.events_received += 1
        try:
            written = self.audio.write_delta(frame)
        except RtaudiodError as e:
            self._emit_raw(frame)
            return self._skip_bad("a broken audio delta", e)
        if written is not None:
            self.subscribers.emit("raw", {"frame": frame})  # base64 and the service's ids: nothing key-like
            if written:
                self._on_audio_written(written)
                if self.subscribers.wants("audio.output"):
                    self._tap_audio(frame)
            return
        self._emit_raw(frame)
        try:
            event = link.codec.decode(frame)
        except RtaudiodError as e:
            return self._skip_bad("a malformed server event", e)
        kind = type(event)
        if kind is rp.ResponseAudioDone:
            if event.response_id == self.audio.delta_response_id:
                self.audio.end_item()
        elif kind is rp.SpeechStarted:
            self.actor.post(self.session.step, self.conversation.handle, link, event, self._speech_started())
        elif kind is rp.UnknownEvent:
            self.stats.unknown_events[event.type] += 1
            if self.stats.unknown_events[event.type] == 1:
                log.info("ignoring server events of an unknown type: %s", event.type)
        else:
            if kind is rp.ResponseCreated:
                if self.conversation.drop_next_created and isinstance(event.response.id, str):
                    self.audio.drop_response(event.response.id)
            elif kind is rp.ErrorEvent:
                message = event.error.message
                end_link_on_error(link, event, self.session.scrub(message if isinstance(message, str) else ""))
            self.actor.post(self.session.step, self.conversation.handle, link, event)

    def _speech_started(self) -> tuple[bool, str | None] | None:
        """interrupt_response (the default): the service cancels its active response itself; the speaker is ours to
        silence, now, and the unheard part ours to cut (on the actor). Within a pushed turn the VAD is off (or being
        turned off): a speech_started it sent before it heard the update changes nothing. Returns what the speaker
        was doing when silenced (None: not silenced)."""
        conversation = self.conversation
        interrupt = conversation.config.turn_detection.interrupt_response is not False
        pushed = conversation.turn.owns_input
        if not interrupt or pushed:
            return None
        heard = (self.audio.is_playing, self.audio.delta_item_id)
        self.audio.flush()  # no delta is written meanwhile (this is the receive thread): the rest is dropped
        return heard

    def _on_audio_written(self, nbytes: int) -> None:
        self.stats.audio_deltas += 1
        self.stats.audio_bytes_received += nbytes
        item = self.audio.delta_item_id
        if item != self._last_delta_item:  # the first audio of a new item
            self._last_delta_item = item
            self.actor.post(self.session.step, self.conversation.first_audio, item, time.monotonic())

    def _emit_raw(self, frame: bytes) -> None:
        """The `raw` event of a frame that is not an audio delta, scrubbed like every message: the service quotes
        the ends of a refused key in its error ("sk-****abcd")."""
        if not self.subscribers.wants("raw"):
            return
        key = self.session.key
        if _KEYISH_BYTES.search(frame) is not None or (key and key.encode() in frame) \
                or any(secret.encode() in frame for secret in self.session.secrets):
            frame = self.session.scrub(frame.decode("utf-8", "replace")).encode()
        self.subscribers.emit("raw", {"frame": frame})

    def _skip_bad(self, what: str, error: RtaudiodError) -> None:
        self.stats.bad_events += 1
        message = self.session.scrub(str(error))
        now = time.monotonic()
        if now - self._bad_logged_at >= BAD_EVENT_LOG_INTERVAL_S:
            more = f" ({self._bad_unlogged} more skipped since the last warning)" if self._bad_unlogged else ""
            log.warning("skipped %s: %s%s", what, message, more)
            self._bad_logged_at, self._bad_unlogged = now, 0
        else:
            self._bad_unlogged += 1
        self.subscribers.emit("error", {"code": "bad_event", "message": message, "fatal": False})

    def _tap_audio(self, frame: bytes) -> None:
        pcm = decode_audio_delta(frame)
        if pcm is not None and self._to_pcm16 is not None:
            pcm = self._to_pcm16(pcm)
        if pcm:
            self.subscribers.emit("audio.output", {"pcm": pcm, "item_id": self.audio.delta_item_id})
