"""`Supervisor`: the `rtaudiod-session` thread. It connects (minting a key first when `token_url` is set), runs
each connection's three threads (receive, uplink, sender), reconnects with capped exponential backoff and jitter,
and renews the session when the conversation asks (a timer on the actor, at a quiet moment before the service's
cap). It sleeps on the link's end and on the backoff, never on a tick. Fatal errors stop it with a message that says
what to change.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from rtaudiod import protocol as rp
from rtaudiod.errors import SessionError

from .connection import Connection
from .credentials import resolve_key
from .link import Link, receive_loop
from .uplink import FrameSender

if TYPE_CHECKING:
    from .session import Session

__all__ = ["FATAL_CLOSE", "Supervisor"]

log = logging.getLogger("rtaudiod.session")

#: Close codes after which reconnecting cannot help: authentication (3000) and the request's shape (4000).
FATAL_CLOSE = {3000: "authentication failed", 4000: "the service refused the request (model or dialect)"}


class Supervisor:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.thread = threading.Thread(target=self._supervise, name="rtaudiod-session", daemon=True)
        self.connecting: Connection | None = None  # the connection being opened (stop() aborts its handshake)
        self._link_threads: tuple[threading.Thread, ...] = ()  # the current connection's

    def on_own_thread(self) -> bool:
        """Called on a thread this supervisor joins (a `raw` or `audio.output` subscriber runs on the receive
        thread): waiting for it there would wait for itself."""
        me = threading.current_thread()
        return me is self.thread or me in self._link_threads

    def _supervise(self) -> None:
        session = self.session
        attempt = 0  # connections in a row that failed or died young: the retry budget
        number = 0
        renewed = False  # the last link ended in a planned renewal
        try:
            while not session.stopping.is_set():
                number += 1
                link = self._connect(number)
                if link is not None:
                    link.carry_audio = renewed
                renewed = False
                if link is None:
                    if session.stopping.is_set():
                        break
                    if session.error is not None and session.error.fatal:
                        return session.fail(session.error)
                    attempt += 1
                else:
                    self._run_link(link)
                    if session.stopping.is_set():
                        break
                    error = link.error
                    if error is not None and error.fatal:
                        return session.fail(error)
                    # A planned renewal comes only after renew_after_s: the link lived. An expiry counts as one only
                    # when the link was stable: a server expiring every session young would otherwise be
                    # reconnected to forever, with no backoff (a reconnect storm).
                    lived = link.reason == "renew" or (link.reason == "expired"
                                                       and link.age >= session.config.stable_after_s)
                    if lived and link.configured.is_set():
                        session.stats.renewals += 1
                        renewed = link.reason == "renew"
                        attempt = 0
                        log.info("renewing the session (%s after %.0f s)", link.reason, link.age)
                        continue  # a new session at once: nothing is wrong
                    session.error = error or SessionError(f"the connection ended ({link.reason})", code=link.reason)
                    # A connection that was configured and lived a while earns a fresh budget; one that failed
                    # again at once does not (a peer's reconnect storm came from resetting here).
                    stable = link.configured.is_set() and link.age >= session.config.stable_after_s
                    attempt = 1 if stable else attempt + 1
                limit = session.config.reconnect_attempts
                if limit is not None and attempt > limit:
                    return session.fail(SessionError(f"gave up after {limit} failed connection attempts in a row; "
                                                     f"last error: {session.error}", code="retries_exhausted",
                                                     fatal=True))
                from .session import State

                session.set_state(State.RECONNECTING)
                session.stats.reconnects += 1
                delay = self._backoff(attempt)
                log.warning("connection %s: %s; reconnecting in %.1f s (attempt %d)",
                            "failed" if link is None else "ended", session.error, delay, attempt)
                session.publish("error", {"code": session.error.code if session.error else None,
                                          "message": str(session.error), "fatal": False,
                                          "retry_in_s": round(delay, 2)})
                if session.stopping.wait(delay):
                    break
        except BaseException as e:  # a bug: say so loudly and leave the session failed, never half alive
            log.exception("the session supervisor crashed")
            session.fail(SessionError(f"internal error: {type(e).__name__}: {e}", code="internal_error", fatal=True))
            raise

    def _backoff(self, attempt: int) -> float:
        """Capped exponential backoff with full jitter (between half and all of the capped delay)."""
        config = self.session.config
        cap = min(config.reconnect_max_s, config.reconnect_initial_s * 2 ** max(0, attempt - 1))
        return cap * random.uniform(0.5, 1.0)

    def _connect(self, number: int) -> Link | None:
        from .session import State

        session = self.session
        session.set_state(State.CONNECTING if number == 1 else State.RECONNECTING)
        cfg = session.config
        try:
            key = resolve_key(cfg.api_key, cfg.token_url, cfg.model, cfg.dialect, cfg.connect_timeout_s)
            session.key = key
            endpoint = rp.Endpoint(model=cfg.model, dialect=cfg.dialect, api_key=key, base_url=cfg.base_url)
            connection = Connection(endpoint, cfg.connect_timeout_s, send_stall_s=cfg.ping_timeout_s)
            self.connecting = connection
            if session.stopping.is_set():  # stop() came before it could see this connection
                return None
            connection.open()
        except SessionError as e:
            session.error = SessionError(session.scrub(str(e)), code=e.code, fatal=e.fatal)
            if e.fatal:
                log.error("cannot connect: %s", session.error)
            return None
        finally:
            self.connecting = None
        log.info("connected to %s (%s dialect, model %s)", cfg.base_url, cfg.dialect, cfg.model)
        return Link(connection, cfg.dialect, number, on_sent=session.count_sent)

    def _run_link(self, link: Link) -> None:
        """Run one connection until it ends (sleeping on its end), then close it and join its threads."""
        session = self.session
        conversation, actor = session.conversation, session.actor
        actor.call(session.step, conversation.reset, link)
        actor.call(conversation.watch_link, link)
        session.link = link
        session.uplink.attach(link)  # before the receive thread can configure it
        threads = [threading.Thread(target=self._guard, args=(lambda link: receive_loop(session, link), link),
                                    name="rtaudiod-recv", daemon=True),
                   threading.Thread(target=self._guard, args=(self._uplink_loop, link), name="rtaudiod-uplink",
                                    daemon=True),
                   threading.Thread(target=self._guard, args=(lambda link: link.outbox.run(), link),
                                    name="rtaudiod-send", daemon=True)]
        self._link_threads = tuple(threads)
        for t in threads:
            t.start()
        if session.stopping.is_set():
            link.end("stop")
        link.ended.wait()
        conn = link.connection
        if link.reason in ("stop", "renew"):  # a polite close: the receive thread sees the answer or gives up
            try:
                link.outbox.close(1000, "client going away" if link.reason == "stop" else "renewing session", 1.0)
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
                                      f"({FATAL_CLOSE[conn.close_code]}): {session.scrub(conn.close_reason)}",
                                      code=f"close_{conn.close_code}", fatal=True, close_code=conn.close_code)
        actor.call(session.step, conversation.finish_open_turn)
        session.link = None
        log.info("connection ended: %s%s", link.reason, f" ({link.error})" if link.error else "")

    def _guard(self, loop: Callable[[Link], None], link: Link) -> None:
        """Run a per-connection loop; a bug in it (not a connection problem) fails the session instead of leaving
        it half alive."""
        try:
            loop(link)
        except BaseException as e:
            log.exception("%s crashed", threading.current_thread().name)
            link.end("fatal", SessionError(f"internal error in {threading.current_thread().name}: "
                                           f"{type(e).__name__}: {e}", code="internal_error", fatal=True))
            raise

    def _uplink_loop(self, link: Link) -> None:
        """The uplink thread: the gate's loop over this link; a failed send ends the link. The turn's commit is the
        actor's: the uplink waits for it, so it is posted before the uplink's next frame."""
        session = self.session
        sender = FrameSender(session.stats, session.config.audio_format, session.frame_bytes,
                             session.audio.capture_ring, link.outbox.send_audio, session.uplink.count_sent)
        commit = session.conversation.turn.commit
        try:
            session.uplink.run(link, sender,
                               lambda request, ms: session.actor.call(session.step, commit, link, request, ms))
        except SessionError as e:
            link.end("lost", e)
