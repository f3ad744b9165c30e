"""The recent conversation as text, carried into a new session after a reconnect or a renewal.

A new Realtime session starts with an empty conversation; without this the device forgets mid-conversation every
hour (the service's cap) and on every Wi-Fi drop. Only the text of each turn is kept (user input text or the input
transcription, the assistant's transcript or text), bounded by count. An assistant turn the user interrupted keeps
only the share of its words that was played, like the truncation the service applies to its own copy.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from rtaudiod.protocol import ConversationItemCreate, assistant_text, user_text

__all__ = ["History", "Turn"]


@dataclass
class Turn:
    role: str  # "user" | "assistant"
    text: str
    key: str | None = None  # the conversation item it came from, when known
    heard: float = 1.0  # the share of an assistant turn the user heard (a barge-in may come before its text)

    @property
    def replayed_text(self) -> str:
        if self.heard >= 1.0:
            return self.text
        words = self.text.split()
        return " ".join(words[: round(len(words) * max(0.0, self.heard))])


class History:
    """Recent turns in conversation order. A turn's place is taken when its item appears (`reserve`), its text
    filled in when known (`add` with the same key): a user's transcription often completes after the reply began.
    Written by the conversation's actor alone; `turns()` may be read from any thread (it copies the deque in one
    step first)."""

    def __init__(self, max_turns: int) -> None:
        self._turns: deque[Turn] = deque(maxlen=max(1, max_turns))
        self._max = max_turns

    def reserve(self, key: str, role: str) -> None:
        if self._max and self._find(key) is None:
            self._turns.append(Turn(role, "", key))

    def add(self, role: str, text: str, key: str | None = None) -> None:
        text = text.strip()
        if not self._max:
            return
        turn = self._find(key) if key is not None else None
        if turn is not None:
            turn.text = text
        elif text:
            self._turns.append(Turn(role, text, key))

    def cut(self, key: str, fraction: float) -> None:
        """The item `key` was interrupted after `fraction` of its audio: keep that share of its words."""
        turn = self._find(key)
        if turn is not None:
            turn.heard = min(turn.heard, fraction)

    def _find(self, key: str | None) -> Turn | None:
        return next((t for t in self._turns if t.key == key), None) if key is not None else None

    def turns(self) -> list[Turn]:
        """The turns as they will be replayed (only what was heard of each), oldest first; empty ones left out."""
        turns = [Turn(t.role, t.replayed_text, t.key) for t in list(self._turns)]  # list(): one step, in C
        return [t for t in turns if t.text]

    def replay_events(self) -> list[ConversationItemCreate]:
        """`conversation.item.create` of every kept turn, oldest first (assistant turns as text parts)."""
        return [(user_text if turn.role == "user" else assistant_text)(turn.text) for turn in self.turns()]
