"""`Session`: one Realtime conversation on one `AudioEngine`, kept alive across drops and the service's 60-minute cap.

Threads, each named for its one job:
  rtaudiod-session   the supervisor: connects (minting a key first when `token_url` is set), starts the two threads
                     below per connection, reconnects with capped exponential backoff and jitter, renews the session
                     at a quiet moment before the cap, and ticks the timers (tool timeouts, "speaking" ending,
                     playout latency). Fatal errors stop it with a message that says what to change.
  rtaudiod-recv      reads every frame: audio deltas go straight into the playout ring (one C pass), everything else
                     through the typed decoder to the handlers below, which keep the turn state.
  rtaudiod-uplink    capture ring -> socket, one C pass per frame, through the `UplinkGate` (uplink.py: the inject
                     ring, the pre-roll, the listening gate and the turn-end flush).
  rtaudiod-tool-N    tool handlers, so a slow one never holds the receive thread.
Commands (`turn_start`, `send_text`, ...) run on the caller's thread. Sends that must go out together (a barge-in's
cancel and truncate) hold the session's own lock; single sends rely on the library's send lock.

Observers subscribe: `session.subscribe(topics, callback)` (subscribers.py), any number, in any order; each gets
the events of its topics on the thread that saw them (usually the receive thread) and must return quickly. The
constructor's `on_event(topic, data)` (every topic) and `on_state(new, old)` are subscriptions too.
"""

from __future__ import annotations

import enum
import itertools
import logging
import random
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from rtaudiod.audio import AudioEngine
from rtaudiod.codecs import alaw_decode, ulaw_decode
from rtaudiod.errors import RtaudiodError, SessionError
from rtaudiod.framing import decode_audio_delta
from rtaudiod import protocol as rp

from .config import LIVE_SETTINGS, RealtimeConfig
from .connection import Connection
from .credentials import resolve_key
from .history import History
from .link import Link, receive_loop
from .stats import SessionStats
from .subscribers import Callback, Subscribers
from .responses import Responses
from .tools import PendingCalls, ToolCall, ToolHandler, ToolRegistry
from .uplink import FrameSender, TurnEnd, UplinkGate

__all__ = ["FATAL_CODES", "Session", "State"]

log = logging.getLogger("rtaudiod.session")
# A server that turns bad sends many bad frames, one per audio delta: one warning per interval says so without
# flooding the journal of a small device (each frame is still counted and reported on the `error` topic).
BAD_EVENT_LOG_INTERVAL_S = 10.0

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
#: Close codes after which reconnecting cannot help: authentication (3000) and the request's shape (4000).
FATAL_CLOSE = {3000: "authentication failed", 4000: "the service refused the request (model or dialect)"}
#: What an API key or an ephemeral key looks like, to scrub from the service's messages (it quotes parts of keys).
_KEYISH = re.compile(r"\b(?:sk|ek|rk)[-_][A-Za-z0-9_\-*]{3,}")
_KEYISH_BYTES = re.compile(_KEYISH.pattern.encode())
#: The GIL switch interval the session's threads need (measured: 5 ms underflowed the output under CPU load).
SWITCH_INTERVAL_S = 0.001


class State(enum.StrEnum):
    CONNECTING = "connecting"  # first connection, or waiting for the session to be configured
    READY = "ready"  # connected and idle
    LISTENING = "listening"  # the user speaks (server VAD heard speech, or a push-to-talk turn is open)
    THINKING = "thinking"  # the turn is over, the reply has not started to play
    SPEAKING = "speaking"  # the reply plays
    RECONNECTING = "reconnecting"  # the connection dropped (or is being renewed); waiting to connect again
    FAILED = "failed"  # a fatal error: nothing more will happen (see `Session.error`)
    STOPPED = "stopped"  # stop() was called


