"""`Session`: one Realtime conversation on one `AudioEngine`, kept alive across drops and the service's 60-minute cap.

Threads, each named for its one job:
  rtaudiod-conversation  the actor (actor.py): owns the conversation's state (conversation.py, events.py) and runs,
                         in order, the server events, the commands, the tool results and the timers. No lock
                         guards that state, and it never waits on the network.
  rtaudiod-session       the supervisor (supervisor.py): connects, runs the three threads below per connection,
                         reconnects with backoff, renews when the actor says so. Fatal errors stop it with a
                         message that says what to change.
  rtaudiod-recv          reads every frame (receiver.py): audio deltas go straight into the playout ring (one C
                         pass), the latency-critical reactions (barge-in's flush, a dropped response) happen there,
                         everything else is decoded and posted to the actor.
  rtaudiod-uplink        capture ring -> socket, one C pass per frame, through the `UplinkGate` (uplink.py).
  rtaudiod-send          the connection's sender (outbox.py): the events the actor posts, in order; the uplink
                         sends every event posted before its next frame first.
  rtaudiod-tool-N        tool handlers, so a slow one never holds the actor.
Commands (`turn_start`, `send_text`, ...) are messages to the actor: the caller waits for the answer (a future), so
the API stays synchronous; nothing it waits for waits on the network.

Observers subscribe: `session.subscribe(topics, callback)` (subscribers.py), any number, in any order; each gets
the events of its topics on the thread that saw them (the actor, or the receive thread for `raw` and
`audio.output`) and must return quickly. The constructor's `on_event(topic, data)` (every topic) and
`on_state(new, old)` are subscriptions too.
"""

from __future__ import annotations

import enum
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from rtaudiod import protocol as rp
from rtaudiod.audio import AudioEngine
from rtaudiod.errors import SessionError

from .actor import Actor
from .config import LIVE_SETTINGS, RealtimeConfig
from .conversation import Conversation
from .events import FATAL_CODES, scrub
from .history import History
from .images import image_data_url
from .link import Link
from .mcp import McpMonitor
from .receiver import Receiver
from .stats import SessionStats
from .subscribers import Callback, Subscribers
from .supervisor import Supervisor
from .tools import PendingCalls, ToolHandler, ToolRegistry
from .uplink import UplinkGate

__all__ = ["FATAL_CODES", "Session", "State"]

