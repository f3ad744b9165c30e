"""`Conversation`: the conversation's state and what each event and command does to it. It runs on the actor's
thread alone (actor.py), so no lock guards it; it never waits on the network (its sends go to the link's outbox).

It owns the turns (a pushed one: pushed_turn.py; the user speaking per the VAD; the wait for a reply), the
responses (responses.py), the settings changes in flight, the tool calls' follow-ups, the
history's writes, and the timers that replace a periodic tick: a tool call's timeout, the end of the playout, the
renewal, the first-sample latency of an item. The server events' handlers are in events.py.

Plain Python, no threads: tests/session/test_conversation.py feeds it events on a `Session` that never connects and
reads the sends it posted.
"""

from __future__ import annotations

import itertools
import logging
import time
from typing import TYPE_CHECKING, Any

from rtaudiod import protocol as rp
from rtaudiod.errors import SessionError

from .actor import Timer
from .announcements import Announcement, Announcements
from .answer import AnswerWindow
from .config import RealtimeConfig
from .events import ServerEvents
from .link import Link
from .mcp import McpMonitor, secret_values
from .pushed_turn import PushedTurn
from .responses import Responses
from .tools import ToolCall

if TYPE_CHECKING:
    from .session import Session

__all__ = ["Conversation"]

log = logging.getLogger("rtaudiod.session")

#: How long the first-sample latency of an item is looked for (an item flushed before it played never has one).
PLAYOUT_LATENCY_GIVE_UP_S = 30.0


