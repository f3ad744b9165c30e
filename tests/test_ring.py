"""The ring's non-blocking API on both implementations (the blocking forms: test_ring_blocking.py)."""

import array
import hashlib
import random
import threading

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import rtaudiod


def ring_at(impl, capacity: int, at: int):
    """An empty ring whose next write starts at offset `at` of its storage."""
    ring = impl.ring.RingBuffer(capacity)
    assert ring.write(bytes(at)) == at
    assert ring.skip(at) == at
    return ring


def lengths(regions) -> tuple[int, int]:
    return len(regions[0]), len(regions[1])


# ---- construction --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "asked, capacity", [(1, 1), (2, 2), (3, 4), (5, 8), (1000, 1024), (1024, 1024), (1025, 2048), (48000, 65536)]
)
def test_capacity_is_rounded_up_to_a_power_of_two(impl, asked, capacity):
    ring = impl.ring.RingBuffer(asked)
    assert ring.capacity == capacity
    assert (ring.read_available, ring.write_available) == (0, capacity)
    assert (ring.overruns, ring.underruns, ring.closed) == (0, 0, False)
    assert ring.write(bytes(capacity + 1)) == capacity  # every byte of the rounded capacity is usable


@pytest.mark.parametrize("capacity", [0, -1, -4096, (1 << 40) + 1])
def test_capacity_out_of_range_is_a_value_error(impl, capacity):
    with pytest.raises(ValueError, match="capacity"):
        impl.ring.RingBuffer(capacity)


@pytest.mark.parametrize("capacity", [1.5, 64.0, "64", None, True])
def test_capacity_must_be_an_int(impl, capacity):
    with pytest.raises(TypeError, match="capacity"):
        impl.ring.RingBuffer(capacity)


# ---- write / read / readinto ---------------------------------------------------------------------


def test_write_then_read_in_order(impl):
    ring = impl.ring.RingBuffer(64)
    assert ring.write(b"hello ") == 6
    assert ring.write(bytearray(b"world")) == 5
    assert (ring.read_available, ring.write_available) == (11, 53)
    assert ring.read(3) == b"hel"
    assert ring.read(100) == b"lo world"
    assert (ring.read_available, ring.write_available) == (0, 64)


def test_write_takes_any_bytes_like(impl):
    ring = impl.ring.RingBuffer(64)
    assert ring.write(memoryview(b"ab")) == 2
    assert ring.write(array.array("h", [0x4443])) == 2  # counted in bytes, not items
    assert ring.write(memoryview(array.array("h", [0x4645]))) == 2
    assert ring.read(64) == b"abCDEF"
    with pytest.raises(TypeError):
        ring.write("text")
    assert ring.read_available == 0


def test_readinto_fills_any_writable_buffer(impl):
    ring = impl.ring.RingBuffer(64)
    ring.write(b"0123456789")
    buf = bytearray(4)
    assert ring.readinto(buf) == 4 and buf == b"0123"
    big = bytearray(b"xxxxxxxx")
    assert ring.readinto(memoryview(big)[2:5]) == 3 and big == b"xx456xxx"
    samples = array.array("h", [0])
    assert ring.readinto(samples) == 2 and samples.tobytes() == b"78"
    with pytest.raises(TypeError):
        ring.readinto(b"read-only")
    assert ring.read(64) == b"9"


def test_zero_byte_calls_do_nothing_and_count_nothing(impl):
    ring = impl.ring.RingBuffer(8)
    assert ring.write(b"") == 0
    assert ring.read(0) == b""
    assert ring.readinto(bytearray()) == 0
    assert ring.skip(0) == 0
    assert (ring.overruns, ring.underruns, ring.read_available) == (0, 0, 0)


def test_wrap_around(impl):
    ring = ring_at(impl, 8, 6)
    assert ring.write(b"abcdef") == 6  # 2 bytes at the end of the storage, 4 at its start
    assert lengths(ring.get_read_regions(8)) == (2, 4)
    assert ring.read(6) == b"abcdef"
    for i in range(50):  # many laps at a stride that is not a divisor of the capacity
        chunk = bytes([i]) * 5
        assert ring.write(chunk) == 5
        assert ring.read(5) == chunk
    assert (ring.overruns, ring.underruns) == (0, 0)


