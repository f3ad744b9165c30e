"""`Subscribers`: who hears a session's events, by topic, in any order.

    unsubscribe = session.subscribe({"state", "vad"}, callback)   # callback(topic, data); None: every event topic
    unsubscribe()                                                 # any time, from any thread, in any order

Each callback gets every event of its topics, in the order the session reported them, on the thread that saw them
(the receive thread, usually): it must return quickly (queue, do not block). A callback that raises is logged and
the others still run. Topics: `state`, `vad`, `transcript.user`, `transcript.assistant`, `text`, `response`,
`function_call`, `error`, `raw` (every server frame), what parts beside the session publish (`listen`, `wake`), and
`audio.output` (`{"pcm": PCM16 at the session rate, "item_id"}`): decoded only while someone subscribes to it by
name (None, every topic, does not include it).

The list is copied on change and read without a lock: emitting (per audio delta) costs one attribute read. The
lock only orders two changes made at once; it is never held while a callback runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["Callback", "Subscribers"]

log = logging.getLogger("rtaudiod.session")

Callback = Callable[[str, dict[str, Any]], None]
AUDIO = "audio.output"


class Subscribers:
    def __init__(self) -> None:
        self._subs: tuple[tuple[frozenset[str] | None, Callback], ...] = ()
        self._changing = threading.Lock()

    def subscribe(self, topics: Iterable[str] | None, callback: Callback) -> Callable[[], None]:
        """Add `callback` for `topics` (None: every topic but audio.output); returns the function that removes it
        (idempotent)."""
        entry = (None if topics is None else frozenset(topics), callback)
        with self._changing:
            self._subs = (*self._subs, entry)

        def unsubscribe() -> None:
            with self._changing:
                self._subs = tuple(s for s in self._subs if s is not entry)

        return unsubscribe

    def wants(self, topic: str) -> bool:
        """Someone listens to `topic` (so an event that is costly to build is worth building)."""
        return any(_wanted(topics, topic) for topics, _ in self._subs)

    def emit(self, topic: str, data: dict[str, Any]) -> None:
        for topics, callback in self._subs:
            if _wanted(topics, topic):
                try:
                    callback(topic, data)
                except Exception:  # an observer's bug must not take the receive thread down
                    log.exception("a subscriber of %r failed", topic)


def _wanted(topics: frozenset[str] | None, topic: str) -> bool:
    return topic in topics if topics is not None else topic != AUDIO
