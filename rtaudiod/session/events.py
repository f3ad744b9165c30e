"""`ServerEvents`: what each server event does to the conversation (the `Conversation`'s handlers, on the actor).

The receive thread has already done what cannot wait for the actor (receiver.py): the audio deltas, the speaker's
flush on `speech_started`, the drop of a cancelled response's audio on `response.created`, and `end_item` on the
audio's end. Each handler here takes the event as decoded and changes the state; its sends go to the outbox.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rtaudiod import protocol as rp
from rtaudiod.errors import SessionError

from .link import Link
from .tools import ToolCall

if TYPE_CHECKING:
    from .conversation import Conversation

__all__ = ["FATAL_CODES", "ServerEvents", "scrub"]

log = logging.getLogger("rtaudiod.session")

#: Error codes retrying cannot fix, and what to change (the service sends the error, then closes 3000 or 4000).
FATAL_CODES = {
    "invalid_api_key": "the service refused the API key: check api_key (or what token_url returns)",
    "insufficient_quota": "the account has no quota left: check the plan and billing",
    "beta_api_shape_disabled": "the service no longer speaks the beta dialect: set dialect = \"ga\"",
    "missing_beta_header": "the server speaks the beta dialect only: set dialect = \"beta\"",
    "model_not_found": "the model was refused: set model to a Realtime model the key may use",
    "invalid_model": "the model was refused: set model to a Realtime model the key may use",
    "missing_model": "no model was given: set model",
    "unsupported_model": "the model cannot be used for Realtime sessions: set model",
    "account_deactivated": "the account is deactivated",
}
#: What an API key or an ephemeral key looks like, to scrub from the service's messages (it quotes parts of keys).
KEYISH = re.compile(r"\b(?:sk|ek|rk)[-_][A-Za-z0-9_\-*]{3,}")


def error_code(info: Any) -> str:
    return info.code if isinstance(info.code, str) else (info.type if isinstance(info.type, str) else "error")


def end_link_on_error(link: Link, event: rp.ErrorEvent, message: str) -> None:
    """The receive thread, before it posts an error: what ends the link is decided before the close frame that
    follows is read (the close's own reason would win otherwise)."""
    info = event.error
    code = error_code(info)
    caused_by = info.event_id if isinstance(info.event_id, str) else None
    fatal_hint = FATAL_CODES.get(code)
    if code == "session_expired":
        link.expired = True  # the close (1001) follows: renew at once
    elif fatal_hint is not None:
        link.end("fatal", SessionError(f"{fatal_hint} ({code}: {message})", code=code, fatal=True))
    elif caused_by is not None and caused_by == link.settings_event_id and not link.configured.is_set():
        # A refused session.update is dropped whole: running on would lose instructions and tools silently.
        param = f" (param {info.param})" if isinstance(info.param, str) else ""
        link.end("fatal", SessionError(f"the service refused the session settings{param}: {message} ({code})",
                                       code=code, fatal=True))


def scrub(text: str, key: str | None, secrets: tuple[str, ...] = ()) -> str:
    """A service message without anything that looks like a key (the service quotes parts of a bad key), nor the
    MCP servers' secrets last sent."""
    for secret in (key, *secrets):
        if secret:
            text = text.replace(secret, "<redacted>")
    return KEYISH.sub("<redacted>", text)


class ServerEvents:
    def handle(self: Conversation, link: Link, event: Any, *extra: Any) -> None:
        """One decoded server event of `link` (one of a link already replaced: the old conversation's, ignored)."""
        if link is not self.link:
            return
        handler = _HANDLERS.get(type(event))
        mcp_handler = self.mcp_handlers.get(type(event))  # the MCP monitor's, beside the conversation's (mcp.py)
        try:
            if handler is not None:
                handler(self, link, event, *extra)
            if mcp_handler is not None:
                mcp_handler(link, event)
        except SessionError as e:
            if not link.ended.is_set():
                raise
            # Read just before the connection ended: what it would send has nowhere to go (the next connection
            # is a new conversation). Expected, so one line, not a handler's traceback.
            log.info("%s came just before the connection ended (%s): %s", type(event).__struct_config__.tag,
                     link.reason, e)

    # -- session --------------------------------------------------------------------------------------------
    def _on_session_created(self: Conversation, link: Link, event: rp.SessionCreated) -> None:
        link.session_id = event.session.id if isinstance(event.session.id, str) else None
        link.settings_event_id = self.new_id("settings")
        self.send(rp.session_update(self.settings(), event_id=link.settings_event_id), link)

    def _on_session_updated(self: Conversation, link: Link, event: rp.SessionUpdated) -> None:
        if link.configured.is_set() or link.settings_event_id is None:
            return
        for item in self.history.replay_events():  # the conversation so far, into the new session, before audio
            self.send(item, link)
        link.configured.set()
        log.info("session %s ready%s", link.session_id or "(no id)",
                 f" ({len(self.history.turns())} turns carried over)" if link.number > 1 else "")
        self.update_state()

    def _on_error(self: Conversation, link: Link, event: rp.ErrorEvent) -> None:
        """The link's end (expired, fatal) was decided on the receive thread (`end_link_on_error`)."""
        info = event.error
        code = error_code(info)
        message = self.session.scrub(info.message if isinstance(info.message, str) else "")
        caused_by = info.event_id if isinstance(info.event_id, str) else None
        self.stats.server_errors[code] += 1
        fatal_hint = FATAL_CODES.get(code)
        if code == "session_expired":
            log.info("the service ended the session: %s", message)
        elif fatal_hint is not None or link.reason == "fatal":
            pass
        elif caused_by in self._settings_event_ids:
            self.config = self._settings_event_ids.pop(caused_by)
            log.warning("the service refused a settings change, the previous settings stay: %s (%s)", message, code)
        elif caused_by is not None and (caused_by == self.responses.requested or (
                code == "conversation_already_has_active_response" and caused_by.startswith("rtad_response"))):
            # The second case: a response the service started itself (server VAD) was created between our request
            # and its refusal, and its response.created already cleared the request.
            self.responses.refused(caused_by, code)
            log.info("response.create refused: %s (%s)", message, code)
        elif caused_by is not None and caused_by.startswith(("rtad_vad_off", "rtad_vad_on", "rtad_vad_restore")):
            log.warning("the service refused to switch its turn detection %s: %s (%s)",
                        "off for a push-to-talk turn" if "off" in caused_by else "back", message, code)
            self.turn.refused(caused_by)
        elif caused_by is not None and caused_by.startswith("rtad_answer_vad"):
            log.warning("the service refused to switch its turn detection for an answer: %s (%s)", message, code)
            self.answer.refused(caused_by)
            if caused_by.startswith("rtad_answer_vad_off"):  # the VAD the window turned on stays on
                self.turn.restore_later()
        elif code in ("response_cancel_not_active",) or (caused_by or "").startswith(("rtad_truncate", "rtad_delete",
                                                                                       "rtad_cancel")):
            log.info("barge-in clean-up refused (harmless): %s (%s)", message, code)
        else:
            log.warning("service error: %s (%s)", message, code)
        self.emit("error", {"code": code, "message": message, "fatal": fatal_hint is not None, "event_id": caused_by})
        self.update_state()

    # -- input audio ----------------------------------------------------------------------------------------
    def _on_speech_started(self: Conversation, link: Link, event: rp.SpeechStarted,
                           heard: tuple[bool, str | None] | None = None) -> None:
        """`heard`: the receive thread silenced the speaker already (a barge-in), and (playing, item) is what it
        was doing just before (receiver.py decides, from the same flags as below)."""
        pushed = self.turn.owns_input
        self.user_speaking = not pushed
        self.answer.speech_started()
        if heard is not None:
            self.barge_in("speech", service_cancels=True, heard=heard)
            self.drop_queue("speech")  # replies asked for before the user spoke again would play over it
        self.emit("vad", {"event": "speech_started", "audio_ms": event.audio_start_ms, "item_id": event.item_id})
        self.update_state()

    def _on_speech_stopped(self: Conversation, link: Link, event: rp.SpeechStopped) -> None:
        self.user_speaking = False
        if not self.turn.owns_input:  # see _on_speech_started
            self.awaiting_reply_since = time.monotonic()
        self.emit("vad", {"event": "speech_stopped", "audio_ms": event.audio_end_ms, "item_id": event.item_id})
        self.update_state()

    def _on_timeout_triggered(self: Conversation, link: Link, event: rp.InputAudioBufferTimeoutTriggered) -> None:
        self.emit("vad", {"event": "timeout", "audio_ms": event.audio_end_ms, "item_id": event.item_id})

    def _on_committed(self: Conversation, link: Link, event: rp.InputAudioBufferCommitted) -> None:
        self.history.reserve(event.item_id, "user")
        self.answer.committed()

    def _on_user_transcript_delta(self: Conversation, link: Link, event: rp.InputAudioTranscriptionDelta) -> None:
        if isinstance(event.delta, str) and event.delta:
            self.emit("transcript.user", {"item_id": event.item_id, "delta": event.delta, "final": False})

    def _on_user_transcript_done(self: Conversation, link: Link,
                                 event: rp.InputAudioTranscriptionCompleted) -> None:
        self.history.add("user", event.transcript, key=event.item_id)
        self.emit("transcript.user", {"item_id": event.item_id, "text": event.transcript, "final": True})

    def _on_user_transcript_failed(self: Conversation, link: Link, event: rp.InputAudioTranscriptionFailed) -> None:
        self.emit("error", {"code": "transcription_failed", "fatal": False, "item_id": event.item_id,
                            "message": self.session.scrub(str(event.error.message or ""))})

    # -- responses ------------------------------------------------------------------------------------------
    def _on_response_created(self: Conversation, link: Link, event: rp.ResponseCreated) -> None:
        response_id = event.response.id if isinstance(event.response.id, str) else None
        # The service's own reply to a VAD turn it committed just before the pushed turn turned its VAD off:
        # the user has pressed the button since, and hears the pushed turn's reply, not this one.
        unasked_in_turn = self.turn.open and self.responses.requested is None
        if self.responses.created(response_id) and response_id is not None:
            # The receive thread dropped it already if it knew in time (drop_next_created); if its first deltas
            # came before this step, the speaker is silenced now.
            self.audio.drop_response(response_id)
            if self.audio.delta_response_id == response_id:
                self.audio.flush()
        if unasked_in_turn:
            self.barge_in("turn_start")
        announcement = self.announcements.created(event.response)
        self.emit("response", {"event": "created", "response_id": response_id,
                               **({"announce_id": announcement.id} if announcement else {})})
        self.update_state()

    def _on_output_item_added(self: Conversation, link: Link, event: rp.ResponseOutputItemAdded) -> None:
        item = event.item
        if not isinstance(item.id, str):
            return
        if item.type == "function_call" and isinstance(item.name, str):
            self.responses.function_names[item.id] = item.name
        elif (announcement := self.announcements.of_response(event.response_id)) is not None:
            announcement.items.append(item.id)  # out of band: in no conversation, never in the history
        elif item.type == "message":
            self.responses.item_added(event.response_id, item.id)
            self.history.reserve(item.id, "assistant")

    def _on_assistant_delta(self: Conversation, link: Link, event: rp.ResponseAudioTranscriptDelta) -> None:
        self.emit("transcript.assistant", {"item_id": event.item_id, "response_id": event.response_id,
                                           "delta": event.delta, "final": False})

    def _on_assistant_done(self: Conversation, link: Link, event: rp.ResponseAudioTranscriptDone) -> None:
        if self.announcements.of_response(event.response_id) is None:
            self.history.add("assistant", event.transcript, key=event.item_id)
        self.emit("transcript.assistant", {"item_id": event.item_id, "response_id": event.response_id,
                                           "text": event.transcript, "final": True})

    def _on_text_delta(self: Conversation, link: Link, event: rp.ResponseTextDelta) -> None:
        self.emit("text", {"item_id": event.item_id, "response_id": event.response_id, "delta": event.delta,
                           "final": False})

    def _on_text_done(self: Conversation, link: Link, event: rp.ResponseTextDone) -> None:
        if self.announcements.of_response(event.response_id) is None:
            self.history.add("assistant", event.text, key=event.item_id)
        self.emit("text", {"item_id": event.item_id, "response_id": event.response_id, "text": event.text,
                           "final": True})

    def _on_response_done(self: Conversation, link: Link, event: rp.ResponseDone) -> None:
        response = event.response
        rid = response.id if isinstance(response.id, str) else None
        status = response.status if isinstance(response.status, str) else None
        finished = self.responses.finished(rid, status)
        if finished.send:
            try:
                self.send_response_create(finished.params)
            except SessionError:
                pass
        if finished.over:
            # The reply is over without audio to end the wait for it (a text reply, one cancelled before its
            # audio, a failed one), and no other is on its way: not "thinking" any more.
            self.awaiting_reply_since = None
        if finished.duplicate:  # a second one: it must not start the next reply again
            self.stats.stray_events += 1
            log.warning("ignored a second response.done for %s", rid)
            return
        self.emit("response", {"event": "done", "response_id": rid, "status": status})
        self.announcements.finished(rid, status)
        self.update_state()

    # -- function calls -------------------------------------------------------------------------------------
    def _on_function_call(self: Conversation, link: Link, event: rp.ResponseFunctionCallArgumentsDone) -> None:
        name = event.name if isinstance(event.name, str) else self.responses.function_names.get(event.item_id, "")
        self.start_call(ToolCall(call_id=event.call_id, name=name, arguments=event.arguments,
                                 response_id=event.response_id))


_HANDLERS: dict[type, Callable[..., None]] = {
    rp.SessionCreated: ServerEvents._on_session_created, rp.SessionUpdated: ServerEvents._on_session_updated,
    rp.ErrorEvent: ServerEvents._on_error, rp.SpeechStarted: ServerEvents._on_speech_started,
    rp.SpeechStopped: ServerEvents._on_speech_stopped,
    rp.InputAudioBufferTimeoutTriggered: ServerEvents._on_timeout_triggered,
    rp.InputAudioBufferCommitted: ServerEvents._on_committed,
    rp.InputAudioTranscriptionDelta: ServerEvents._on_user_transcript_delta,
    rp.InputAudioTranscriptionCompleted: ServerEvents._on_user_transcript_done,
    rp.InputAudioTranscriptionFailed: ServerEvents._on_user_transcript_failed,
    rp.ResponseCreated: ServerEvents._on_response_created, rp.ResponseDone: ServerEvents._on_response_done,
    rp.ResponseOutputItemAdded: ServerEvents._on_output_item_added,
    rp.ResponseAudioTranscriptDelta: ServerEvents._on_assistant_delta,
    rp.ResponseAudioTranscriptDone: ServerEvents._on_assistant_done,
    rp.ResponseTextDelta: ServerEvents._on_text_delta, rp.ResponseTextDone: ServerEvents._on_text_done,
    rp.ResponseFunctionCallArgumentsDone: ServerEvents._on_function_call,
}