class Conversation(ServerEvents):
    def __init__(self, session: Session, config: RealtimeConfig) -> None:
        self.session = session
        self.config = config
        self.audio, self.stats, self.history = session.audio, session.stats, session.history
        self.uplink, self.actor = session.uplink, session.actor
        self.link: Link | None = None  # the current connection (the supervisor sets it through the actor)
        self._ids = itertools.count(1)
        # responses: one active at a time; further response.create wait in the queue (never sent over one)
        self.responses: Responses[rp.ResponseParams] = Responses()
        self.user_speaking = False
        self.turn = PushedTurn(self)  # a push-to-talk turn, and the switches of the service's VAD around it
        self.awaiting_reply_since: float | None = None
        self._settings_event_ids: dict[str, RealtimeConfig] = {}  # runtime session.update -> config to restore
        # Published for the receive thread after every step (one attribute, read without a lock): the next
        # response.created is to be dropped at once, before its first delta.
        self.drop_next_created = False
        self._playout_timer: Any = None
        self._link_timers: list[Timer] = []  # the current link's (watch_link): cancelled when it ends
        # Remote MCP tools (GA): the service's reports of them on the `tool` topic, approvals waiting (mcp.py)
        self.mcp = McpMonitor(self.emit, lambda text: self.session.scrub(text))
        self.mcp_handlers = self.mcp.handlers()
        # out-of-band responses the device says on its own; looked at again when one's last sample should be heard
        self.announcements = Announcements(self.emit, self.actor.after, self.update_state)
        self.answer = AnswerWindow(self)  # the microphone open for an answer nobody pushed a button for
        self.renew_due = False

    # ================================================================================================ steps
    def published(self) -> None:
        """After every step on the actor: what the receive thread reads without asking."""
        r = self.responses
        self.drop_next_created = (r.cancelled_request is not None and r.cancelled_request == r.requested) or \
            (self.turn.open and r.requested is None)

    def reset(self, link: Link | None) -> None:
        """A new connection is a new conversation on the server: nothing of the old one is active there."""
        self.answer.close("disconnected")
        self.responses.reset()
        self.announcements.reset()
        self.user_speaking = False
        self.awaiting_reply_since = None
        self._settings_event_ids.clear()
        self.turn.reset()  # a new connection is configured with the configured turn detection
        self.renew_due = False
        self.link = link
        self.mcp.pending.clear()  # approval requests name the old session's items
        self.audio.flush()  # the old session's reply cannot be truncated any more: stop it

    def new_id(self, what: str) -> str:
        return f"rtad_{what}_{next(self._ids)}"

    def send(self, event: rp.ClientEvent, link: Link | None = None) -> None:
        """Post `event` to the link's outbox: it goes out in order, on the sender thread (outbox.py)."""
        link = link or self.link
        if link is None or link.ended.is_set():
            raise SessionError("not connected to the Realtime service", code="not_connected")
        # The sender may send it at once, and the answer arrive before this step ends: what the receive thread
        # reads (a response.created to drop?) must already say so, not the state from before the step.
        self.published()
        link.outbox.post(link.codec.encode(event))

    def configured_link(self) -> Link:
        link = self.link
        if link is None or not link.configured.is_set() or link.ended.is_set():
            raise SessionError("not connected to the Realtime service", code="not_connected")
        return link

    def emit(self, topic: str, data: dict[str, Any]) -> None:
        self.session.subscribers.emit(topic, data)

    # ================================================================================================ state
    def update_state(self) -> None:
        """Derive the conversation state from the turn flags and the speaker (after every change). While the reply
        plays, a timer looks again when the queued audio should have drained: no periodic tick."""
        from .session import State

        session, link = self.session, self.link
        self.announcements.played(self.audio)
        if session.state in (State.FAILED, State.STOPPED) or link is None or not link.configured.is_set():
            return
        if self.user_speaking or self.turn.open or self.answer.open:
            state = State.LISTENING
        elif self.audio.is_playing:
            state = State.SPEAKING
            self._watch_playout()
        elif self.responses.pending or self.awaiting_reply_since is not None or session.pending.outstanding():
            state = State.THINKING
        else:
            state = State.READY
        session.set_state(state)
        if self.renew_due and self.quiet():
            link.end("renew")

    def _watch_playout(self) -> None:
        if self._playout_timer is not None:
            return
        audio = self.audio
        period = audio.config.mode.playout_period_ms / 1000
        queued = audio.playout_ring.read_available / (2 * audio.config.session_rate)
        sounding = max(0.0, getattr(audio.playout, "audible_until", 0.0) - time.monotonic())
        self._playout_timer = self.actor.after(max(period, queued + sounding), self._playout_check)

    def _playout_check(self) -> None:
        self._playout_timer = None
        self.update_state()

    def quiet(self) -> bool:
        """A moment to renew: nothing said, nothing playing, nothing pending."""
        from .session import State

        return (self.session.state is State.READY and not self.responses.pending and not self.turn.open
                and not self.user_speaking and self.session.pending.outstanding() == 0)

    def watch_link(self, link: Link) -> None:
        """Timers of a new connection: configured in time, renewed before the service's cap (at a quiet moment)."""
        config = self.config

        def configured_in_time() -> None:
            if not link.configured.is_set():
                link.end("stalled", SessionError(f"no session.created/updated within {config.connect_timeout_s:g} s",
                                                 code="no_session"))

        def renew() -> None:
            if link is self.link:
                self.renew_due = True
                self.update_state()

        self._link_timers = [self.actor.after(config.connect_timeout_s, configured_in_time),
                             self.actor.after(config.renew_after_s, renew)]

    def first_audio(self, item: str | None, now: float) -> None:
        """The first delta of a new item was written (posted by the receive thread)."""
        since = self.awaiting_reply_since
        if since is not None:
            self.stats.reply_latency.add((now - since) * 1000)
            self.awaiting_reply_since = None
        if item is not None:
            self._measure_playout_start(item, now)
        self.update_state()

    def _measure_playout_start(self, item: str, since: float) -> None:
        ms = self.audio.start_latency_ms(item)
        if ms is not None:
            self.stats.playout_latency.add(ms)
        elif time.monotonic() - since < PLAYOUT_LATENCY_GIVE_UP_S:  # known once a callback handed its first sample
            self.actor.after(self.audio.config.mode.playout_period_ms / 1000,
                             lambda: self._measure_playout_start(item, since))

    # ================================================================================================ commands
    def send_text(self, text: str, respond: bool) -> None:
        link = self.configured_link()
        self.send(rp.user_text(text, event_id=self.new_id("text")), link)
        self.history.add("user", text)
        if respond:
            self.awaiting_reply_since = time.monotonic()
            self.request_response(None)
        self.update_state()

    def send_image(self, url: str, text: str | None, detail: str | None, respond: bool) -> None:
        link = self.configured_link()
        self.send(rp.user_image(url, text=text, detail=detail, event_id=self.new_id("image")), link)
        if text:
            self.history.add("user", text)
        if respond:
            self.awaiting_reply_since = time.monotonic()
            self.request_response(None)
        self.update_state()

    def answer_mcp_approval(self, approval_request_id: str, approve: bool, reason: str | None) -> None:
        link = self.configured_link()
        request = self.mcp.take_request(approval_request_id)
        if request is None:
            raise SessionError(f"no MCP approval request {approval_request_id!r} is pending (answered, or never "
                               "asked)", code="unknown_approval")
        try:
            self.send(rp.mcp_approval_response(approval_request_id, approve, reason=reason,
                                               item_id=self.new_id("approval"), event_id=self.new_id("approval")),
                      link)
        except SessionError:
            self.mcp.restore(request)  # the link ended: the request waits for the answer again
            raise
        self.awaiting_reply_since = time.monotonic()
        self.request_response(None)
        self.emit("tool", {"event": "approval", "approval_request_id": approval_request_id, "approve": approve,
                           "server_label": request["server_label"], "name": request["name"]})
        self.update_state()

    def create_response(self, params: rp.ResponseParams | None) -> None:
        self.configured_link()
        self.request_response(params)
        self.update_state()

    def announce(self, text: str, now: bool, listen: bool) -> str:
        """Say `text` out of band (announcements.py), after the reply in progress, or over it (`now`: cut as a
        barge-in). Returns the announcement's id (its `announce` events carry it)."""
        self.configured_link()
        if now:
            self.drop_queue("announce")
            self.barge_in("announce")
        announcement = Announcement(self.new_id("announce"), text, listen)
        self.announcements.queued(announcement)
        self.request_response(announcement.params())
        self.update_state()
        return announcement.id

    def request_response(self, params: rp.ResponseParams | None) -> None:
        if self.responses.ask(params):
            self.send_response_create(params)
        else:
            self.stats.responses_queued += 1

    def send_response_create(self, params: rp.ResponseParams | None) -> None:
        event_id = self.new_id("response")
        self.responses.sent(event_id, params)
        try:
            self.send(rp.response_create(params, event_id=event_id))
        except SessionError:
            self.responses.send_failed()
            raise

    def drop_queue(self, reason: str) -> None:
        """The user moved on (a new turn, a barge-in): replies asked for before would play over it."""
        self.announcements.dropped(self.responses.drop_queue(), reason)

    def cancel_response(self, reason: str) -> bool:
        self.drop_queue(reason)
        done = self.barge_in(reason)
        self.update_state()
        return done

    def stop_playback(self) -> None:
        self.barge_in("stop_playback", cancel=False)
        self.update_state()

    def update_settings(self, new: RealtimeConfig) -> None:
        link = self.configured_link()
        previous, self.config = self.config, new
        event_id = self.new_id("settings")
        self._settings_event_ids[event_id] = previous
        while len(self._settings_event_ids) > 8:  # accepted updates get no answer naming them: forget old ones
            self._settings_event_ids.pop(next(iter(self._settings_event_ids)))
        try:
            self.send(rp.session_update(self.settings(), event_id=event_id), link)
        except SessionError:  # the link ended meanwhile: the caller hears "not connected", and nothing changed
            self.config = self._settings_event_ids.pop(event_id)
            raise

    def announce_tools(self) -> None:
        link = self.link
        # Once the connection's settings went out (on session.created, before it is configured at session.updated)
        # they no longer carry a change of the tools: announce it. Before that, they will carry it.
        if link is None or link.settings_event_id is None or link.ended.is_set():
            return
        self.send(rp.session_update(rp.SessionConfig(tools=self.all_tools()), event_id=self.new_id("tools")), link)

    def all_tools(self) -> list[rp.Tool]:
        registered = self.session.tools.tools()
        names = {t.name for t in registered}
        tools = list(registered)
        for spec in self.config.tools:
            if spec.name in names:
                continue
            try:
                tools.append(spec.to_protocol())
            except ValueError as e:  # an MCP secret gone since the config was read: without that server
                log.error("left out the tool %s: %s", spec.label, e)
                self.emit("error", {"code": "tool_secret", "message": f"{spec.label}: {e}", "fatal": False})
        # the newest first; a rotated-out token is still scrubbed for a while (an old reply may quote it)
        self.session.secrets = tuple(dict.fromkeys((*secret_values(tools), *self.session.secrets)))[:16]
        return tools

    def settings(self) -> rp.SessionConfig:
        settings = self.config.session_settings(tools=self.all_tools())
        if self.turn.vad_off_id is not None:  # a settings change within a pushed turn must not turn the VAD back on
            settings.turn_detection = None
        elif self.answer.vad_switched and settings.turn_detection is None:  # nor turn an answer's VAD off
            settings.turn_detection = self.answer.vad()
        return settings

    def finish_open_turn(self) -> None:
        """The connection ended: a turn_end waiting for the uplink gets its answer (nothing was committed), and its
        timers go (the renewal's would hold the dead link, and its socket, for most of an hour)."""
        for timer in self._link_timers:
            timer.cancel()
        self._link_timers = []
        self.turn.close()
        self.answer.close("disconnected")  # now, not at the next connect: the uplink must not hold the mic open
        self.uplink.cancel_turn_end()
        self.link = None

    # ================================================================================================ barge-in
    def barge_in(self, reason: str, cancel: bool = True, service_cancels: bool = False,
                 heard: tuple[bool, str | None] | None = None) -> bool:
        """Interrupt the reply: silence the speaker, cancel the active response, and cut the items the user did not
        hear: truncate at what was played, or delete an item nothing of which was played. `service_cancels`: the
        service cancels the active response itself (server VAD's interrupt_response), so no response.cancel goes
        out for it. `heard`: the speaker was flushed already, and (playing, item) is what it was doing before."""
        audio = self.audio
        playing, item = heard if heard is not None else (audio.is_playing, audio.delta_item_id)
        responses = self.responses
        active = responses.active
        requested = responses.requested if cancel else None  # asked for, not yet created (~0.3 s)
        if not playing and active is None and requested is None:
            return False
        link = self.link
        if heard is None:
            audio.flush()
        to_fix: list[str] = []
        # an announcement's item is in no conversation: nothing to cut there
        if item is not None and (playing or item in responses.items) and not self.announcements.owns_item(item):
            to_fix.append(item)
        self.announcements.cut(active, item, reason)
        try:
            if active is not None:
                audio.drop_response(active)
                to_fix += [i for i in responses.items if i not in to_fix]
                if cancel and not service_cancels:
                    self.send(rp.response_cancel(event_id=self.new_id("cancel")), link)
            elif requested is not None:
                # The service has it already (it takes events in order) and cancels it before any output; should
                # audio come anyway, it is dropped: response.created names it.
                responses.cancel_request()
                self.send(rp.response_cancel(event_id=self.new_id("cancel")), link)
        except SessionError:  # the link is gone: the speaker is silent, the rest is the old conversation's
            return True
        for item_id in to_fix:
            point = audio.truncate_point(item_id)
            received = audio.received_ms(item_id)
            try:
                if point is None:
                    self.send(rp.item_delete(item_id, event_id=self.new_id("delete")), link)
                    self.history.cut(item_id, 0.0)
                else:
                    self.send(rp.item_truncate(item_id, 0, point, event_id=self.new_id("truncate")), link)
                    self.history.cut(item_id, point / received if received else 1.0)
            except SessionError:  # the link is gone (the speaker was silenced all the same: an interruption)
                break
        self.stats.barge_ins += 1
        self.emit("response", {"event": "interrupted", "reason": reason, "response_id": active, "items": to_fix})
        return True

    # ================================================================================================ tools
    def start_call(self, call: ToolCall) -> None:
        self.stats.tool_calls += 1
        self.responses.call_started(call.response_id)  # before the handler runs: its answer may come at once
        self.emit("function_call", {"call_id": call.call_id, "name": call.name, "arguments": call.arguments})
        pending = self.session.pending
        pending.start(call, self.session.tools.handler(call.name))
        # answered with an error if still out by then (a hair later: the sweep wants it strictly older)
        self.actor.after(self.config.tool_timeout_s + 0.01, pending.sweep)
        self.update_state()

    def answer_call(self, call: ToolCall, output: str, ok: bool) -> None:
        """A call's answer (posted from whichever thread answered): send its output; once its response is done
        and the outputs of all its calls went out, ask for the next response."""
        if not ok:
            self.stats.tool_errors += 1
        try:
            self.send(rp.function_call_output(call.call_id, output, event_id=self.new_id("output")))
            if self.responses.output_sent(call.response_id) and self.responses.ask(None):
                self.send_response_create(None)
        except SessionError as e:  # the connection died: the supervisor reconnects
            log.warning("could not send the output of %s: %s", call.name, e)
            return
        self.emit("function_call", {"call_id": call.call_id, "name": call.name, "output": output, "ok": ok})
        self.update_state()