def test_readinto_across_the_wrap(impl):
    ring = ring_at(impl, 16, 13)
    ring.write(b"ABCDEFGHIJ")
    buf = bytearray(10)
    assert ring.readinto(buf) == 10 and buf == b"ABCDEFGHIJ"


def test_full_ring_refuses_more_and_counts_an_overrun(impl):
    ring = impl.ring.RingBuffer(8)
    assert ring.write(b"12345678") == 8
    assert (ring.read_available, ring.write_available, ring.overruns) == (8, 0, 0)
    assert ring.write(b"9") == 0
    assert ring.write(b"") == 0  # nothing asked, nothing dropped
    assert ring.overruns == 1
    assert ring.read(8) == b"12345678"


def test_partial_write_returns_the_count_and_keeps_the_head(impl):
    ring = ring_at(impl, 8, 5)
    ring.write(b"12345")
    assert ring.write(b"abcdef") == 3
    assert ring.write(b"gh") == 0
    assert ring.overruns == 2  # one per short write, however many bytes it dropped
    assert ring.read(8) == b"12345abc"


def test_short_reads_count_underruns(impl):
    ring = impl.ring.RingBuffer(8)
    assert ring.read(4) == b""
    ring.write(b"ab")
    buf = bytearray(4)
    assert ring.readinto(buf) == 2 and buf[:2] == b"ab"
    assert ring.underruns == 2
    ring.write(b"abcd")
    assert ring.read(4) == b"abcd" and ring.underruns == 2  # a full read is not an underrun


def test_skip_drops_unread_bytes_without_an_underrun(impl):
    ring = impl.ring.RingBuffer(16)
    ring.write(b"0123456789")
    assert ring.skip(4) == 4
    assert ring.skip(100) == 6  # what was there
    assert ring.skip(1) == 0
    assert (ring.read_available, ring.underruns) == (0, 0)
    ring.write(b"next")
    assert ring.read(4) == b"next"


@pytest.mark.parametrize(
    "call", ["read", "skip", "get_read_regions", "get_write_regions", "advance_read", "advance_write"]
)
def test_negative_counts_are_value_errors(impl, call):
    ring = impl.ring.RingBuffer(8)
    ring.write(b"abcd")
    with pytest.raises(ValueError):
        getattr(ring, call)(-1)
    assert (ring.read_available, ring.overruns, ring.underruns) == (4, 0, 0)


@pytest.mark.parametrize("call", ["wait_readable", "wait_writable"])
def test_waits_for_more_than_the_capacity_are_value_errors(impl, call):
    ring = impl.ring.RingBuffer(8)
    with pytest.raises(ValueError):
        getattr(ring, call)(9, timeout=0)
    with pytest.raises(ValueError):
        getattr(ring, call)(-1, timeout=0)


def test_large_copies_across_the_wrap(impl):
    """Copies of 64 KiB and more (the C wrappers release the GIL for them) through write, read and readinto,
    each crossing the end of the storage."""
    data = random.Random(3).randbytes(200_000)
    ring = ring_at(impl, 1 << 18, (1 << 18) - 5000)
    assert ring.write(data) == len(data)
    assert lengths(ring.get_read_regions(len(data))) == (5000, len(data) - 5000)
    assert ring.read(len(data)) == data
    assert ring.write(data) == len(data)  # now from offset 195,000: wraps at 67,144
    buf = bytearray(len(data))
    assert ring.readinto(buf) == len(data) and buf == data
    assert (ring.overruns, ring.underruns, ring.read_available) == (0, 0, 0)


# ---- zero-copy regions ---------------------------------------------------------------------------


