"""Played-sample accounting per response item, for `conversation.item.truncate`.

Positions are byte offsets in the stream of everything ever written to the playout ring.

- The writer (receive thread) calls begin_item(item_id) before writing an item's audio and wrote(n)
  after each write; an item spans [its start, the next item's start). Beginning the current item
  again changes nothing. end_item() says the audio written so far is all there is for now (the
  response's audio is done), so the playout running dry right there is the end, not an underrun.
- The playback callback calls consumed(n) for bytes it took from the ring for the device and
  skipped(n) / dropped(n) for bytes it threw away (a flush skips the ring; it may also drop resampled audio
  that was taken but not yet handed over).
- played_bytes(item) = the item's bytes below the consumer position (less what the playback side still
  holds in its resampler and FIFO, `pending`), minus the thrown-away ones.

What "played" means: handed to the device, not yet necessarily heard. Audio handed to PortAudio is
heard one device latency later (~25 ms on PulseAudio with 10 ms periods), but a flush does not abort
the device, so that tail still plays out: once a flush has been served, handed == heard. flush() only
asks; the next callback serves it (Playout.flush_pending). Read right after flush(), the figure lacks
only the fade-out that callback still hands over (2.5 ms, measured on PulseAudio in all latency modes),
so the session may truncate at once.
"""

import threading
from collections import deque


class PlayoutLedger:
    def __init__(self, max_items: int = 64):
        self._lock = threading.Lock()  # held only for list updates and lookups, never across I/O
        self._items: deque[tuple[str, int]] = deque(maxlen=max_items)
        # Thrown-away byte ranges; those before the oldest remembered item can no longer matter (_forget_old).
        self._unplayed: deque[tuple[int, int]] = deque()
        self.written = 0  # writer thread only
        self.end_mark = -1  # writer: `written` when the last item's audio was complete (-1: never)
        self.read_pos = 0  # consumer thread only
        self.pending = 0  # consumer: of the consumed bytes, those still on their way (resampler, FIFO)
        self.unplayed_total = 0  # consumer: bytes skipped or dropped, ever

    # -- writer ----------------------------------------------------------------------------------
    def begin_item(self, item_id: str) -> None:
        """Audio written from now on belongs to `item_id` (again for the current item: it goes on)."""
        with self._lock:
            if not (self._items and self._items[-1][0] == item_id):
                self._items.append((item_id, self.written))

    def wrote(self, n: int) -> None:
        self.written += n

    def end_item(self) -> None:
        """The current item's audio is complete (written up to here)."""
        self.end_mark = self.written

    def at_end(self) -> bool:
        """Consumer: everything written so far was taken, and the writer had said it was complete."""
        return self.read_pos == self.end_mark

    # -- consumer ---------------------------------------------------------------------------------
    def consumed(self, n: int) -> None:
        self.read_pos += n

    def skipped(self, n: int) -> None:
        """`n` bytes skipped in the ring (never handed to the device)."""
        if n:
            with self._lock:
                self._unplayed.append((self.read_pos, self.read_pos + n))
                self._forget_old()
            self.read_pos += n
            self.unplayed_total += n

    def dropped(self, n: int) -> None:
        """The last `n` consumed bytes were dropped before reaching the device."""
        if n:
            with self._lock:
                self._unplayed.append((self.read_pos - n, self.read_pos))
                self._forget_old()
            self.unplayed_total += n

    def _forget_old(self) -> None:
        """Drop thrown-away ranges that end before the oldest remembered item starts (lock held)."""
        oldest = self._items[0][1] if self._items else self.read_pos
        while self._unplayed and self._unplayed[0][1] <= oldest:
            self._unplayed.popleft()

    # -- anyone -----------------------------------------------------------------------------------
    def _span(self, item_id: str) -> tuple[int, int] | None:
        items = list(self._items)
        for i, (iid, start) in enumerate(items):
            if iid == item_id:
                end = items[i + 1][1] if i + 1 < len(items) else self.written
                return start, end
        return None

    def played_bytes(self, item_id: str) -> int | None:
        """Bytes of the item handed to the device; None for an unknown (or long-forgotten) item."""
        with self._lock:
            span = self._span(item_id)
            if span is None:
                return None
            start, end = span
            end = min(end, self.read_pos - self.pending)
            if end <= start:
                return 0
            lost = sum(max(0, min(b, end) - max(a, start)) for a, b in self._unplayed)
            return end - start - lost

    def received_bytes(self, item_id: str) -> int | None:
        """Bytes of the item written to the ring."""
        with self._lock:
            span = self._span(item_id)
            return None if span is None else span[1] - span[0]

    @property
    def played_total(self) -> int:
        """Bytes handed to the device, all items together."""
        return max(0, self.read_pos - self.pending - self.unplayed_total)

    def current_item(self) -> str | None:
        with self._lock:
            return self._items[-1][0] if self._items else None
