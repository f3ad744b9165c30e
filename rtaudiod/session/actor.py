"""`Actor`: the one thread that owns the conversation, and its inbox.

Everything that changes the conversation is a message in one queue, run in order on the `rtaudiod-conversation`
thread: server events (posted by the receive thread), commands (`call`: the caller waits for the answer, so
commands keep their synchronous API), tool results, and timers (`after`: a heap read through the queue's timeout,
so the thread sleeps until the next message or the next deadline and never polls). No lock guards what it owns.

A message that raises is logged and the actor goes on (the error is the command's caller's, if it waits).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

__all__ = ["Actor", "Timer"]

log = logging.getLogger("rtaudiod.session")

T = TypeVar("T")
_STOP = object()


class Timer:
    """A deadline in the actor's heap; `cancel()` from the actor's thread (a cancelled timer is skipped, and lets go
    of its function at once: it stays in the heap until its deadline, and what the function holds must not)."""

    __slots__ = ("cancelled", "fn", "when")

    def __init__(self, when: float, fn: Callable[[], None]) -> None:
        self.when, self.fn, self.cancelled = when, fn, False

    def cancel(self) -> None:
        self.cancelled = True
        self.fn = _nothing


def _nothing() -> None:
    pass


class Actor:
    def __init__(self, name: str = "rtaudiod-conversation") -> None:
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._timers: list[tuple[float, int, Timer]] = []
        self._order = itertools.count()  # ties in the heap keep the order they were set in
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._stopped = False

    def start(self) -> Actor:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Run what is queued, then end (waiting up to `timeout`). Later posts are dropped, later calls refused."""
        self._stopped = True
        self._inbox.put(_STOP)
        if self._thread.is_alive() and not self.on_thread():
            self._thread.join(timeout)

    def on_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def elsewhere(self) -> bool:
        """The actor's thread runs (or drains its inbox after `stop`), and this is another thread: a message must go
        through the inbox, or two threads would change the conversation at once."""
        return self._thread.is_alive() and not self.on_thread()

    # -- any thread ------------------------------------------------------------------------------------------------
    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(*args)` on the actor, after everything posted before; never blocks."""
        if not self._stopped:
            self._inbox.put((fn, args, None))

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the actor and return its result (or raise its exception). From the actor's own thread
        (an observer calling a command) it runs at once: a command that then waits for a later step of the actor
        must refuse there (`Session._refuse_on_actor`), or it would wait for itself."""
        if not self.elsewhere():
            return fn(*args)  # not started yet, or ending: nothing else runs the conversation
        future: Future[T] = Future()
        self._inbox.put((fn, args, future))
        while True:
            try:
                return future.result(timeout=1.0)
            except TimeoutError:  # a long message ahead; or the actor ended before it took this one (stop() raced)
                if not self._thread.is_alive() and not future.done():
                    return fn(*args)

    def run_pending(self) -> int:
        """Run what is queued and the timers due, on this thread, while the actor's own thread has not started (a
        conversation driven by hand: the unit tests). Returns how many ran."""
        assert not self._thread.is_alive(), "the actor's thread runs them"
        ran = 0
        while True:
            while self._timers and (self._timers[0][2].cancelled or self._timers[0][0] <= time.monotonic()):
                timer = heapq.heappop(self._timers)[2]
                if not timer.cancelled:
                    self._run_one(timer.fn, (), None)
                    ran += 1
            try:
                message = self._inbox.get_nowait()
            except queue.Empty:
                return ran
            if message is not _STOP:
                self._run_one(*message)
                ran += 1

    def timers(self) -> list[float]:
        """The pending timers' deadlines (monotonic seconds), soonest first."""
        return sorted(when for when, _, timer in self._timers if not timer.cancelled)

    # -- the actor's thread ------------------------------------------------------------------------------------------
    def after(self, delay: float, fn: Callable[[], None]) -> Timer:
        """Run `fn` on the actor `delay` seconds from now (call it on the actor's thread)."""
        timer = Timer(time.monotonic() + max(0.0, delay), fn)
        heapq.heappush(self._timers, (timer.when, next(self._order), timer))
        return timer

    def _run(self) -> None:
        inbox, timers = self._inbox, self._timers
        while True:
            timeout = None  # set only by a timer still to come: one run or cancelled here leaves no deadline
            while timers:
                when, _, timer = timers[0]
                if timer.cancelled:
                    heapq.heappop(timers)
                    continue
                remaining = when - time.monotonic()
                if remaining <= 0:
                    heapq.heappop(timers)
                    self._run_one(timer.fn, (), None)
                    continue
                timeout = remaining
                break
            try:
                message = inbox.get(timeout=timeout)
            except queue.Empty:
                continue
            if message is _STOP:
                break
            self._run_one(*message)
        while True:  # what was posted while it stopped still runs (a caller may wait on it)
            try:
                message = inbox.get_nowait()
            except queue.Empty:
                return
            if message is not _STOP:
                self._run_one(*message)

    @staticmethod
    def _run_one(fn: Callable[..., Any], args: tuple[Any, ...], future: Future[Any] | None) -> None:
        try:
            result = fn(*args)
        except BaseException as e:
            if future is None:
                log.exception("the conversation's handler %s failed", getattr(fn, "__qualname__", fn))
            else:
                future.set_exception(e)
            return
        if future is not None:
            future.set_result(result)