def test_write_regions_then_advance_publishes_in_place(impl):
    ring = ring_at(impl, 16, 12)
    first, second = ring.get_write_regions(10)
    assert (len(first), len(second)) == (4, 6)
    assert not first.readonly and not second.readonly
    first[:] = b"ABCD"
    second[:] = b"EFGHIJ"
    assert ring.read_available == 0  # nothing is visible before the advance
    ring.advance_write(10)
    assert ring.read_available == 10
    assert ring.read(10) == b"ABCDEFGHIJ"


def test_write_regions_are_clipped_to_the_free_space(impl):
    ring = impl.ring.RingBuffer(16)
    ring.write(b"x" * 10)
    assert lengths(ring.get_write_regions(100)) == (6, 0)
    assert lengths(ring.get_write_regions(0)) == (0, 0)
    ring.write(b"x" * 6)
    assert lengths(ring.get_write_regions(1)) == (0, 0)


def test_read_regions_see_the_data_in_place_until_advanced(impl):
    ring = ring_at(impl, 16, 10)
    ring.write(b"0123456789AB")
    first, second = ring.get_read_regions(100)  # clipped to what is there
    assert (bytes(first), bytes(second)) == (b"012345", b"6789AB")
    assert ring.read_available == 12  # looking does not consume
    ring.advance_read(8)
    assert ring.read_available == 4 and ring.underruns == 0
    assert ring.read(4) == b"89AB"


def test_regions_are_views_of_one_storage(impl):
    """What goes in through a write region comes out of the read region at the same place: no copy."""
    ring = impl.ring.RingBuffer(8)
    (w, _) = ring.get_write_regions(8)
    w[:3] = b"abc"
    ring.advance_write(3)
    (r, empty) = ring.get_read_regions(3)
    assert bytes(r) == b"abc" and len(empty) == 0
    ring.advance_read(3)
    (w2, w3) = ring.get_write_regions(8)
    assert (len(w2), len(w3)) == (5, 3)
    w3[:] = b"XYZ"  # storage offsets 0..2, which r still views
    assert bytes(r) == b"XYZ"


def test_advancing_past_what_is_there_is_a_value_error(impl):
    ring = impl.ring.RingBuffer(8)
    ring.write(b"abcde")
    with pytest.raises(ValueError):
        ring.advance_read(6)
    with pytest.raises(ValueError):
        ring.advance_write(4)  # 3 free
    assert (ring.read_available, ring.write_available) == (5, 3)
    ring.advance_write(3)
    ring.advance_read(8)
    assert (ring.read_available, ring.write_available) == (0, 8)


def test_advancing_past_the_last_regions_keeps_the_ring_consistent(impl):
    """advance_read / advance_write accept any count up to what is there (or free), not only what the last
    get_*_regions call showed: after a wait_readable or wait_writable a side may publish or drop directly.
    The C core's cached copy of the other side's index must not go stale then (it did: the consumer then
    skipped past the producer, and the producer wrote 40 bytes into a full 16-byte ring, past its storage)."""
    ring = impl.ring.RingBuffer(16)
    first, _ = ring.get_write_regions(16)
    first[:] = bytes(range(16))
    ring.advance_write(16)
    ring.advance_read(5)  # no get_read_regions before it
    buf = bytearray(5)
    assert ring.readinto(buf) == 5 and buf == bytes(range(5, 10))
    ring.advance_read(2)
    assert ring.skip(5) == 4 and (ring.read_available, ring.write_available) == (0, 16)
    assert ring.read(1) == b"" and ring.underruns == 1

    ring = impl.ring.RingBuffer(16)
    assert ring.write(b"a" * 16) == 16 and ring.read(16) == b"a" * 16
    assert ring.wait_writable(16, timeout=0)
    ring.advance_write(16)  # no get_write_regions before it: the ring is full again
    assert (ring.read_available, ring.write_available) == (16, 0)
    assert ring.write(b"x" * 40) == 0 and ring.overruns == 1
    assert ring.read(64) == b"a" * 16
    assert ring.write(b"y" * 40) == 16 and ring.read(64) == b"y" * 16


