"""`Announcements`: what the device says on its own (the `announce` command), out of the conversation.

An announcement is a `response.create` with `conversation: "none"` and `input: []`: the model sees none of the
conversation and adds nothing to it (no conversation item, no `conversation_id`), so the history, and the replay
after a reconnect, never hold one. It waits in the response queue like any reply; its response is told apart by its
`metadata` (the service echoes it in `response.created`), not by the order of requests: a response the service
started itself may come between. Plain Python on the actor: each change is reported on the `announce` topic
(`queued`, `started` with the response_id, `done` once its own audio has played out, per the played-sample ledger,
whatever plays after it; `interrupted` with the reason: the service streams faster than real time, so a barge-in
after its `response.done` still cuts it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rtaudiod import protocol as rp

if TYPE_CHECKING:
    from rtaudiod.audio import AudioEngine

__all__ = ["Announcement", "Announcements"]

#: The metadata key that marks an announcement's response (its value: the announcement's id).
METADATA_KEY = "rtaudiod_announce"
#: The shortest wait before looking again whether an announcement's last sample was heard (the DAC's clock moves in
#: periods: a shorter wait would look again for nothing).
RECHECK_MIN_S = 0.02
INSTRUCTIONS = ("Say exactly the following text, word for word, in your usual voice, and nothing else (no greeting, "
                "no comment, no question): {text}")


@dataclass
class Announcement:
    id: str
    text: str
    listen: bool
    response_id: str | None = None
    items: list[str] = field(default_factory=list)
    interrupted: str | None = None  # why, once it was cut (stop_playback lets its response complete)
    generated: bool = False  # its response.done came: what is left is its audio in the speaker

    def params(self) -> rp.ResponseParams:
        return rp.ResponseParams(conversation="none", input=[], instructions=INSTRUCTIONS.format(text=self.text),
                                 tool_choice="none", metadata={METADATA_KEY: self.id})

    def event(self, event: str, **extra: Any) -> dict[str, Any]:
        return {"event": event, "announce_id": self.id, "response_id": self.response_id, "text": self.text,
                "listen": self.listen, **extra}


class Announcements:
    def __init__(self, emit: Callable[[str, dict[str, Any]], None],
                 after: Callable[[float, Callable[[], None]], Any] | None = None,
                 recheck: Callable[[], None] | None = None) -> None:
        self.emit = emit
        # `after(seconds, fn)`: a timer (the actor's); `recheck()`, called by it, calls `played` again
        self.after, self.recheck = after, recheck
        self._looking: Any = None  # that timer, while one is set
        self.waiting: dict[str, Announcement] = {}  # by id: asked for, its response not created yet
        self.playing: dict[str, Announcement] = {}  # by response_id: created, not played out yet

    def queued(self, announcement: Announcement) -> None:
        self.waiting[announcement.id] = announcement
        self.emit("announce", announcement.event("queued"))

    def created(self, response: rp.Response) -> Announcement | None:
        """`response.created`: the announcement it is, if any."""
        metadata = response.metadata if isinstance(response.metadata, dict) else {}
        announcement = self.waiting.pop(str(metadata.get(METADATA_KEY)), None)
        if announcement is None or not isinstance(response.id, str):
            return None
        announcement.response_id = response.id
        self.playing[response.id] = announcement
        self.emit("announce", announcement.event("started"))
        return announcement

    def of_response(self, response_id: Any) -> Announcement | None:
        return self.playing.get(response_id) if isinstance(response_id, str) else None

    def owns_item(self, item_id: str | None) -> bool:
        return any(item_id in a.items for a in self.playing.values())

    def cut(self, response_id: str | None, item_id: str | None, reason: str) -> None:
        """The speaker was silenced (a barge-in, playback.stop) while `response_id` ran or `item_id` played."""
        for announcement in list(self.playing.values()):
            if announcement.response_id == response_id or item_id in announcement.items:
                announcement.interrupted = announcement.interrupted or reason
                if announcement.generated:
                    self._interrupted(announcement)

    def finished(self, response_id: Any, status: str | None) -> None:
        """`response.done`: an interrupted (or failed) one is over; a completed one plays out (`played`)."""
        announcement = self.of_response(response_id)
        if announcement is None:
            return
        announcement.generated = True
        if announcement.interrupted is not None or status != "completed":
            announcement.interrupted = announcement.interrupted or status or "failed"
            self._interrupted(announcement)

    def played(self, audio: AudioEngine) -> None:
        """After every change: the announcements generated whole whose own audio has been heard are done. Their
        end is read off the played-sample ledger, not the speaker's silence: a reply queued straight after one
        must not hold up its `done`. One still playing: a timer looks again when it should have played out."""
        wait = None
        for announcement in [a for a in self.playing.values() if a.generated]:
            left_ms = max((audio.unheard_ms(item) or 0.0 for item in announcement.items), default=0.0) \
                if audio.is_playing else 0.0  # a quiet speaker (or none): everything written was heard
            if left_ms > 0:
                wait = left_ms / 1000 if wait is None else min(wait, left_ms / 1000)
                continue
            # popped, not deleted: a subscriber of `done` (announce --listen) re-enters here through update_state
            if self.playing.pop(announcement.response_id or "", None) is None:
                continue
            self.emit("announce", announcement.event("done"))
        if wait is not None and self.after is not None and self._looking is None:
            self._looking = self.after(max(wait, RECHECK_MIN_S), self._due)

    def _due(self) -> None:
        self._looking = None
        if self.recheck is not None:
            self.recheck()

    def _interrupted(self, announcement: Announcement) -> None:
        self.playing.pop(announcement.response_id or "", None)
        self.emit("announce", announcement.event("interrupted", reason=announcement.interrupted))

    def dropped(self, params: list[rp.ResponseParams | None], reason: str) -> None:
        """Requests taken out of the response queue (the user moved on): the announcements among them never play."""
        for p in params:
            metadata = p.metadata if p is not None and isinstance(p.metadata, dict) else {}
            announcement = self.waiting.pop(str(metadata.get(METADATA_KEY)), None)
            if announcement is not None:
                self.emit("announce", announcement.event("interrupted", reason=reason))

    def reset(self) -> None:
        """The connection ended: nothing asked for on it plays any more."""
        for announcement in [*self.waiting.values(), *self.playing.values()]:
            self.emit("announce", announcement.event("interrupted", reason="disconnected"))
        self.waiting.clear()
        self.playing.clear()
