"""`Daemon`: owns every part and every thread of a running rtaudiod (the audio engine, the session, the control
server, and the local simulator in demo mode), and the main loop that watches them.

    daemon = Daemon(load_config(path))
    daemon.start()            # READY=1 once the control socket is up and the session is connected or retrying
    code = daemon.run()       # until request_stop(); watchdog, STATUS= lines, SIGHUP reloads (request_reload())
    daemon.stop()

A part that dies (a thread that crashed, a session that failed for good) brings the daemon down with a non-zero
status for systemd to act on: never a silent, half-alive process. Exit statuses: 0 stopped on request, 1 a part
failed, 78 (EX_CONFIG) the configuration or the credentials are wrong (the unit does not restart on it).
"""

from __future__ import annotations

import logging
import secrets
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec

from rtaudiod.audio import AudioDeviceError, AudioEngine
from rtaudiod.audio.engine import SOUND_SERVER_BACKENDS
from rtaudiod.listen import Listener, WakeWordError, WakeWordUnavailable
from rtaudiod.session import RealtimeConfig, Session, State
from rtaudiod.session.config import LIVE_SETTINGS

from .config import ConfigError, DaemonConfig
from .notify import Notifier

if TYPE_CHECKING:
    from rtaudiod.control import ControlServer
    from rtaudiod.sim import Simulator

__all__ = ["EXIT_CONFIG", "EXIT_FAILED", "Daemon"]

log = logging.getLogger("rtaudiod.daemon")

EXIT_FAILED = 1
EXIT_CONFIG = 78  # sysexits.h EX_CONFIG
# The main loop sleeps until something it watches happens (a stop, a reload, a session state change, a thread
# dying of an exception); this backstop catches a part's thread that returned without one, and the systemd
# watchdog, when set, pings at a third of its interval.
BACKSTOP_S = 5.0
# A thread's exception hook runs before the thread ends: how long the loop waits for that end before it looks.
DYING_JOIN_S = 1.0

P = TypeVar("P")


@dataclass(frozen=True)
class Part(Generic[P]):
    """One part's life cycle as the daemon drives it: `stop(part, seconds)` within the seconds left before the
    daemon's deadline; `alive(part)` False when its thread died (None: it has no thread to die), said as `died`."""

    name: str
    part: P | None
    stop: Callable[[P, float], None]
    alive: Callable[[P], bool] | None = None
    died: str = ""


