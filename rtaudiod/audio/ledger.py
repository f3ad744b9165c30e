"""Played-sample accounting per response item, for `conversation.item.truncate`.

Positions are byte offsets in the stream of everything ever written to the playout ring.

- The writer (receive thread) calls begin_item(item_id) before writing an item's audio and wrote(n)
  after each write; an item spans [its start, the next item's start). Beginning the current item
  again changes nothing. end_item() says the audio written so far is all there is for now (the
  response's audio is done), so the playout running dry right there is the end, not an underrun.
- The playback callback calls consumed(n) for bytes it took from the ring for the device and
  skipped(n) / dropped(n) for bytes it threw away (a flush skips the ring; it may also drop resampled audio
  that was taken but not yet handed over). At the end of each run it sets `pending` (of the consumed
  bytes, those still in its resampler and FIFO) and calls settle(), which publishes `handed`, the
  position below which every byte was handed to the device or thrown away, in one store.
- played_bytes(item) = the item's bytes below `handed`, minus the thrown-away ones. Readers see only
  what settle() published, never a callback's half-done bookkeeping (read_pos already moved, pending
  not yet), which would count audio still on its way as played.

What "played" means: handed to the device, not yet necessarily heard. Audio handed to PortAudio is
heard one device latency later (~25 ms on PulseAudio with 10 ms periods), but a flush does not abort
the device, so that tail still plays out: once a flush has been served, handed == heard. flush() only
asks; the next callback serves it (Playout.flush_pending). Read right after flush(), the figure lacks
only the fade-out that callback still hands over (2.5 ms, measured on PulseAudio in all latency modes),
so the session may truncate at once.

Start latency: the writer stamps an item's first write (wrote(n) with n > 0), settle() the callback in
which the item's first byte was handed (time.monotonic() both). An item whose first bytes were thrown
away before they played (flushed while waiting) never gets the second stamp.

The C audio path (`core`, rtaudiod._ext._audio.LedgerCore): the callback is C and does the consumer's part
(consumed, skipped, dropped, settle) in csrc/rta_audio.c, so this class keeps only the writer's side and the
readers'. The callback's thrown-away ranges and first-handed stamps cross in lock-free rings and are drained
here under the lock before every read (_sync); item starts go the other way (core.mark). Its stamps come from the
device's clock: when the item's first byte reaches the DAC (PortAudio's outputBufferDacTime), not when it was
handed over. `heard_total` likewise subtracts what is still on its way to the DAC.
"""

import threading
import time
from collections import deque
from typing import Any


class _Item:
    """One response item's place in the stream and its start-latency stamps."""

    __slots__ = ("item_id", "start", "first_write", "first_handed")

    def __init__(self, item_id: str, start: int) -> None:
        self.item_id = item_id
        self.start = start
        self.first_write: float | None = None  # writer: monotonic time of the item's first audio write
        self.first_handed: float | None = None  # consumer: the callback that handed its first byte


