"""Pure-Python twin of the C ring buffer (csrc/rta_ring.h): same API, same counters, same rounding.

The readable reference and test oracle. Indices grow without bound and are masked into the storage,
exactly as in C; one Condition stands in for the C core's atomics and its condition-variable wake-ups.
"""

import threading


def _round_up_pow2(n: int) -> int:
    return 1 << (n - 1).bit_length()


def _wait_timeout(timeout: float | None) -> float | None:
    """A Condition.wait timeout, as the C core reads it: None and anything beyond ~31 years (1e9 s, inf
    included: time_t would overflow) wait forever; NaN is a ValueError."""
    if timeout is None or timeout > 1e9:
        return None
    if timeout != timeout:
        raise ValueError("timeout must be a number of seconds or None, not NaN")
    return timeout


class RingBuffer:
    """Single-producer/single-consumer byte ring.

    The producer thread calls write / get_write_regions / advance_write / wait_writable; the consumer
    thread calls read / readinto / skip / get_read_regions / advance_read / wait_readable.
    """

    def __init__(self, capacity: int):
        if not isinstance(capacity, int) or isinstance(capacity, bool):
            raise TypeError("capacity must be an int")
        if capacity < 1 or capacity > 1 << 40:
            raise ValueError(f"capacity must be between 1 and 2**40 bytes, got {capacity}")
        self._size = _round_up_pow2(capacity)
        self._mask = self._size - 1
        self._buf = bytearray(self._size)
        self._read = 0
        self._write = 0
        self._overruns = 0
        self._underruns = 0
        self._closed = False
        self._cond = threading.Condition(threading.Lock())

    # -- state -------------------------------------------------------------------------------------
    @property
    def capacity(self) -> int:
        return self._size

    @property
    def read_available(self) -> int:
        return self._write - self._read

    @property
    def write_available(self) -> int:
        return self._size - (self._write - self._read)

    @property
    def overruns(self) -> int:
        """Writes that could not store all their bytes (the rest was dropped)."""
        return self._overruns

    @property
    def underruns(self) -> int:
        """Reads that got fewer bytes than they asked for."""
        return self._underruns

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Wake every waiter now and make later waits return at once (for shutdown)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # -- producer ----------------------------------------------------------------------------------
    def write(self, data, timeout: float | None = 0.0) -> int:
        """Copy as much of `data` as fits; returns the bytes written. A short write counts an overrun.

        With a timeout (None: forever) first wait until all of `data` fits, like Queue.put; what still
        does not fit when it runs out (or the ring is closed) is dropped."""
        src = memoryview(data).cast("B")
        timeout = _wait_timeout(timeout)
        if timeout is None or timeout > 0:
            if len(src) > self._size:
                raise ValueError(f"cannot wait for room for {len(src)} bytes in a ring of {self._size}")
            self.wait_writable(len(src), timeout)
        with self._cond:
            n = min(len(src), self._size - (self._write - self._read))
            pos = self._write & self._mask
            first = min(n, self._size - pos)
            self._buf[pos : pos + first] = src[:first]
            self._buf[: n - first] = src[first:n]
            self._write += n
            if n < len(src):
                self._overruns += 1
            if n:
                self._cond.notify_all()
        return n

    def _note_overrun(self) -> None:
        """Count an overrun seen outside write() (rta_ring_note_overrun): for rtaudiod._py.framing, which
        writes only what fits of a delta."""
        with self._cond:
            self._overruns += 1

    def get_write_regions(self, nbytes: int) -> tuple[memoryview, memoryview]:
        """Up to `nbytes` of free space as two writable views (the second is empty unless it wraps)."""
        with self._cond:
            n = min(self._check_count(nbytes), self._size - (self._write - self._read))
            return self._regions(self._write & self._mask, n)

    def advance_write(self, nbytes: int) -> None:
        """Publish `nbytes` written through get_write_regions."""
        with self._cond:
            if not 0 <= nbytes <= self._size - (self._write - self._read):
                raise ValueError(f"cannot advance the write index by {nbytes}: only {self.write_available} free")
            self._write += nbytes
            if nbytes:
                self._cond.notify_all()

    def wait_writable(self, nbytes: int, timeout: float | None = None) -> bool:
        """Sleep until `nbytes` can be written, the timeout passes or the ring is closed. True if writable."""
        self._check_wait(nbytes)
        with self._cond:
            return self._cond.wait_for(
                lambda: self._closed or self._size - (self._write - self._read) >= nbytes, _wait_timeout(timeout)
            ) and self._size - (self._write - self._read) >= nbytes

    # -- consumer ----------------------------------------------------------------------------------
    def read(self, nbytes: int, timeout: float | None = 0.0) -> bytes:
        """Take up to `nbytes`; fewer than asked counts an underrun. With a timeout (None: forever)
        first wait until `nbytes` are there, like Queue.get."""
        self._check_count(nbytes)
        self._wait_for_data(nbytes, timeout)
        out = bytearray(min(nbytes, self.read_available))
        n = self._read_into(memoryview(out))
        if n < nbytes:
            with self._cond:
                self._underruns += 1
        return bytes(out[:n])

    def readinto(self, buf, timeout: float | None = 0.0) -> int:
        """Fill `buf` with up to len(buf) bytes; returns the count. Fewer than len(buf) counts an
        underrun. With a timeout (None: forever) first wait until len(buf) bytes are there."""
        dst = memoryview(buf).cast("B")
        if dst.readonly:
            raise TypeError("readinto() needs a writable buffer")
        self._wait_for_data(len(dst), timeout)
        n = self._read_into(dst)
        if n < len(dst):
            with self._cond:
                self._underruns += 1
        return n

    def _wait_for_data(self, nbytes: int, timeout: float | None) -> None:
        timeout = _wait_timeout(timeout)
        if (timeout is None or timeout > 0) and self.read_available < nbytes:
            self.wait_readable(nbytes, timeout)

    def _read_into(self, dst: memoryview) -> int:
        with self._cond:
            n = min(len(dst), self._write - self._read)
            pos = self._read & self._mask
            first = min(n, self._size - pos)
            dst[:first] = self._buf[pos : pos + first]
            dst[first:n] = self._buf[: n - first]
            self._read += n
            if n:
                self._cond.notify_all()
        return n

    def release_pages(self) -> bool:
        """The C ring hands an empty ring's pages back to the kernel; a bytearray cannot: False, nothing done."""
        return False

    def skip(self, nbytes: int) -> int:
        """Drop up to `nbytes` unread bytes (a flush); returns the count dropped. Never an underrun."""
        with self._cond:
            n = min(self._check_count(nbytes), self._write - self._read)
            self._read += n
            if n:
                self._cond.notify_all()
        return n

    def get_read_regions(self, nbytes: int) -> tuple[memoryview, memoryview]:
        """Up to `nbytes` of unread data as two views (the second is empty unless it wraps)."""
        with self._cond:
            n = min(self._check_count(nbytes), self._write - self._read)
            return self._regions(self._read & self._mask, n)

    def advance_read(self, nbytes: int) -> None:
        """Release `nbytes` read through get_read_regions."""
        with self._cond:
            if not 0 <= nbytes <= self._write - self._read:
                raise ValueError(f"cannot advance the read index by {nbytes}: only {self.read_available} unread")
            self._read += nbytes
            if nbytes:
                self._cond.notify_all()

    def wait_readable(self, nbytes: int, timeout: float | None = None) -> bool:
        """Sleep until `nbytes` are readable, the timeout passes or the ring is closed. True if readable."""
        self._check_wait(nbytes)
        with self._cond:
            return self._cond.wait_for(
                lambda: self._closed or self._write - self._read >= nbytes, _wait_timeout(timeout)
            ) and self._write - self._read >= nbytes

    # -- helpers -----------------------------------------------------------------------------------
    def _regions(self, pos: int, n: int) -> tuple[memoryview, memoryview]:
        view = memoryview(self._buf)
        first = min(n, self._size - pos)
        return view[pos : pos + first], view[: n - first]

    @staticmethod
    def _check_count(nbytes: int) -> int:
        if nbytes < 0:
            raise ValueError(f"byte count must be >= 0, got {nbytes}")
        return nbytes

    def _check_wait(self, nbytes: int) -> None:
        if not 0 <= nbytes <= self._size:
            raise ValueError(f"cannot wait for {nbytes} bytes in a ring of {self._size}")

    def __repr__(self) -> str:
        return (
            f"<RingBuffer capacity={self._size} readable={self.read_available} "
            f"overruns={self._overruns} underruns={self._underruns}>"
        )