log = logging.getLogger("rtaudiod.session")
T = TypeVar("T")
#: The GIL switch interval the Python device callbacks need (measured: 5 ms underflowed the output under CPU load).
#: The C callbacks never take the GIL: with them the 5 ms default stays (fewer GIL hand-offs).
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
        self.audio = audio
        self.subscribers = Subscribers()
        self._owner_event: tuple[Any, Callable[[], None]] | None = None  # the `on_event` slot
        self._owner_audio: tuple[Any, Callable[[], None]] | None = None  # the `on_audio` slot
        self.on_event = on_event
        if on_state is not None:
            self.subscribe({"state"}, lambda _, d: on_state(State(d["state"]), State(d["previous"])))
        self.stats = SessionStats()
        self.tools = ToolRegistry()
        self.history = History(config.history_turns)
        self.frame_bytes = audio.config.session_rate * audio.config.mode.capture_ms // 1000 * 2
        self.error: SessionError | None = None  # why the session failed (or the last connection ended)
        self.key: str | None = None  # the key of the current connection, only to scrub it from messages
        self.secrets: tuple[str, ...] = ()  # the MCP servers' secrets last sent, scrubbed like the key
        self._state = State.STOPPED
        self.stopping = threading.Event()
        self.link: Link | None = None  # the current connection (for status and stop)
        self.actor = Actor()
        # What goes up, and when: the inject ring, the pre-roll, the listening gate (rtaudiod.listen sets
        # `uplink.gate`) and the turn-end flush.
        self.uplink = UplinkGate(audio, self.stats, self.frame_bytes, self._in_turn,
                                 lambda: self.config.push_to_talk)
        self.pending = PendingCalls(lambda call, output, ok: self.actor.post(
            self.step, self.conversation.answer_call, call, output, ok), config.tool_timeout_s)
        self.conversation = Conversation(self, config)
        self.receiver = Receiver(self)
        self._supervisor_part = Supervisor(self)
        self._supervisor: threading.Thread | None = None
        self._switch_interval_before: float | None = None  # what start() changed, for stop() to restore
        # A device unplugged or back (the engine's device watch): told as a non-fatal `error` event; the session goes on.
        audio.on_device = lambda kind, lost, message: self.publish("error", {
            "code": f"audio_{kind}_{'lost' if lost else 'back'}", "message": message, "fatal": False})

    def __repr__(self) -> str:
        return f"Session({self.config.base_url!r}, model={self.config.model!r}, state={self._state.value!r})"

    @property
    def config(self) -> RealtimeConfig:
        """The settings in force (a live change the service refuses is rolled back)."""
        return self.conversation.config

    # ================================================================================================ lifecycle
    def start(self) -> Session:
        """Start connecting (in the background). With the Python device callbacks, sets the process's GIL switch
        interval to 1 ms while the session runs, when it is longer: with the 5 ms default, CPU-bound Python threads
        starved those callbacks (measured underflows). The C callbacks never take the GIL: nothing is changed."""
        if self._supervisor is not None:
            return self
        if self.audio.python_callbacks and sys.getswitchinterval() > SWITCH_INTERVAL_S:
            self._switch_interval_before = sys.getswitchinterval()
            sys.setswitchinterval(SWITCH_INTERVAL_S)
        self.actor.start()
        self.set_state(State.CONNECTING)
        self._supervisor = self._supervisor_part.thread
        self._supervisor.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close the connection (1000), stop every thread, and wait up to `timeout` seconds for them. From a
        subscriber's callback (on the actor's thread, or the receive thread for `raw` and `audio.output`) it starts
        the stop and returns at once: the threads it would wait for wait for that thread."""
        self.stopping.set()
        connecting = self._supervisor_part.connecting
        if connecting is not None:  # a handshake waiting on a silent server ends now, not at connect_timeout_s
            connecting.abort()
        link = self.link
        if link is not None:
            link.end("stop")
        if self.actor.on_thread() or self._supervisor_part.on_own_thread():
            threading.Thread(target=self.stop, args=(timeout,), name="rtaudiod-stop", daemon=True).start()
            return
        if self._supervisor is not None:
            self._supervisor.join(timeout)
            if self._supervisor.is_alive():
                log.error("the session's threads did not stop within %.1f s", timeout)
        self.pending.close()
        if self._state is not State.FAILED:
            self.set_state(State.STOPPED)
        self.actor.stop(timeout)
        if self._switch_interval_before is not None:
            sys.setswitchinterval(self._switch_interval_before)
            self._switch_interval_before = None

    def __enter__(self) -> Session:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until a connection is configured (True) or the session failed, stopped or timed out (False)."""
        self._refuse_on_actor("wait_ready")
        def settled() -> bool:
            link = self.link
            return (link is not None and link.configured.is_set() and not link.ended.is_set()) or \
                self._state in (State.FAILED, State.STOPPED)

        self._wait_until(settled, timeout)
        link = self.link
        return link is not None and link.configured.is_set() and not link.ended.is_set() and \
            self._state not in (State.FAILED, State.STOPPED)

    def wait_state(self, *states: State | str, timeout: float | None = 10.0) -> bool:
        """Wait until the state is one of `states` (for scripts and tests)."""
        self._refuse_on_actor("wait_state")
        wanted = {State(s) for s in states}
        return self._wait_until(lambda: self._state in wanted, timeout)

    def _refuse_on_actor(self, command: str) -> None:
        """A command that waits for a later step of the actor cannot run on the actor's thread (a subscriber's
        callback): it would wait for itself until its timeout."""
        if self.actor.on_thread():
            raise SessionError(f"{command}() waits for the conversation's thread, and was called on it (from a "
                               "subscriber's callback): call it from another thread", code="would_block")

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
        return supervisor is None or supervisor.is_alive() or self.stopping.is_set()

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
        return self.conversation.responses.pending

    def settle(self, timeout: float = 1.0) -> bool:
        """Wait until the conversation's actor has finished what it is doing, so every observer has seen the events
        published so far (the daemon, before it stops on a failure it was just told of). False on timeout."""
        if not self.actor.elsewhere():
            return True
        done = threading.Event()
        self.actor.post(done.set)
        return done.wait(timeout)

    @property
    def turn_open(self) -> bool:
        """A push-to-talk turn is open (turn_start, not yet turn_end or turn_cancel)."""
        return self.conversation.turn.open

    @property
    def answer_open(self) -> bool:
        """The microphone is open for an answer (`listen_for_answer`), its turn for the service's VAD to end."""
        return self.conversation.answer.open

    def _in_turn(self) -> bool:
        """The uplink's question, per frame: everything goes up (a pushed turn, or an answer's window)."""
        conversation = self.conversation
        return conversation.turn.open or conversation.answer.open

    # ================================================================================================ the actor
    def step(self, fn: Callable[..., T], *args: Any) -> T:
        """One step of the conversation, on the actor: then what the receive thread reads is published."""
        try:
            return fn(*args)
        finally:
            self.conversation.published()

    def _do(self, fn: Callable[..., T], *args: Any) -> T:
        """A command: run on the actor, the caller waits for its answer."""
        return self.actor.call(self.step, fn, *args)

    def set_state(self, new: State) -> None:
        """The one place the state changes, on the actor: observers see the changes in the order they were made."""
        if self.actor.elsewhere():
            return self.actor.call(self.set_state, new)
        old = self._state
        if new is old or old is State.FAILED or (old is State.STOPPED and self.stopping.is_set()):
            return None  # both are final: a supervisor still winding down after stop() changes nothing
        self._state = new
        self.publish("state", {"state": new.value, "previous": old.value})
        return None

    def fail(self, error: SessionError) -> None:
        self.error = error
        log.error("session failed: %s", error)
        self.publish("error", {"code": error.code, "message": str(error), "fatal": True})
        self.set_state(State.FAILED)

    def count_sent(self) -> None:
        self.stats.events_sent += 1

    # ================================================================================================ commands
    def send_text(self, text: str, respond: bool = True) -> None:
        """A user text message; then a response unless `respond` is False (queued behind a reply in progress:
        a text does not interrupt; `cancel_response()` first to do that)."""
        if not text:
            raise ValueError("text must not be empty")
        self._do(self.conversation.send_text, text, respond)

    def send_image(self, image: bytes, text: str | None = None, respond: bool = True,
                   detail: str | None = None) -> None:
        """A user message with a JPEG or PNG image (and the question about it, `text`), GA only; then a response
        unless `respond` is False. ValueError for an image that is not JPEG/PNG or too large (images.py);
        SessionError(code="unsupported") in the beta dialect. Checked before anything is sent."""
        if self.config.dialect != "ga":
            raise SessionError("images need the GA dialect (the beta session takes no images): set "
                               "session.dialect = 'ga'", code="unsupported")
        url = image_data_url(image)
        self._do(self.conversation.send_image, url, text, detail, respond)

    def answer_mcp_approval(self, approval_request_id: str, approve: bool, reason: str | None = None) -> None:
        """Approve or decline the MCP tool call of a pending `mcp_approval_request` (GA), then ask for the response
        that goes on. SessionError(code="unknown_approval") when no such request is pending."""
        self._do(self.conversation.answer_mcp_approval, approval_request_id, approve, reason)

    @property
    def mcp(self) -> McpMonitor:
        """The remote MCP tools' calls and approval requests as the service reported them."""
        return self.conversation.mcp

    def announce(self, text: str, now: bool = False, listen: bool = False) -> str:
        """Say `text` in the session's voice as an out-of-band response, never in the history (announcements.py):
        after the reply in progress, or over it with `now` (cut as a barge-in). Voice or stop_playback interrupt it
        as any reply. `listen`: the listener opens the microphone for an answer once it has played. Returns its
        id; its progress is on the `announce` topic."""
        if not text.strip():
            raise ValueError("text must not be empty")
        return self._do(self.conversation.announce, text, now, listen)

    def listen_for_answer(self, seconds: float) -> None:
        """Open the microphone for an answer for `seconds`, with no button pushed (answer.py: `announce --listen`
        in push_to_talk mode): the service's VAD ends its turn (switched on for it under turn_detection "none");
        nobody speaking by then, the input buffer is cleared and nothing is committed. `vad` events report it."""
        if not seconds > 0:
            raise ValueError("seconds must be > 0")
        self._do(self.conversation.answer.start, seconds)

    def create_response(self, instructions: str | None = None) -> None:
        """Ask for a response; queued while one is active (the service refuses a second)."""
        self._do(self.conversation.create_response, rp.ResponseParams(instructions=instructions)
                 if instructions else None)

    def cancel_response(self, reason: str = "cancel") -> bool:
        """Stop the reply: silence the speaker, cancel the response, truncate what was not heard. False when
        nothing was playing or active. `reason` goes into the `response` event (`interrupted`). While the link is
        down it still silences the speaker: what was buffered before the drop is exactly what a user stops."""
        return self._do(self.conversation.cancel_response, reason)

    def stop_playback(self) -> None:
        """Silence the speaker now and truncate what was not heard (the response, if any, goes on generating
        into the void: use cancel_response to stop it too)."""
        self._do(self.conversation.stop_playback)

    def turn_start(self) -> None:
        """Open a push-to-talk turn (in any turn-detection mode): interrupt the reply if one plays, clear the
        server's input buffer, open the microphone path (and the half-duplex gate)."""
        self._do(self.conversation.turn.start)

    def turn_end(self, respond: bool = True, timeout: float = 2.0) -> bool:
        """End the push-to-talk turn: the uplink sends what was captured up to now, then commits it and asks for a
        response (unless `respond` is False). A turn with less than `min_commit_ms` of audio is not committed (the
        service refuses it): its buffer is cleared and False is returned."""
        self._refuse_on_actor("turn_end")  # the commit it waits for is a step of the actor
        request = self._do(self.conversation.turn.end, respond)
        if not request.done.wait(timeout):
            raise SessionError("the uplink did not finish the turn in time", code="turn_timeout")
        return request.committed

    def turn_cancel(self) -> None:
        """Drop the open turn: nothing is committed, and audio injected for it and not yet sent is dropped."""
        self._do(self.conversation.turn.cancel)

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
        self._do(self.conversation.update_settings, new)

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
        answered = self.pending.resolve(call_id, output)
        if not answered:
            self.stats.late_tool_results += 1
        return answered

    def _announce_tools(self) -> None:
        try:
            self._do(self.conversation.announce_tools)
        except SessionError as e:
            log.warning("could not announce the tools: %s", e)

    # ================================================================================================ reporting
    def publish(self, topic: str, data: dict[str, Any]) -> None:
        """Report an event to the observers (the session's own, and those of a part working beside it: the
        listener's `wake`, `listen`)."""
        self.subscribers.emit(topic, data)

    def scrub(self, text: str) -> str:
        """A service message without anything that looks like a key (the service quotes parts of a bad key)."""
        return scrub(text, self.key, self.secrets)

    def status(self) -> dict[str, Any]:
        """Everything a status report shows, JSON-ready; never the key."""
        link, c = self.link, self.conversation
        # Read off the actor, which may be busy with a slow observer: a status report answers at once (each field
        # is one atomic read; together they may straddle a change).
        conversation = {"response_id": c.responses.active, "responses_queued": len(c.responses.queue),
                        "turn_open": c.turn.open, "user_speaking": c.user_speaking,
                        "tool_calls_pending": self.pending.outstanding()}
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