class PlayoutLedger:
    def __init__(self, max_items: int = 64, core: Any = None):
        self.core = core  # the C callback's consumer side (LedgerCore), or None: the Python Playout's
        self._lock = threading.Lock()  # held only for list updates and lookups, never across I/O
        self._items: deque[_Item] = deque(maxlen=max_items)
        # Thrown-away byte ranges; those before the oldest remembered item can no longer matter (_forget_old).
        self._unplayed: deque[tuple[int, int]] = deque()
        self.written = 0  # writer thread only
        self.end_mark = -1  # writer: `written` when the last item's audio was complete (-1: never)
        self._current: _Item | None = None  # writer: the item being written
        # Items whose first byte the consumer has not passed yet, oldest first: only the writer appends and
        # only the consumer pops (deque append/popleft are atomic: no lock). No maxlen: an append evicting
        # from the left would race the consumer's pop; the writer stops adding at max_items instead.
        self._not_handed: deque[_Item] = deque()
        self._max_items = max_items
        self.read_pos = 0  # consumer thread only
        self.pending = 0  # consumer: of the consumed bytes, those still on their way (resampler, FIFO)
        self.unplayed_total = 0  # consumer: bytes skipped or dropped, ever
        self.handed = 0  # published by settle(): everything below was handed to the device or thrown away
        self._played_total = 0  # published by settle() with `handed` (unplayed_total moves mid-callback)

    # -- writer ----------------------------------------------------------------------------------
    def begin_item(self, item_id: str) -> None:
        """Audio written from now on belongs to `item_id` (again for the current item: it goes on)."""
        if self._current is not None and self._current.item_id == item_id:
            return  # the common case, once per delta: no lock
        item = _Item(item_id, self.written)
        with self._lock:
            self._items.append(item)
        self._current = item
        if self.core is not None:
            self.core.mark(item.start)  # a full queue of marks: this item gets no latency stamp
        elif len(self._not_handed) < self._max_items:  # else nothing plays: this item gets no latency stamp
            self._not_handed.append(item)

    def wrote(self, n: int) -> None:
        item = self._current
        if n and item is not None and item.first_write is None:
            item.first_write = time.monotonic()
        self.written += n

    def end_item(self) -> None:
        """The current item's audio is complete (written up to here)."""
        self.end_mark = self.written
        if self.core is not None:
            self.core.set_end_mark(self.written)

    def at_end(self) -> bool:
        """Consumer: everything written so far was taken, and the writer had said it was complete."""
        return self.read_pos == self.end_mark

    # -- consumer ---------------------------------------------------------------------------------
    def consumed(self, n: int) -> None:
        self.read_pos += n

    def settle(self, now: float | None = None) -> None:
        """End of a callback (or of a flush with no callback): publish `handed` from read_pos and pending,
        and stamp the items whose first byte it passed. Cheap: a compare unless an item starts."""
        self.handed = handed = self.read_pos - self.pending
        self._played_total = max(0, handed - self.unplayed_total)
        while self._not_handed and self._not_handed[0].start < handed:
            item = self._not_handed.popleft()
            with self._lock:  # once per item
                lost = any(a <= item.start < b for a, b in self._unplayed)
            if not lost:
                item.first_handed = time.monotonic() if now is None else now

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

    def discard(self, n: int) -> None:
        """`n` bytes were skipped in the ring with no callback running (a stopped stream): count and publish them."""
        if self.core is not None:
            self.core.skip_idle(n)
        else:
            self.skipped(n)
            self.settle()

    def sync(self) -> None:
        """C path: take in what the callback pushed (a barge-in calls it, so thrown-away ranges never pile up in C
        between two reads, even with nobody asking for played figures)."""
        with self._lock:
            self._sync()

    def _sync(self) -> None:
        """C path (lock held): take `handed` first, then the ranges and stamps the callback pushed before it."""
        core = self.core
        if core is None:
            return
        self.handed = core.handed
        ranges = core.drain_ranges()
        if ranges:
            self._unplayed.extend(ranges)
            self._forget_old()
        for start, heard in core.drain_stamps():
            for item in self._items:
                if item.start == start and item.first_handed is None:
                    if not any(a <= start < b for a, b in self._unplayed):
                        item.first_handed = heard
                    break

    def _forget_old(self) -> None:
        """Drop thrown-away ranges that end before the oldest remembered item starts (lock held)."""
        oldest = self._items[0].start if self._items else self.read_pos
        while self._unplayed and self._unplayed[0][1] <= oldest:
            self._unplayed.popleft()

    # -- anyone -----------------------------------------------------------------------------------
    def _find(self, item_id: str) -> int | None:
        """The index of the item's entry (lock held); None if unknown."""
        for i, item in enumerate(self._items):
            if item.item_id == item_id:
                return i
        return None

    def _span(self, item_id: str) -> tuple[int, int] | None:
        i = self._find(item_id)
        if i is None:
            return None
        end = self._items[i + 1].start if i + 1 < len(self._items) else self.written
        return self._items[i].start, end

    def played_bytes(self, item_id: str) -> int | None:
        """Bytes of the item handed to the device; None for an unknown (or long-forgotten) item."""
        with self._lock:
            self._sync()
            span = self._span(item_id)
            if span is None:
                return None
            start, end = span
            end = min(end, self.handed)
            if end <= start:
                return 0
            lost = sum(max(0, min(b, end) - max(a, start)) for a, b in self._unplayed)
            return end - start - lost

    def unheard_bytes(self, item_id: str) -> int | None:
        """Bytes of the item the DAC has not played yet (still queued, or handed and on their way): 0 once its last
        sample was heard. Thrown-away bytes count as gone (they never play). None for an unknown item."""
        with self._lock:
            self._sync()
            span = self._span(item_id)
            handed = self.handed
        if span is None:
            return None
        on_the_way = max(0, self.played_total - self.heard_total)  # handed, not heard yet (C path: DAC clock)
        return max(0, span[1] - (handed - on_the_way))

    def received_bytes(self, item_id: str) -> int | None:
        """Bytes of the item written to the ring."""
        with self._lock:
            span = self._span(item_id)
            return None if span is None else span[1] - span[0]

    def start_latency(self, item_id: str) -> float | None:
        """Seconds from the item's first write to the callback that handed its first byte; None until known."""
        with self._lock:
            self._sync()
            i = self._find(item_id)
            item = None if i is None else self._items[i]
        if item is None or item.first_write is None or item.first_handed is None:
            return None
        return item.first_handed - item.first_write

    @property
    def played_total(self) -> int:
        """Bytes handed to the device, all items together, as the last settle() published them: computed from
        `handed` and `unplayed_total` here, a read between a flush's skipped() and its settle() would subtract the
        skip from a `handed` that does not yet include it (a barge-in test saw the total step back ~100 ms)."""
        return self.core.played_total if self.core is not None else self._played_total

    @property
    def heard_total(self) -> int:
        """Of played_total, the bytes the DAC has played by now (C path: from the device's clock; the Python path
        knows only what was handed over)."""
        return self.core.heard_total() if self.core is not None else self._played_total

    def current_item(self) -> str | None:
        with self._lock:
            return self._items[-1].item_id if self._items else None