class Daemon:
    def __init__(self, config: DaemonConfig, notifier: Notifier | None = None) -> None:
        self.config = config
        self.notifier = notifier or Notifier()
        self.simulator: Simulator | None = None
        self.engine: AudioEngine | None = None
        self.session: Session | None = None
        self.control: ControlServer | None = None
        self.listener: Listener | None = None
        self.socket_path: str | None = None
        self.exit_code = 0
        self._stop = threading.Event()
        self._reload = threading.Event()
        # The main loop has something to look at: a byte in this socketpair, written by _poke() from any thread, and
        # by the C signal handler itself (main.py sets it as the wakeup fd): a signal taken on another thread would
        # not interrupt a lock wait, and the loop would see it only at its backstop.
        self._wake_r, self._wake_w = socket.socketpair()
        self._dying: list[threading.Thread] = []  # threads whose exception hook ran (appended from them)
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._last_status = ""

    # ---------------------------------------------------------------------------------------------- start/stop
    def start(self, ready_timeout: float | None = None) -> None:
        """Start every part; READY=1 once the control socket is up and the session has connected (or is retrying).
        A part that cannot start raises (what was started is stopped again)."""
        try:
            session_config = self._session_config()
            self.engine = self._start_audio()
            log.info("audio backend: %s (%s)", self.engine.backend.name, self.engine.backend_choice.reason)
            log.info("echo canceller: %s (%s)", self.engine.echo_choice.canceller, self.engine.echo_choice.reason)
            self.session = Session(session_config, self.engine, on_state=self._on_state)
            self.session.start()
            self.listener = self._start_listener()
            if self.config.control.enabled:
                self._start_control()
            timeout = ready_timeout if ready_timeout is not None else session_config.connect_timeout_s + 1
            self._wait_connected_or_retrying(timeout)
        except BaseException:
            self.stop()
            raise
        status = self._status_line()
        self.notifier.ready(status)
        log.info("ready: %s", status)

    def _start_listener(self) -> Listener:
        """The listening mode; wake_word on a machine where the wake word cannot run (no TFLite runtime for the
        platform: docs/platforms.md) falls back to push_to_talk, which sends nothing unless a turn is opened, and
        says so in one line. A wake word that is misconfigured stops the daemon (ConfigError)."""
        listener = Listener(self.session, self.config.listen)
        try:
            return listener.start()
        except WakeWordUnavailable as e:
            listener.stop()
            log.warning("%s: listening in push_to_talk mode instead (`rtaudiod-cli turn start` opens the "
                        "microphone)", e)
            fallback = msgspec.structs.replace(self.config.listen, mode="push_to_talk")
            return Listener(self.session, fallback).start()
        except WakeWordError as e:
            listener.stop()
            raise ConfigError(str(e)) from None

    def _session_config(self) -> RealtimeConfig:
        cfg = self.config
        session = cfg.session
        no_key = not session.api_key and not session.token_url
        if cfg.daemon.simulate == "always" or (no_key and cfg.daemon.simulate == "auto"):
            from rtaudiod.sim import Simulator

            key = secrets.token_urlsafe(16)
            # At the service's pace (faster than real time, the simulator's default): at exactly real time every
            # late delta ran the playout dry (3 underruns in a 2 s reply on the null backend).
            self.simulator = Simulator(dialect=session.dialect, api_key=key).start()
            log.warning("no API key and no token_url: talking to rtaudiod-sim at %s (the local simulator), not to "
                        "the service; set OPENAI_API_KEY or the systemd credential to use the service",
                        self.simulator.url)
            model = session.model if session.dialect == "ga" else "gpt-4o-realtime-preview"
            return msgspec.structs.replace(session, base_url=self.simulator.url, api_key=key, token_url=None,
                                           model=model)
        if no_key:
            raise ConfigError("no API key: set OPENAI_API_KEY, the systemd credential openai_api_key, "
                                 "daemon.api_key_file or session.token_url")
        return session

    def _start_audio(self) -> AudioEngine:
        audio = self.config.audio
        engine = AudioEngine(audio)
        try:
            return engine.start()
        except AudioDeviceError as e:
            engine.close()  # its PortAudio too: left initialised, it would keep a stale device list in this process
            if not (self.config.daemon.audio_fallback and audio.backend in ("auto", *SOUND_SERVER_BACKENDS)):
                raise
            log.warning("running on the null audio backend (no microphone, no speaker; the control API's audio.input "
                        "and audio.output still work): no usable sound device: %s", str(e).splitlines()[0])
            # The configuration keeps what was asked for (a reload compares against it); the engine's own config
            # says what runs. The null backend has no devices of those names: its own defaults.
            return AudioEngine(msgspec.structs.replace(audio, backend="null", input_device=None,
                                                       output_device=None)).start()

    def _start_control(self) -> None:
        from rtaudiod.control import ControlServer

        ctl = self.config.control
        self.socket_path = ctl.socket_path()
        self.control = ControlServer(self.session, self.socket_path, group=ctl.group,
                                     allowed_uids=tuple(ctl.allowed_uids), allowed_gids=tuple(ctl.allowed_gids),
                                     listener=self.listener)
        self.control.start()
        from rtaudiod.cli import command_line

        log.info("control socket at %s (try: %s status)", self.socket_path, command_line(self.socket_path))

    def _wait_connected_or_retrying(self, timeout: float) -> None:
        assert self.session is not None
        self.session.wait_state(*(s for s in State if s is not State.CONNECTING), timeout=timeout)
        if self.session.state is State.FAILED:
            error = self.session.error
            if error is not None and error.fatal:
                raise ConfigError(str(error))

    def _parts(self) -> tuple[Part[Any], ...]:
        """Every part, newest first (the order they stop in), with its one life cycle."""
        return (
            Part("control", self.control, lambda c, t: c.stop(t), lambda c: c.alive,
                 "the control server's thread died"),
            Part("listener", self.listener, lambda listener, t: listener.stop(), lambda listener: listener.alive,
                 "the wake-word detector's thread died"),
            Part("session", self.session, lambda s, t: s.stop(t), lambda s: s.alive,
                 "the session's supervisor thread died"),
            Part("audio", self.engine, lambda e, t: e.close()),
            Part("simulator", self.simulator, lambda s, t: s.stop(t)),
        )

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every part, newest first: the control server (its socket file removed), the listener, the session
        (close 1000), the audio engine, the simulator; each within what is left of `timeout` (at least 1 s). Safe
        to call more than once."""
        self.notifier.stopping()
        deadline = time.monotonic() + timeout
        for part in self._parts():
            if part.part is None:
                continue
            began = time.monotonic()
            try:
                part.stop(part.part, max(1.0, deadline - began))
            except Exception:  # one part's failure to stop must not leave the others running
                log.exception("stopping the %s failed", part.name)
            took = time.monotonic() - began
            log.log(logging.WARNING if took > 1 else logging.DEBUG, "stopped the %s in %.2f s", part.name, took)
        self.control = self.listener = self.session = self.engine = self.simulator = None
        self._wake_r.close()  # the main loop is over (main.py took the signal wakeup fd back first)
        self._wake_w.close()

    # ---------------------------------------------------------------------------------------------- main loop
    def request_stop(self) -> None:
        self._stop.set()
        self._poke()

    def request_reload(self, config: DaemonConfig | None = None) -> None:
        self._pending_config = config
        self._reload.set()
        self._poke()

    def run(self) -> int:
        """Watch the parts until a stop is requested or one of them fails; returns the exit status."""
        interval = BACKSTOP_S if self.notifier.watchdog_s is None else min(BACKSTOP_S, self.notifier.watchdog_s / 3)
        previous_hook = threading.excepthook

        def on_thread_exception(args: threading.ExceptHookArgs) -> None:
            previous_hook(args)
            if args.thread is not None:  # the hook runs in the dying thread: the loop waits for its end to look
                self._dying.append(args.thread)
            self._poke()  # a part's thread may have died of it: look now

        threading.excepthook = on_thread_exception
        try:
            return self._watch(interval)
        finally:
            threading.excepthook = previous_hook

    @property
    def wakeup_fd(self) -> int:
        """For signal.set_wakeup_fd: a signal on any thread wakes the main loop at once."""
        return self._wake_w.fileno()

    def _poke(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except OSError:  # full: a wake is pending anyway
            pass

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:  # empty
            pass

    def _watch(self, interval: float) -> int:
        while True:  # looks first, then waits: a part that died before run() hooked its threads is seen at once
            self._drain_wake()  # before looking: whatever happens from now on wakes the next wait
            if self._stop.is_set():
                break
            if self._reload.is_set():
                self._reload.clear()
                self._apply_reload(getattr(self, "_pending_config", None))
            while self._dying:  # still alive while its hook poked: seen alive, it would wait for the backstop
                self._dying.pop().join(DYING_JOIN_S)
            failure = self._failure()
            if failure is not None:
                log.error("%s: stopping", failure)
                if self.session is not None:  # the failure's own events reach the control clients before it stops
                    self.session.settle(1.0)
                self.notifier.status(f"failed: {failure}")
                error = self.session.error if self.session is not None else None
                self.exit_code = EXIT_CONFIG if error is not None and error.fatal and \
                    error.code not in ("internal_error", "retries_exhausted") else EXIT_FAILED
                break
            self.notifier.watchdog()  # only from here, and only while every part is alive
            status = self._status_line()
            if status != self._last_status:
                self._last_status = status
                self.notifier.status(status)
            select.select([self._wake_r], [], [], interval)
        return self.exit_code

    def _failure(self) -> str | None:
        session = self.session
        if session is None:
            return "the session is gone"
        if session.state is State.FAILED:
            return f"the session failed: {session.error}"
        if self._stop.is_set():
            return None
        return next((p.died for p in self._parts() if p.part is not None and p.alive is not None
                     and not p.alive(p.part)), None)

    def _status_line(self) -> str:
        session = self.session
        if session is None:
            return "stopped"
        parts = [session.state.value]
        if self.simulator is not None:
            parts.append("simulator")
        if self.engine is not None and self.engine.backend.name != "pyaudio":
            parts.append(f"{self.engine.backend.name} audio")
        if self.socket_path:
            parts.append(f"control {self.socket_path}")
        return ", ".join(parts)

    def _on_state(self, new: State, old: State) -> None:
        log.info("state: %s -> %s", old.value, new.value)
        self._poke()  # a failure to act on, a status line to send

    # ---------------------------------------------------------------------------------------------- reload
    def _apply_reload(self, new: DaemonConfig | None) -> None:
        """SIGHUP: apply what can change live. Session settings go out as a session.update; the audio devices are
        reopened; where to connect and the key need a restart (said in the log)."""
        if new is None:
            return
        session = self.session
        old_session, new_session = self.config.session, new.session
        changes = {k: getattr(new_session, k) for k in LIVE_SETTINGS
                   if getattr(new_session, k) != getattr(old_session, k)}
        if changes and session is not None:
            try:
                session.update_settings(**{k: msgspec.to_builtins(v) for k, v in changes.items()})
                log.info("reloaded session settings: %s", ", ".join(sorted(changes)))
            except Exception as e:  # refused or not connected: the old settings stay
                log.warning("could not apply the new session settings (%s): %s", ", ".join(sorted(changes)), e)
        fixed = [k for k in ("base_url", "model", "dialect", "audio_format", "token_url")
                 if getattr(new_session, k) != getattr(old_session, k)]
        if new_session.api_key != old_session.api_key:
            fixed.append("the API key")
        if fixed:
            log.warning("restart rtaudiod to apply: %s", ", ".join(fixed))
        if new.listen != self.config.listen and self.listener is not None:
            try:
                self.listener.reconfigure(new.listen)
                log.info("reloaded the listening settings")
            except WakeWordError as e:
                log.error("the new listening settings do not work (%s): keeping the old ones", e)
                self.listener.reconfigure(self.config.listen)
                new = msgspec.structs.replace(new, listen=self.config.listen)
        if new.audio != self.config.audio and self.engine is not None and \
                new.audio.session_format == self.config.audio.session_format:
            running = self.engine.config
            self.engine.stop()
            self.engine.config = new.audio
            try:
                self.engine.start()
                log.info("audio devices reopened")
            except AudioDeviceError as e:
                log.error("the new audio settings do not work (%s): keeping the old ones", e)
                self.engine.config = running
                self.engine.start()
                new = msgspec.structs.replace(new, audio=self.config.audio)
        self.config = msgspec.structs.replace(new, session=msgspec.structs.replace(
            new.session, base_url=old_session.base_url, api_key=old_session.api_key, token_url=old_session.token_url,
            model=old_session.model, dialect=old_session.dialect, audio_format=old_session.audio_format))