# ---- waits without sleeping, and close -----------------------------------------------------------


def test_waits_with_a_zero_timeout_answer_at_once(impl):
    ring = impl.ring.RingBuffer(8)
    assert ring.wait_readable(1, timeout=0) is False
    assert ring.wait_writable(8, timeout=0) is True
    ring.write(b"abcdef")
    assert ring.wait_readable(6, timeout=0) is True
    assert ring.wait_readable(7, timeout=0) is False
    assert ring.wait_writable(2, timeout=0) is True
    assert ring.wait_writable(3, timeout=0) is False
    assert ring.wait_readable(0, timeout=None) is True  # nothing to wait for


def test_close_makes_waits_answer_at_once_and_leaves_the_data_path_working(impl):
    ring = impl.ring.RingBuffer(8)
    ring.write(b"abcdefgh")
    ring.close()
    ring.close()  # idempotent
    assert ring.closed
    assert ring.wait_writable(1, timeout=None) is False  # full and closed: no wait forever
    assert ring.wait_readable(8, timeout=None) is True  # what is there can still be drained
    assert ring.read(8) == b"abcdefgh"
    assert ring.wait_readable(1, timeout=None) is False
    assert ring.read(4, timeout=None) == b"" and ring.underruns == 1
    assert ring.write(b"xy") == 2 and ring.read(2) == b"xy"


def test_repr_names_the_state(impl):
    ring = impl.ring.RingBuffer(100)
    ring.write(b"abc")
    assert repr(ring) == "<RingBuffer capacity=128 readable=3 overruns=0 underruns=0>"


# ---- two threads ---------------------------------------------------------------------------------


def test_two_threads_move_every_byte_in_order(impl):
    """A producer and a consumer at full speed through a small ring, random chunk sizes, each side
    sleeping in wait_writable / wait_readable; the consumer alternates readinto and zero-copy
    regions. blake2b of both sides must agree and nothing may be dropped or short-read.

    A write chunk plus a read chunk must fit in the ring together, or each side could wait for room
    the other will never make: here 8192 + 8192 <= 16384."""
    capacity, max_chunk = 1 << 14, 1 << 13
    total = 32 << 20
    source = random.Random(0).randbytes(1 << 20)
    sent, received = hashlib.blake2b(), hashlib.blake2b()
    ring = impl.ring.RingBuffer(capacity)
    failures = []

    def chunk_size(rnd: random.Random) -> int:
        """1 to max_chunk bytes, log-uniform: as many tiny chunks as 8 KiB ones, ~900 bytes on average."""
        return int(2 ** rnd.uniform(0, 13))

    def produce():
        rnd = random.Random(1)
        done = 0
        try:
            while done < total:
                n = min(chunk_size(rnd), total - done)
                at = rnd.randrange(len(source) - n)
                chunk = source[at : at + n]
                assert ring.wait_writable(n, timeout=30)
                assert ring.write(chunk) == n
                sent.update(chunk)
                done += n
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
            ring.close()

    producer = threading.Thread(target=produce)
    producer.start()
    rnd = random.Random(2)
    buf = bytearray(max_chunk)
    got = 0
    try:
        while got < total:
            n = min(chunk_size(rnd), total - got)
            assert ring.wait_readable(n, timeout=30), failures
            if rnd.random() < 0.5:
                view = memoryview(buf)[:n]
                assert ring.readinto(view) == n
                received.update(view)
            else:
                first, second = ring.get_read_regions(n)
                assert len(first) + len(second) == n
                received.update(first)
                received.update(second)
                ring.advance_read(n)
            got += n
    finally:
        ring.close()
        producer.join()
    assert not failures
    assert received.digest() == sent.digest()
    assert (ring.overruns, ring.underruns, ring.read_available) == (0, 0, 0)


# ---- the C ring against its twin, call by call -------------------------------------------------------