class Session:
    """A Realtime session on `audio`. `start()` returns at once; `wait_ready()` waits for the first configured
    connection; `stop()` ends everything. Commands raise `SessionError(code="not_connected")` while there is no
    configured connection; their effects are reported through `on_event`."""

    def __init__(self, config: RealtimeConfig, audio: AudioEngine,
                 on_event: Callable[[str, dict[str, Any]], None] | None = None,
                 on_state: Callable[[State, State], None] | None = None) -> None:
        if audio.config.session_format != config.audio_format:
            raise ValueError(f"the audio engine runs {audio.config.session_format}, the session "
                             f"{config.audio_format}: set both to the same format")
        self.config = config
        self.audio = audio
        self.subscribers = Subscribers()
        self._owner_event: tuple[Any, Callable[[], None]] | None = None  # the `on_event` slot
        self._owner_audio: tuple[Any, Callable[[], None]] | None = None  # the `on_audio` slot
        self.on_event = on_event
        if on_state is not None:
            self.subscribe({"state"}, lambda _, d: on_state(State(d["state"]), State(d["previous"])))
        self.stats = SessionStats()
        self._bad_logged_at = -BAD_EVENT_LOG_INTERVAL_S  # the first bad frame is always logged
        self._bad_unlogged = 0
        self.tools = ToolRegistry()
        self.history = History(config.history_turns)
        self.frame_bytes = audio.config.session_rate * audio.config.mode.capture_ms // 1000 * 2
        self.error: SessionError | None = None  # why the session failed (or the last connection ended)
        self._state = State.STOPPED
        self._state_lock = threading.RLock()
        self._lock = threading.RLock()  # turn and response state; groups of sends that belong together
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._connecting: Connection | None = None  # the connection being opened (stop() aborts its handshake)
        self._link: Link | None = None
        self._ids = itertools.count(1)
        self._key: str | None = None  # the key of the current connection, only to scrub it from messages
        # responses: one active at a time; further response.create wait in the queue (never sent over one)
        self._responses: Responses[rp.ResponseParams] = Responses()
        # turns
        self._user_speaking = False
        self._turn_open = False
        self._half_duplex_before_turn: bool | None = None
        self._awaiting_reply_since: float | None = None
        self._last_delta_item: str | None = None
        self._playout_pending: deque[tuple[str, float]] = deque(maxlen=32)
        self._settings_event_ids: dict[str, RealtimeConfig] = {}  # runtime session.update -> config to restore
        # Push-to-talk over the service's VAD (docs/push-to-talk.md): the event_id of the session.update that turned
        # the VAD off for the open turn; None while the service runs the configured turn detection.
        self._vad_off_id: str | None = None
        # What goes up, and when: the inject ring, the pre-roll, the listening gate (rtaudiod.listen sets
        # `uplink.gate`) and the turn-end flush.
        self.uplink = UplinkGate(audio, self.stats, self.frame_bytes, lambda: self._turn_open,
                                 lambda: self.config.push_to_talk)
        # The assistant's audio for other consumers (the `audio.output` topic): PCM16 mono at the session rate, as
        # written to the playout ring. Decoded a second time only while someone listens.
        self._to_pcm16 = {"g711_ulaw": ulaw_decode, "g711_alaw": alaw_decode}.get(config.audio_format)
        self._pending = PendingCalls(self._answer_call, config.tool_timeout_s)
        # A device unplugged or back (the engine's device watch): told as a non-fatal `error` event; the session goes on.
        audio.on_device = lambda kind, lost, message: self._emit("error", {
            "code": f"audio_{kind}_{'lost' if lost else 'back'}", "message": message, "fatal": False})
        self._handlers: dict[type, Callable[[Link, Any], None]] = {
            rp.SessionCreated: self._on_session_created, rp.SessionUpdated: self._on_session_updated,
            rp.ErrorEvent: self._on_error, rp.SpeechStarted: self._on_speech_started,
            rp.SpeechStopped: self._on_speech_stopped,
            rp.InputAudioBufferTimeoutTriggered: self._on_timeout_triggered,
            rp.InputAudioBufferCommitted: self._on_committed,
            rp.InputAudioTranscriptionDelta: self._on_user_transcript_delta,
            rp.InputAudioTranscriptionCompleted: self._on_user_transcript_done,
            rp.InputAudioTranscriptionFailed: self._on_user_transcript_failed,
            rp.ResponseCreated: self._on_response_created, rp.ResponseDone: self._on_response_done,
            rp.ResponseOutputItemAdded: self._on_output_item_added,
            rp.ResponseAudioTranscriptDelta: self._on_assistant_delta,
            rp.ResponseAudioTranscriptDone: self._on_assistant_done,
            rp.ResponseTextDelta: self._on_text_delta, rp.ResponseTextDone: self._on_text_done,
            rp.ResponseAudioDone: self._on_audio_done,
            rp.ResponseFunctionCallArgumentsDone: self._on_function_call,
        }

    def __repr__(self) -> str:
        return f"Session({self.config.base_url!r}, model={self.config.model!r}, state={self._state.value!r})"

    # ================================================================================================ lifecycle
    def start(self) -> Session:
        """Start connecting (in the background). Sets the process's GIL switch interval to 1 ms when it is longer:
        with the 5 ms default, CPU-bound Python threads starved the audio callbacks (measured underflows)."""
        if self._supervisor is not None:
            return self
        if sys.getswitchinterval() > SWITCH_INTERVAL_S:
            sys.setswitchinterval(SWITCH_INTERVAL_S)
        self._set_state(State.CONNECTING)
        self._supervisor = threading.Thread(target=self._supervise, name="rtaudiod-session", daemon=True)
        self._supervisor.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close the connection (1000), stop every thread, and wait up to `timeout` seconds for them."""
        self._stopping.set()
        connecting = self._connecting
        if connecting is not None:  # a handshake waiting on a silent server ends now, not at connect_timeout_s
            connecting.abort()
        link = self._link
        if link is not None:
            link.end("stop")
        if self._supervisor is not None:
            self._supervisor.join(timeout)
            if self._supervisor.is_alive():
                log.error("the session's threads did not stop within %.1f s", timeout)
        self._pending.close()
        if self._state is not State.FAILED:
            self._set_state(State.STOPPED)

    def __enter__(self) -> Session:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until a connection is configured (True) or the session failed, stopped or timed out (False)."""
        def settled() -> bool:
            link = self._link
            return (link is not None and link.configured.is_set() and not link.ended.is_set()) or \
                self._state in (State.FAILED, State.STOPPED)

        self._wait_until(settled, timeout)
        link = self._link
        return link is not None and link.configured.is_set() and not link.ended.is_set() and \
            self._state not in (State.FAILED, State.STOPPED)

    def wait_state(self, *states: State | str, timeout: float | None = 10.0) -> bool:
        """Wait until the state is one of `states` (for scripts and tests)."""
        wanted = {State(s) for s in states}
        return self._wait_until(lambda: self._state in wanted, timeout)

    def _wait_until(self, done: Callable[[], bool], timeout: float | None) -> bool:
        """Wait until `done()`, woken by each state change (a configured link changes it too): no polling."""
        changed = threading.Event()
        unsubscribe = self.subscribe({"state"}, lambda *_: changed.set())
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while not done():
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                changed.wait(remaining)
                changed.clear()  # done() reads the state as it is now: a change lost here is seen there
            return True
        finally:
            unsubscribe()

    @property
    def alive(self) -> bool:
        """The supervisor runs (or stop() ended it on purpose): False when it died of a bug."""
        supervisor = self._supervisor
        return supervisor is None or supervisor.is_alive() or self._stopping.is_set()

    @property
    def state(self) -> State:
        return self._state

    def subscribe(self, topics: Iterable[str] | None, callback: Callback) -> Callable[[], None]:
        """Hear the events of `topics` (None: all) until the returned function is called (subscribers.py)."""
        return self.subscribers.subscribe(topics, callback)

    @property
    def on_event(self) -> Callback | None:
        """The owner's observer of every topic: one slot, a subscription like any other (assigning replaces it,
        never chains)."""
        return None if self._owner_event is None else self._owner_event[0]

    @on_event.setter
    def on_event(self, callback: Callback | None) -> None:
        self._owner_event = self._replace_slot(self._owner_event, callback, None, callback)

    @property
    def on_audio(self) -> Callable[[bytes, str | None], None] | None:
        """The owner's listener of the reply's audio, `(pcm, item_id)`: the `audio.output` topic."""
        return None if self._owner_audio is None else self._owner_audio[0]

    @on_audio.setter
    def on_audio(self, listener: Callable[[bytes, str | None], None] | None) -> None:
        self._owner_audio = self._replace_slot(self._owner_audio, listener, {"audio.output"},
                                               None if listener is None else
                                               lambda _, d: listener(d["pcm"], d["item_id"]))

    def _replace_slot(self, slot: tuple[Any, Callable[[], None]] | None, value: Any, topics: set[str] | None,
                      callback: Callback | None) -> tuple[Any, Callable[[], None]] | None:
        if slot is not None:
            slot[1]()
        return None if value is None or callback is None else (value, self.subscribe(topics, callback))

    @property
    def responding(self) -> bool:
        """A response is asked for, queued or in progress."""
        return self._responses.pending

    @property
    def turn_open(self) -> bool:
        """A push-to-talk turn is open (turn_start, not yet turn_end or turn_cancel)."""
        return self._turn_open

    # ================================================================================================ supervisor
    def _supervise(self) -> None:
        attempt = 0  # connections in a row that failed or died young: the retry budget
        number = 0
        renewed = False  # the last link ended in a planned renewal
        try:
            while not self._stopping.is_set():
                number += 1
                link = self._connect(number)
                if link is not None:
                    link.carry_audio = renewed
                renewed = False
                if link is None:
                    if self._stopping.is_set():
                        break
                    if self.error is not None and self.error.fatal:
                        return self._fail(self.error)
                    attempt += 1
                else:
                    self._run_link(link)
                    if self._stopping.is_set():
                        break
                    error = link.error
                    if error is not None and error.fatal:
                        return self._fail(error)
                    # A planned renewal comes only after renew_after_s: the link lived. An expiry counts as one only
                    # when the link was stable: a server expiring every session young would otherwise be
                    # reconnected to forever, with no backoff (a reconnect storm).
                    lived = link.reason == "renew" or (link.reason == "expired"
                                                       and link.age >= self.config.stable_after_s)
                    if lived and link.configured.is_set():
                        self.stats.renewals += 1
                        renewed = link.reason == "renew"
                        attempt = 0
                        log.info("renewing the session (%s after %.0f s)", link.reason, link.age)
                        continue  # a new session at once: nothing is wrong
                    self.error = error or SessionError(f"the connection ended ({link.reason})", code=link.reason)
                    # A connection that was configured and lived a while earns a fresh budget; one that failed
                    # again at once does not (a peer's reconnect storm came from resetting here).
                    stable = link.configured.is_set() and link.age >= self.config.stable_after_s
                    attempt = 1 if stable else attempt + 1
                limit = self.config.reconnect_attempts
                if limit is not None and attempt > limit:
                    return self._fail(SessionError(f"gave up after {limit} failed connection attempts in a row; "
                                                   f"last error: {self.error}", code="retries_exhausted",
                                                   fatal=True))
                self._set_state(State.RECONNECTING)
                self.stats.reconnects += 1
                delay = self._backoff(attempt)
                log.warning("connection %s: %s; reconnecting in %.1f s (attempt %d)",
                            "failed" if link is None else "ended", self.error, delay, attempt)
                self._emit("error", {"code": self.error.code if self.error else None,
                                     "message": str(self.error), "fatal": False, "retry_in_s": round(delay, 2)})
                if self._stopping.wait(delay):
                    break
        except BaseException as e:  # a bug: say so loudly and leave the session failed, never half alive
            log.exception("the session supervisor crashed")
            self._fail(SessionError(f"internal error: {type(e).__name__}: {e}", code="internal_error", fatal=True))
            raise

    def _backoff(self, attempt: int) -> float:
        """Capped exponential backoff with full jitter (between half and all of the capped delay)."""
        cap = min(self.config.reconnect_max_s, self.config.reconnect_initial_s * 2 ** max(0, attempt - 1))
        return cap * random.uniform(0.5, 1.0)

    def _connect(self, number: int) -> Link | None:
        self._set_state(State.CONNECTING if number == 1 else State.RECONNECTING)
        cfg = self.config
        try:
            key = resolve_key(cfg.api_key, cfg.token_url, cfg.model, cfg.dialect, cfg.connect_timeout_s)
            self._key = key
            endpoint = rp.Endpoint(model=cfg.model, dialect=cfg.dialect, api_key=key, base_url=cfg.base_url)
            connection = Connection(endpoint, cfg.connect_timeout_s, send_stall_s=cfg.ping_timeout_s)
            self._connecting = connection
            if self._stopping.is_set():  # stop() came before it could see this connection
                return None
            connection.open()
        except SessionError as e:
            self.error = SessionError(self._scrub(str(e)), code=e.code, fatal=e.fatal)
            if e.fatal:
                log.error("cannot connect: %s", self.error)
            return None
        finally:
            self._connecting = None
        log.info("connected to %s (%s dialect, model %s)", cfg.base_url, cfg.dialect, cfg.model)
        return Link(connection, cfg.dialect, number)

    def _run_link(self, link: Link) -> None:
        """Run one connection until it ends; tick the timers meanwhile; then close it and join its threads."""
        self._reset_conversation_state()
        self._link = link
        self.uplink.attach(link)  # before the receive thread can configure it
        threads = [threading.Thread(target=self._guard, args=(receive_loop, link), name="rtaudiod-recv", daemon=True),
                   threading.Thread(target=self._guard, args=(Session._uplink_loop, link), name="rtaudiod-uplink",
                                    daemon=True)]
        for t in threads:
            t.start()
        if self._stopping.is_set():
            link.end("stop")
        while not link.ended.wait(0.05):
            self._tick(link)
        conn = link.connection
        if link.reason in ("stop", "renew"):  # a polite close: the receive thread sees the answer or gives up
            try:
                conn.send_close(1000, "client going away" if link.reason == "stop" else "renewing session")
            except SessionError:
                pass
            threads[0].join(1.0)
        conn.abort()
        for t in threads:
            t.join(5.0)
            if t.is_alive():
                log.error("thread %s did not end after its connection closed", t.name)
        conn.shutdown()
        if conn.close_code in FATAL_CLOSE and (link.error is None or not link.error.fatal):
            link.error = SessionError(f"the server closed the connection with {conn.close_code} "
                                      f"({FATAL_CLOSE[conn.close_code]}): {self._scrub(conn.close_reason)}",
                                      code=f"close_{conn.close_code}", fatal=True, close_code=conn.close_code)
        self._finish_open_turn()
        self._link = None
        log.info("connection ended: %s%s", link.reason, f" ({link.error})" if link.error else "")

    def _guard(self, loop: Callable[[Session, Link], None], link: Link) -> None:
        """Run a per-connection loop; a bug in it (not a connection problem) fails the session instead of leaving
        it half alive."""
        try:
            loop(self, link)
        except BaseException as e:
            log.exception("%s crashed", threading.current_thread().name)
            link.end("fatal", SessionError(f"internal error in {threading.current_thread().name}: "
                                           f"{type(e).__name__}: {e}", code="internal_error", fatal=True))
            raise

    def _tick(self, link: Link) -> None:
        now = time.monotonic()
        self._pending.sweep(now)
        self._update_state()
        while self._playout_pending:
            item, since = self._playout_pending[0]
            ms = self.audio.start_latency_ms(item)
            if ms is None and now - since < 30:
                break
            self._playout_pending.popleft()
            if ms is not None:
                self.stats.playout_latency.add(ms)
        if self._stopping.is_set():
            link.end("stop")
        elif not link.configured.is_set() and link.age > self.config.connect_timeout_s:
            link.end("stalled", SessionError(f"no session.created/updated within {self.config.connect_timeout_s:g} s",
                                             code="no_session"))
        elif link.age >= self.config.renew_after_s and self._quiet():
            link.end("renew")

    def _quiet(self) -> bool:
        """A moment to renew: nothing said, nothing playing, nothing pending."""
        with self._lock:
            return (self._state is State.READY and not self._responses.pending
                    and not self._turn_open and not self._user_speaking
                    and self._pending.outstanding() == 0)

    def _fail(self, error: SessionError) -> None:
        self.error = error
        log.error("session failed: %s", error)
        self._emit("error", {"code": error.code, "message": str(error), "fatal": True})
        self._set_state(State.FAILED)

    def _reset_conversation_state(self) -> None:
        """A new connection is a new conversation on the server: nothing of the old one is active there."""
        with self._lock:
            self._responses.reset()
            self._user_speaking = False
            self._awaiting_reply_since = None
            self._settings_event_ids.clear()
            self._vad_off_id = None  # a new connection is configured with the configured turn detection
        self.audio.flush()  # the old session's reply cannot be truncated any more: stop it

    # ================================================================================================ state
    def _set_state(self, new: State) -> None:
        """The one place the state changes. Never called with `_lock` held (subscribers may take it). The `state`
        event goes out under the state lock, so subscribers see the changes in the order they were made."""
        with self._state_lock:
            old = self._state
            if new is old or old is State.FAILED or (old is State.STOPPED and self._stopping.is_set()):
                return  # both are final: a supervisor still winding down after stop() changes nothing
            self._state = new
            self._emit("state", {"state": new.value, "previous": old.value})

    def _update_state(self) -> None:
        """Derive the conversation state from the turn flags and the speaker (called after every change)."""
        link = self._link
        if self._state in (State.FAILED, State.STOPPED) or link is None or not link.configured.is_set():
            return
        with self._lock:
            if self._user_speaking or self._turn_open:
                state = State.LISTENING
            elif self.audio.is_playing:
                state = State.SPEAKING
            elif (self._responses.pending or self._awaiting_reply_since is not None
                  or self._pending.outstanding()):
                state = State.THINKING
            else:
                state = State.READY
        self._set_state(state)

    # ================================================================================================ sending
    def _send(self, event: rp.ClientEvent, link: Link | None = None) -> None:
        link = link or self._link
        if link is None or link.ended.is_set():
            raise SessionError("not connected to the Realtime service", code="not_connected")
        try:
            link.connection.send_event(link.codec.encode(event))
        except SessionError as e:
            link.end("lost", e)
            raise
        self.stats.events_sent += 1

    def _new_id(self, what: str) -> str:
        return f"rtad_{what}_{next(self._ids)}"

    def _configured_link(self) -> Link:
        link = self._link
        if link is None or not link.configured.is_set() or link.ended.is_set():
            raise SessionError("not connected to the Realtime service", code="not_connected")
        return link

    # ================================================================================================ commands
    def send_text(self, text: str, respond: bool = True) -> None:
        """A user text message; then a response unless `respond` is False (queued behind a reply in progress:
        a text does not interrupt; `cancel_response()` first to do that)."""
        if not text:
            raise ValueError("text must not be empty")
        with self._lock:
            link = self._configured_link()
            self._send(rp.user_text(text, event_id=self._new_id("text")), link)
            self.history.add("user", text)
            if respond:
                self._awaiting_reply_since = time.monotonic()
                self._request_response(None)
        self._update_state()

    def create_response(self, instructions: str | None = None) -> None:
        """Ask for a response; queued while one is active (the service refuses a second)."""
        params = rp.ResponseParams(instructions=instructions) if instructions else None
        with self._lock:
            self._configured_link()
            self._request_response(params)
        self._update_state()

    def _request_response(self, params: rp.ResponseParams | None) -> None:
        """create_response with the lock held. The state is not updated here: a state change takes the state lock,
        under which listeners run, and a listener may take this lock (status()): always the state lock alone."""
        if self._responses.ask(params):
            self._send_response_create(params)
        else:
            self.stats.responses_queued += 1

    def _send_response_create(self, params: rp.ResponseParams | None) -> None:
        event_id = self._new_id("response")
        self._responses.sent(event_id)
        try:
            self._send(rp.response_create(params, event_id=event_id))
        except SessionError:
            self._responses.send_failed()
            raise

    def cancel_response(self, reason: str = "cancel") -> bool:
        """Stop the reply: silence the speaker, cancel the response, truncate what was not heard. False when
        nothing was playing or active. `reason` goes into the `response` event (`interrupted`). While the link is
        down it still silences the speaker: what was buffered before the drop is exactly what a user stops."""
        with self._lock:
            self._responses.drop_queue()
            done = self._barge_in(reason)
        self._update_state()
        return done

    def stop_playback(self) -> None:
        """Silence the speaker now and truncate what was not heard (the response, if any, goes on generating
        into the void: use cancel_response to stop it too)."""
        with self._lock:
            self._barge_in("stop_playback", cancel=False)
        self._update_state()

    def turn_start(self) -> None:
        """Open a push-to-talk turn (in any turn-detection mode): interrupt the reply if one plays, clear the
        server's input buffer, open the microphone path (and the half-duplex gate)."""
        with self._lock:
            link = self._configured_link()
            self._barge_in("turn_start")
            self._responses.drop_queue()  # replies asked for before the user's new turn would play over it
            self._pause_vad(link)
            self._send(rp.input_audio_clear(event_id=self._new_id("clear")), link)
            self._user_speaking = False  # the pushed turn takes the input over: a VAD turn in progress ends here
            self.uplink.start_turn()
            self._turn_open = True  # the uplink sends from its next frame on
            if self.audio.half_duplex:  # the speaker was just flushed: do not wait for its tail to die away
                self._half_duplex_before_turn = True
                self.audio.half_duplex = False
        self._emit("vad", {"event": "turn_started"})
        self._update_state()

    def turn_end(self, respond: bool = True, timeout: float = 2.0) -> bool:
        """End the push-to-talk turn: the uplink sends what was captured up to now, then commits it and asks for a
        response (unless `respond` is False). A turn with less than `min_commit_ms` of audio is not committed (the
        service refuses it): its buffer is cleared and False is returned."""
        with self._lock:
            self._configured_link()
            if not self._turn_open:
                raise SessionError("no turn is open (turn_start first)", code="no_turn")
            request = self.uplink.request_turn_end(respond)
        if not request.done.wait(timeout):
            raise SessionError("the uplink did not finish the turn in time", code="turn_timeout")
        self._update_state()
        return request.committed

    def turn_cancel(self) -> None:
        """Drop the open turn: nothing is committed."""
        with self._lock:
            link = self._configured_link()
            if not self._turn_open:
                raise SessionError("no turn is open (turn_start first)", code="no_turn")
            self._close_turn()
            self._send(rp.input_audio_clear(event_id=self._new_id("clear")), link)
            self._resume_vad(link)
        self._update_state()

    def update_settings(self, **changes: Any) -> None:
        """Change the conversation's settings live (`LIVE_SETTINGS`: instructions, voice, turn_detection, tools,
        ...; a nested setting is replaced whole). Validated here first; if the service refuses them, the previous
        settings stay (it drops a refused update whole) and an `error` event says why."""
        import msgspec

        current = msgspec.structs.asdict(self.config)
        for key in changes:
            if key not in LIVE_SETTINGS:
                raise ValueError(f"{key!r} cannot change live (only {', '.join(LIVE_SETTINGS)})"
                                 if key in current else f"unknown setting {key!r}")
        merged = {**msgspec.to_builtins(current), **msgspec.to_builtins(changes)}
        try:
            new = msgspec.convert(merged, RealtimeConfig)
        except msgspec.ValidationError as e:
            raise ValueError(f"invalid settings: {e}") from None
        with self._lock:
            link = self._configured_link()
            previous, self.config = self.config, new
            event_id = self._new_id("settings")
            self._settings_event_ids[event_id] = previous
            while len(self._settings_event_ids) > 8:  # accepted updates get no answer naming them: forget old ones
                self._settings_event_ids.pop(next(iter(self._settings_event_ids)))
            try:
                self._send(rp.session_update(self._settings(), event_id=event_id), link)
            except SessionError:
                self.config = previous
                raise

    def inject_audio(self, pcm: bytes) -> int:
        """Send `pcm` (PCM16 mono at the session rate) up as if the microphone had heard it, in real time frames;
        while it lasts, and for `INJECT_HOLD_S` after the last call (a stream injected in pieces), the microphone's
        own frames are skipped. Returns the bytes queued (short: more than 10 s already waiting, the rest dropped).
        The push-to-talk gate applies as to the microphone."""
        return self.uplink.inject(pcm)

    def register_tool(self, name: str, handler: ToolHandler, description: str | None = None,
                      parameters: dict[str, Any] | None = None) -> None:
        """Serve a function the model may call. Announced at once when connected, and after every reconnect."""
        self.tools.register(name, handler, description, parameters)
        self._announce_tools()

    def unregister_tool(self, name: str) -> bool:
        removed = self.tools.unregister(name)
        if removed:
            self._announce_tools()
        return removed

    def tool_result(self, call_id: str, output: str) -> bool:
        """Answer a call whose handler returned None. False when the call is unknown or already answered."""
        answered = self._pending.resolve(call_id, output)
        if not answered:
            self.stats.late_tool_results += 1
        return answered

    def _announce_tools(self) -> None:
        link = self._link
        # Once the connection's settings went out (on session.created, before it is configured at session.updated)
        # they no longer carry a change of the tools: announce it. Before that, they will carry it.
        if link is None or link.settings_event_id is None or link.ended.is_set():
            return
        try:
            self._send(rp.session_update(rp.SessionConfig(tools=self._all_tools()),
                                         event_id=self._new_id("tools")), link)
        except SessionError as e:
            log.warning("could not announce the tools: %s", e)

    def _all_tools(self) -> list[rp.Tool]:
        registered = self.tools.tools()
        names = {t.name for t in registered}
        return registered + [t.to_protocol() for t in self.config.tools if t.name not in names]

    def _settings(self) -> rp.SessionConfig:
        settings = self.config.session_settings()
        settings.tools = self._all_tools()
        if self._vad_off_id is not None:  # a settings change within a pushed turn must not turn the VAD back on
            settings.turn_detection = None
        return settings

    # ================================================================================================ push-to-talk
    def _pause_vad(self, link: Link) -> None:
        """A pushed turn owns the input buffer (lock held): the service's VAD, if configured, is switched off until
        the turn is committed or dropped, so it neither commits part of the turn on a pause nor leaves a
        `speech_started` without its `speech_stopped` when the commit takes the buffer. The update names only
        `turn_detection`: a refused session.update is dropped whole, and nothing else may ride on it."""
        if self.config.push_to_talk or self._vad_off_id is not None:
            return
        self._vad_off_id = self._new_id("vad_off")
        self._send(rp.session_update(rp.SessionConfig(turn_detection=None), event_id=self._vad_off_id), link)

    def _resume_vad(self, link: Link) -> None:
        """The pushed turn is over (lock held): the service runs the configured turn detection again, from the
        audio after the turn on."""
        if self._vad_off_id is None:
            return
        self._vad_off_id = None
        if not self.config.push_to_talk:  # a settings change within the turn may have turned it off for good
            self._send(rp.session_update(rp.SessionConfig(turn_detection=self.config.turn_detection.to_protocol()),
                                         event_id=self._new_id("vad_on")), link)

    # ================================================================================================ barge-in
    def _barge_in(self, reason: str, cancel: bool = True, service_cancels: bool = False,
                  heard: tuple[bool, str | None] | None = None) -> bool:
        """Interrupt the reply (lock held): silence the speaker, cancel the active response, and cut the items the
        user did not hear: truncate at what was played, or delete an item nothing of which was played.
        `service_cancels`: the service cancels the active response itself (server VAD's interrupt_response), so
        no response.cancel goes out for it. `heard`: the speaker was flushed already, and (playing, item) is what
        it was doing just before."""
        playing, item = heard if heard is not None else (self.audio.is_playing, self.audio.delta_item_id)
        responses = self._responses
        active = responses.active
        requested = responses.requested if cancel else None  # asked for, not yet created (~0.3 s)
        if not playing and active is None and requested is None:
            return False
        link = self._link
        if heard is None:
            self.audio.flush()
        to_fix: list[str] = []
        if item is not None and (playing or item in responses.items):
            to_fix.append(item)
        if active is not None:
            self.audio.drop_response(active)
            to_fix += [i for i in responses.items if i not in to_fix]
            if cancel and not service_cancels:
                try:
                    self._send(rp.response_cancel(event_id=self._new_id("cancel")), link)
                except SessionError:
                    return True
        elif requested is not None:
            # The service has it already (it takes events in order) and cancels it before any output; should
            # audio come anyway, it is dropped: response.created names it.
            responses.cancel_request()
            try:
                self._send(rp.response_cancel(event_id=self._new_id("cancel")), link)
            except SessionError:
                return True
        for item_id in to_fix:
            point = self.audio.truncate_point(item_id)
            received = self.audio.received_ms(item_id)
            try:
                if point is None:
                    self._send(rp.item_delete(item_id, event_id=self._new_id("delete")), link)
                    self.history.cut(item_id, 0.0)
                else:
                    self._send(rp.item_truncate(item_id, 0, point, event_id=self._new_id("truncate")), link)
                    self.history.cut(item_id, point / received if received else 1.0)
            except SessionError:
                break
        self.stats.barge_ins += 1
        self._emit("response", {"event": "interrupted", "reason": reason, "response_id": active,
                                "items": to_fix})
        return True

    # ================================================================================================ uplink side
    def _uplink_loop(self, link: Link) -> None:
        """The uplink thread: the gate's loop over this link; a failed send ends the link."""
        sender = FrameSender(self.stats, self.config.audio_format, self.frame_bytes, self.audio.capture_ring,
                             link.connection.send_frame, self.uplink.count_sent)
        try:
            self.uplink.run(link, sender, lambda request, ms: self._commit_turn(link, request, ms))
        except SessionError as e:
            link.end("lost", e)

    def _commit_turn(self, link: Link, request: TurnEnd, ms: int) -> bool:
        """Uplink thread, once the turn's audio went up: commit it (or clear a too-short turn); the turn closes
        either way."""
        try:
            with self._lock:
                if ms < self.config.min_commit_ms:
                    self.stats.commits_skipped += 1
                    self._send(rp.input_audio_clear(event_id=self._new_id("clear")), link)
                    self._resume_vad(link)
                    self._emit("error", {"code": "turn_too_short", "fatal": False,
                                         "message": f"the turn held {ms} ms of audio; the service needs at least "
                                                    f"{self.config.min_commit_ms} ms: not committed"})
                    return False
                self._send(rp.input_audio_commit(event_id=self._new_id("commit")), link)
                self._resume_vad(link)
                self._awaiting_reply_since = time.monotonic()
                if request.respond:
                    self._request_response(None)
                return True
        finally:
            with self._lock:
                self._close_turn()

    def _close_turn(self) -> None:
        self._turn_open = False
        if self._half_duplex_before_turn:
            self.audio.half_duplex = True
        self._half_duplex_before_turn = None

    def _finish_open_turn(self) -> None:
        """The connection ended: a turn_end waiting for the uplink gets its answer (nothing was committed)."""
        with self._lock:
            self._close_turn()
        self.uplink.cancel_turn_end()

    # ================================================================================================ receiving
    def _on_frame(self, link: Link, frame: bytes) -> None:
        """Receive thread: one server message. Audio deltas take the fast path into the playout ring; everything
        else is decoded and handled. A broken frame is logged and counted; the session goes on."""
        self.stats.events_received += 1
        try:
            written = self.audio.write_delta(frame)
        except RtaudiodError as e:
            self._emit_raw(frame)
            return self._skip_bad("a broken audio delta", e)
        if written is not None:
            self._emit("raw", {"frame": frame})  # base64 and the service's ids: nothing key-like, nothing to scan
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
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(link, event)
        elif type(event) is rp.UnknownEvent:
            self.stats.unknown_events[event.type] += 1
            if self.stats.unknown_events[event.type] == 1:
                log.info("ignoring server events of an unknown type: %s", event.type)

    def _emit_raw(self, frame: bytes) -> None:
        """The `raw` event of a frame that is not an audio delta, scrubbed like every message: the service quotes
        the ends of a refused key in its error ("sk-****abcd")."""
        if not self.subscribers.wants("raw"):
            return
        if _KEYISH_BYTES.search(frame) is not None or (self._key and self._key.encode() in frame):
            frame = self._scrub(frame.decode("utf-8", "replace")).encode()
        self._emit("raw", {"frame": frame})

    def _skip_bad(self, what: str, error: RtaudiodError) -> None:
        self.stats.bad_events += 1
        message = self._scrub(str(error))
        now = time.monotonic()
        if now - self._bad_logged_at >= BAD_EVENT_LOG_INTERVAL_S:
            more = f" ({self._bad_unlogged} more skipped since the last warning)" if self._bad_unlogged else ""
            log.warning("skipped %s: %s%s", what, message, more)
            self._bad_logged_at, self._bad_unlogged = now, 0
        else:
            self._bad_unlogged += 1
        self._emit("error", {"code": "bad_event", "message": message, "fatal": False})

    def _tap_audio(self, frame: bytes) -> None:
        pcm = decode_audio_delta(frame)
        if pcm is not None and self._to_pcm16 is not None:
            pcm = self._to_pcm16(pcm)
        if pcm:
            self._emit("audio.output", {"pcm": pcm, "item_id": self.audio.delta_item_id})

    def _on_audio_written(self, nbytes: int) -> None:
        self.stats.audio_deltas += 1
        self.stats.audio_bytes_received += nbytes
        item = self.audio.delta_item_id
        if item != self._last_delta_item:  # the first audio of a new item
            self._last_delta_item = item
            now = time.monotonic()
            since = self._awaiting_reply_since
            if since is not None:
                self.stats.reply_latency.add((now - since) * 1000)
                self._awaiting_reply_since = None
            if item is not None:
                self._playout_pending.append((item, now))
            self._update_state()

    # -- session --------------------------------------------------------------------------------------------
    def _on_session_created(self, link: Link, event: rp.SessionCreated) -> None:
        link.session_id = event.session.id if isinstance(event.session.id, str) else None
        link.settings_event_id = self._new_id("settings")
        try:
            self._send(rp.session_update(self._settings(), event_id=link.settings_event_id), link)
        except SessionError:
            return

    def _on_session_updated(self, link: Link, event: rp.SessionUpdated) -> None:
        if link.configured.is_set() or link.settings_event_id is None:
            return
        try:  # the conversation so far, into the new session, before any new audio
            for item in self.history.replay_events():
                self._send(item, link)
        except SessionError:
            return
        link.configured.set()
        log.info("session %s ready%s", link.session_id or "(no id)",
                 f" ({len(self.history.turns())} turns carried over)" if link.number > 1 else "")
        self._update_state()

    def _on_error(self, link: Link, event: rp.ErrorEvent) -> None:
        info = event.error
        code = info.code if isinstance(info.code, str) else (info.type if isinstance(info.type, str) else "error")
        message = self._scrub(info.message if isinstance(info.message, str) else "")
        caused_by = info.event_id if isinstance(info.event_id, str) else None
        self.stats.server_errors[code] += 1
        fatal_hint = FATAL_CODES.get(code)
        if code == "session_expired":
            link.expired = True  # the close (1001) follows: renew at once
            log.info("the service ended the session: %s", message)
        elif fatal_hint is not None:
            error = SessionError(f"{fatal_hint} ({code}: {message})", code=code, fatal=True)
            link.end("fatal", error)
        elif caused_by is not None and caused_by == link.settings_event_id and not link.configured.is_set():
            # A refused session.update is dropped whole: running on would lose instructions and tools silently.
            param = f" (param {info.param})" if isinstance(info.param, str) else ""
            link.end("fatal", SessionError(f"the service refused the session settings{param}: {message} ({code})",
                                           code=code, fatal=True))
        elif caused_by in self._settings_event_ids:
            self.config = self._settings_event_ids.pop(caused_by)
            log.warning("the service refused a settings change, the previous settings stay: %s (%s)", message, code)
        elif caused_by is not None and (caused_by == self._responses.requested or (
                code == "conversation_already_has_active_response" and caused_by.startswith("rtad_response"))):
            # The second case: a response the service started itself (server VAD) was created between our request
            # and its refusal, and its response.created already cleared the request.
            with self._lock:
                self._responses.refused(caused_by, code)
            log.info("response.create refused: %s (%s)", message, code)
        elif caused_by is not None and caused_by.startswith(("rtad_vad_off", "rtad_vad_on")):
            if caused_by == self._vad_off_id:  # the turn goes on with the VAD on; its events still change nothing
                self._vad_off_id = None
            log.warning("the service refused to switch its turn detection %s for a push-to-talk turn: %s (%s)",
                        "off" if "off" in caused_by else "back on", message, code)
        elif code in ("response_cancel_not_active",) or (caused_by or "").startswith(("rtad_truncate", "rtad_delete",
                                                                                       "rtad_cancel")):
            log.info("barge-in clean-up refused (harmless): %s (%s)", message, code)
        else:
            log.warning("service error: %s (%s)", message, code)
        self._emit("error", {"code": code, "message": message, "fatal": fatal_hint is not None,
                             "event_id": caused_by})
        self._update_state()

    # -- input audio ----------------------------------------------------------------------------------------
    def _on_speech_started(self, link: Link, event: rp.SpeechStarted) -> None:
        # interrupt_response (the default): the service cancels its active response itself; the speaker is ours to
        # silence and the unheard part ours to cut. A response asked for but not created yet may not have reached
        # the service before the speech did: that one is still cancelled here. Off: the reply plays on.
        interrupt = self.config.turn_detection.interrupt_response is not False
        # Within a pushed turn the VAD is off (or being turned off): one it sent before it heard the update is
        # reported, and changes nothing: the turn already interrupted the reply and owns the input.
        pushed = self._turn_open or self._vad_off_id is not None
        heard = None
        if interrupt and not pushed:
            # The speaker first, before the lock: a command holding it may wait on a stalled socket for seconds.
            # No delta is written meanwhile (this is the receive thread), and the engine's flush drops the rest of
            # the response that was playing.
            heard = (self.audio.is_playing, self.audio.delta_item_id)
            self.audio.flush()
        with self._lock:
            self._user_speaking = not pushed
            if heard is not None:
                self._barge_in("speech", service_cancels=True, heard=heard)
                self._responses.drop_queue()  # replies asked for before the user spoke again would play over it
        self._emit("vad", {"event": "speech_started", "audio_ms": event.audio_start_ms, "item_id": event.item_id})
        self._update_state()

    def _on_speech_stopped(self, link: Link, event: rp.SpeechStopped) -> None:
        with self._lock:
            self._user_speaking = False
            if not (self._turn_open or self._vad_off_id is not None):  # see _on_speech_started
                self._awaiting_reply_since = time.monotonic()
        self._emit("vad", {"event": "speech_stopped", "audio_ms": event.audio_end_ms, "item_id": event.item_id})
        self._update_state()

    def _on_timeout_triggered(self, link: Link, event: rp.InputAudioBufferTimeoutTriggered) -> None:
        self._emit("vad", {"event": "timeout", "audio_ms": event.audio_end_ms, "item_id": event.item_id})

    def _on_committed(self, link: Link, event: rp.InputAudioBufferCommitted) -> None:
        self.history.reserve(event.item_id, "user")

    def _on_user_transcript_delta(self, link: Link, event: rp.InputAudioTranscriptionDelta) -> None:
        if isinstance(event.delta, str) and event.delta:
            self._emit("transcript.user", {"item_id": event.item_id, "delta": event.delta, "final": False})

    def _on_user_transcript_done(self, link: Link, event: rp.InputAudioTranscriptionCompleted) -> None:
        self.history.add("user", event.transcript, key=event.item_id)
        self._emit("transcript.user", {"item_id": event.item_id, "text": event.transcript, "final": True})

    def _on_user_transcript_failed(self, link: Link, event: rp.InputAudioTranscriptionFailed) -> None:
        self._emit("error", {"code": "transcription_failed", "fatal": False, "item_id": event.item_id,
                             "message": self._scrub(str(event.error.message or ""))})

    # -- responses ------------------------------------------------------------------------------------------
    def _on_response_created(self, link: Link, event: rp.ResponseCreated) -> None:
        with self._lock:
            response_id = event.response.id if isinstance(event.response.id, str) else None
            # The service's own reply to a VAD turn it committed just before the pushed turn turned its VAD off:
            # the user has pressed the button since, and hears the pushed turn's reply, not this one.
            unasked_in_turn = self._turn_open and self._responses.requested is None
            if self._responses.created(response_id):
                self.audio.drop_response(response_id)
            if unasked_in_turn:
                self._barge_in("turn_start")
        self._emit("response", {"event": "created", "response_id": response_id})
        self._update_state()

    def _on_output_item_added(self, link: Link, event: rp.ResponseOutputItemAdded) -> None:
        item = event.item
        if not isinstance(item.id, str):
            return
        if item.type == "function_call" and isinstance(item.name, str):
            self._responses.function_names[item.id] = item.name
        elif item.type == "message":
            with self._lock:
                self._responses.item_added(event.response_id, item.id)
            self.history.reserve(item.id, "assistant")

    def _on_assistant_delta(self, link: Link, event: rp.ResponseAudioTranscriptDelta) -> None:
        self._emit("transcript.assistant", {"item_id": event.item_id, "response_id": event.response_id,
                                            "delta": event.delta, "final": False})

    def _on_assistant_done(self, link: Link, event: rp.ResponseAudioTranscriptDone) -> None:
        self.history.add("assistant", event.transcript, key=event.item_id)
        self._emit("transcript.assistant", {"item_id": event.item_id, "response_id": event.response_id,
                                            "text": event.transcript, "final": True})

    def _on_text_delta(self, link: Link, event: rp.ResponseTextDelta) -> None:
        self._emit("text", {"item_id": event.item_id, "response_id": event.response_id, "delta": event.delta,
                            "final": False})

    def _on_text_done(self, link: Link, event: rp.ResponseTextDone) -> None:
        self.history.add("assistant", event.text, key=event.item_id)
        self._emit("text", {"item_id": event.item_id, "response_id": event.response_id, "text": event.text,
                            "final": True})

    def _on_audio_done(self, link: Link, event: rp.ResponseAudioDone) -> None:
        if event.response_id == self.audio.delta_response_id:
            self.audio.end_item()

    def _on_response_done(self, link: Link, event: rp.ResponseDone) -> None:
        response = event.response
        rid = response.id if isinstance(response.id, str) else None
        status = response.status if isinstance(response.status, str) else None
        with self._lock:
            finished = self._responses.finished(rid, status)
            if finished.send:
                try:
                    self._send_response_create(finished.params)
                except SessionError:
                    pass
            if finished.over:
                # The reply is over without audio to end the wait for it (a text reply, one cancelled before its
                # audio, a failed one), and no other is on its way: not "thinking" any more.
                self._awaiting_reply_since = None
        if finished.duplicate:  # a second one: it must not start the next reply again
            self.stats.stray_events += 1
            log.warning("ignored a second response.done for %s", rid)
            return
        self._emit("response", {"event": "done", "response_id": rid, "status": status})
        self._update_state()

    # -- function calls -------------------------------------------------------------------------------------
    def _on_function_call(self, link: Link, event: rp.ResponseFunctionCallArgumentsDone) -> None:
        name = event.name if isinstance(event.name, str) else self._responses.function_names.get(event.item_id, "")
        call = ToolCall(call_id=event.call_id, name=name, arguments=event.arguments, response_id=event.response_id)
        self.stats.tool_calls += 1
        with self._lock:  # counted before the handler runs: its answer may come at once, on another thread
            self._responses.call_started(event.response_id)
        self._emit("function_call", {"call_id": call.call_id, "name": name, "arguments": call.arguments})
        self._pending.start(call, self.tools.handler(name))
        self._update_state()

    def _answer_call(self, call: ToolCall, output: str, ok: bool) -> None:
        """A call's answer (any thread): send its output; once its response is done and the outputs of all its calls
        went out, ask for the next response. The count is of outputs sent, under the lock, so the follow-up can
        never overtake an output (the call leaves the pending set before this runs)."""
        if not ok:
            self.stats.tool_errors += 1
        with self._lock:
            try:
                self._send(rp.function_call_output(call.call_id, output, event_id=self._new_id("output")))
            except SessionError as e:
                log.warning("could not send the output of %s: %s", call.name, e)
                return
            if self._responses.output_sent(call.response_id):
                try:
                    if self._responses.ask(None):
                        self._send_response_create(None)
                except SessionError as e:  # the connection died: the supervisor reconnects
                    log.warning("could not ask for the response to the output of %s: %s", call.name, e)
        self._emit("function_call", {"call_id": call.call_id, "name": call.name, "output": output, "ok": ok})

    # ================================================================================================ reporting
    def publish(self, topic: str, data: dict[str, Any]) -> None:
        """Report an event of a part working beside the session (the listener's `wake`, `listen`) to the same
        observers as the session's own."""
        self._emit(topic, data)

    def _emit(self, topic: str, data: dict[str, Any]) -> None:
        self.subscribers.emit(topic, data)

    def _scrub(self, text: str) -> str:
        """A service message without anything that looks like a key (the service quotes parts of a bad key)."""
        if self._key:
            text = text.replace(self._key, "<redacted>")
        return _KEYISH.sub("<redacted>", text)

    def status(self) -> dict[str, Any]:
        """Everything a status report shows, JSON-ready; never the key."""
        link = self._link
        # Read without the session's lock, which a send to a stalled peer may hold for seconds: a status report
        # must answer at once (each field is one atomic read; together they may straddle a change).
        conversation = {"response_id": self._responses.active, "responses_queued": len(self._responses.queue),
                        "turn_open": self._turn_open, "user_speaking": self._user_speaking,
                        "tool_calls_pending": self._pending.outstanding()}
        counters = self.stats.as_dict()
        counters["dropped_deltas"] = self.audio.dropped_deltas  # the engine's count: it outlives every connection
        return {
            "state": self._state.value,
            "connected": link is not None and link.configured.is_set() and not link.ended.is_set(),
            "session_id": link.session_id if link else None,
            "connected_for_s": round(link.age, 1) if link else None,
            "settings": self.config.settings_for_status(),
            "conversation": conversation,
            "tools": self.tools.names(),
            "history_turns": len(self.history.turns()),
            "last_error": None if self.error is None else {"code": self.error.code, "message": str(self.error),
                                                           "fatal": self.error.fatal},
            "counters": counters,
            "unknown_events": counters["unknown_events"],  # also here, where it was first reported
        }