COUNTS = st.sampled_from([-1, 0, 1, 2, 3, 5, 8, 9, 16, 17, 64])
OPS = st.lists(st.tuples(st.sampled_from(["write", "read", "readinto", "skip", "read_regions", "write_regions",
                                          "advance_read", "advance_write", "fill_and_advance", "wait_readable",
                                          "wait_writable"]), COUNTS), max_size=60)


def apply(ring, op: str, n: int, data: bytes):
    """One call; its result (views as bytes) or the exception's type."""
    try:
        if op == "write":
            return ring.write(data[:max(n, 0)])
        if op == "readinto":
            buf = bytearray(max(n, 0))
            return ring.readinto(buf), bytes(buf)
        if op in ("read_regions", "write_regions"):
            return tuple(bytes(v) for v in getattr(ring, f"get_{op}")(n))
        if op == "fill_and_advance":  # write through the regions, then publish
            first, second = ring.get_write_regions(max(n, 0))
            first[:], second[:] = data[: len(first)], data[len(first) : len(first) + len(second)]
            return ring.advance_write(len(first) + len(second))
        if op.startswith("wait_"):
            return getattr(ring, op)(n, timeout=0)
        return getattr(ring, op)(n)
    except (ValueError, TypeError) as exc:
        return type(exc)


@pytest.mark.skipif(rtaudiod.backend() != "c", reason="C extension not in use (RTAUDIOD_NO_EXT=1 run)")
@settings(max_examples=1000)
@given(capacity=st.sampled_from([1, 2, 3, 8, 13, 16]), ops=OPS)
@example(capacity=16, ops=[("write", 3), ("advance_read", 3), ("readinto", 5)])
@example(capacity=16, ops=[("write", 16), ("read", 16), ("advance_write", 16), ("write", 64)])
def test_the_c_ring_and_its_twin_agree_call_by_call(capacity, ops):
    """Any sequence of non-blocking calls gives the same results, counters and fill levels on both (this found
    the C ring's stale cached index after an advance_read / advance_write past the last regions)."""
    from rtaudiod._ext._ring import RingBuffer as CRing
    from rtaudiod._py.ring import RingBuffer as PyRing

    c, py = CRing(capacity), PyRing(capacity)
    data = bytes(range(256)) * 2
    for i, (op, n) in enumerate(ops):
        data = data[7:] + data[:7]  # different bytes each call
        assert apply(c, op, n, data) == apply(py, op, n, data), (i, op, n)
        assert (c.read_available, c.write_available, c.overruns, c.underruns) == \
            (py.read_available, py.write_available, py.overruns, py.underruns), (i, op, n)


def test_release_pages_keeps_an_empty_ring_working_and_leaves_unread_bytes_alone(impl):
    """An empty ring's pages go back to the kernel (the C ring's mapped storage; the twin cannot, and says so):
    what is written after reads back exactly, and a ring with unread bytes is left alone."""
    r = impl.ring.RingBuffer(1 << 20)
    r.write(b"\x07" * 300_000)
    assert r.release_pages() is False  # unread bytes
    assert r.read(300_000) == b"\x07" * 300_000
    released = r.release_pages()
    assert released is (type(r).__module__.startswith("rtaudiod._ext"))
    data = bytes(range(256)) * 4000  # across the wrap, over pages handed back
    assert r.write(data) == len(data) and r.read(len(data)) == data



def _rss_shmem_kb() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("RssShmem:"))


def test_a_mapped_ring_is_private_memory_so_released_pages_are_freed():
    """MADV_DONTNEED frees a private anonymous mapping's pages; on a shared one (mmap's default) it only unmaps
    them from this process while the memory stays allocated (and the old bytes read back). Shared pages of the
    ring would show in RssShmem as it is written through."""
    ring = pytest.importorskip("rtaudiod._ext._ring")
    before = _rss_shmem_kb()
    r = ring.RingBuffer(4 << 20)
    r.write(b"\x01" * (4 << 20))
    assert _rss_shmem_kb() - before < 1024  # 4 MiB written: none of it shared memory
    r.read(4 << 20)
    assert r.release_pages() is True
