"""The ring's blocking forms: write/read/readinto with a timeout, like Queue.put/get."""

import hashlib
import random
import threading
import time

import pytest


def test_readinto_with_timeout_waits_for_a_whole_frame(impl):
    ring = impl.ring.RingBuffer(64)
    frame = bytearray(8)
    writer = threading.Timer(0.05, lambda: ring.write(b"abcdefgh"))
    writer.start()
    assert ring.readinto(frame, timeout=5) == 8
    writer.join()
    assert frame == b"abcdefgh" and ring.underruns == 0


def test_read_with_timeout_returns_what_is_there_when_it_runs_out(impl):
    ring = impl.ring.RingBuffer(64)
    ring.write(b"abc")
    start = time.monotonic()
    assert ring.read(8, timeout=0.05) == b"abc"
    assert time.monotonic() - start >= 0.04
    assert ring.underruns == 1


def test_write_with_timeout_waits_for_room(impl):
    ring = impl.ring.RingBuffer(8)
    ring.write(b"12345678")
    reader = threading.Timer(0.05, lambda: ring.read(4))
    reader.start()
    assert ring.write(b"ABCD", timeout=5) == 4
    reader.join()
    assert ring.read(8) == b"5678ABCD" and ring.overruns == 0


def test_write_with_timeout_drops_what_does_not_fit_in_time(impl):
    ring = impl.ring.RingBuffer(8)
    ring.write(b"123456")
    assert ring.write(b"ABCD", timeout=0.02) == 2
    assert ring.overruns == 1 and ring.read(8) == b"123456AB"


def test_blocking_write_larger_than_the_ring_is_refused(impl):
    ring = impl.ring.RingBuffer(8)
    with pytest.raises(ValueError):
        ring.write(b"x" * 9, timeout=1)
    assert ring.read_available == 0


def test_close_releases_a_blocked_reader(impl):
    ring = impl.ring.RingBuffer(64)
    closer = threading.Timer(0.05, ring.close)
    closer.start()
    assert ring.readinto(bytearray(8), timeout=None) == 0
    closer.join()
    assert ring.closed


def test_two_threads_blocking_forms_move_every_byte_in_order(impl):
    """8 MB in random chunk sizes through a small ring, producer and consumer both blocking.

    A write chunk plus a read chunk must fit in the ring together, or each side can wait for room
    the other will never make (as with any pair of fixed-size blocking calls): here 2000 + 2000 < 4096."""
    ring = impl.ring.RingBuffer(4096)
    total = 8 << 20 if impl.name == "c" else 1 << 20  # the twin is ~30x slower; same logic
    sent = hashlib.sha256()

    def produce():
        rnd = random.Random(1)
        left = total
        while left:
            chunk = rnd.randbytes(min(left, rnd.randint(1, 2000)))
            sent.update(chunk)
            assert ring.write(chunk, timeout=10) == len(chunk)
            left -= len(chunk)

    producer = threading.Thread(target=produce)
    producer.start()
    received = hashlib.sha256()
    rnd = random.Random(2)
    got = 0
    while got < total:
        buf = bytearray(min(total - got, rnd.randint(1, 2000)))
        n = ring.readinto(buf, timeout=10)
        assert n == len(buf)
        received.update(buf)
        got += n
    producer.join()
    assert received.digest() == sent.digest()
    assert ring.overruns == 0 and ring.underruns == 0



def later(action):
    """Run `action` in 50 ms on another thread (the Timer, to join)."""
    timer = threading.Timer(0.05, action)
    timer.start()
    return timer


@pytest.mark.parametrize("timeout", [float("inf"), 1e10])
def test_a_timeout_too_long_to_represent_waits_forever(impl, timeout):
    """Beyond ~31 years (1e9 s) a timeout means "forever", as None does, in every blocking call: the twin must
    not raise OverflowError where the C core waits."""
    ring = impl.ring.RingBuffer(8)
    timers = [later(lambda: ring.write(b"ab"))]
    assert ring.wait_readable(2, timeout=timeout) is True
    timers.append(later(lambda: ring.write(b"cd")))
    assert ring.read(4, timeout=timeout) == b"abcd"
    timers.append(later(lambda: ring.write(b"ef")))
    buf = bytearray(2)
    assert ring.readinto(buf, timeout=timeout) == 2 and buf == b"ef"
    ring.write(b"12345678")
    timers.append(later(lambda: ring.read(2)))
    assert ring.wait_writable(2, timeout=timeout) is True
    timers.append(later(lambda: ring.read(2)))
    assert ring.write(b"ABCD", timeout=timeout) == 4
    for timer in timers:
        timer.join()
    assert ring.read(8) == b"5678ABCD" and (ring.overruns, ring.underruns) == (0, 0)


def test_a_nan_timeout_is_a_value_error(impl):
    """Not a wait of undefined length (C: a NaN cast to an integer; twin: a busy loop in Condition.wait_for)."""
    ring = impl.ring.RingBuffer(8)
    ring.write(b"12345678")
    nan = float("nan")
    for call in (lambda: ring.wait_writable(1, timeout=nan), lambda: ring.write(b"x", timeout=nan),
                 lambda: ring.wait_readable(1, timeout=nan), lambda: ring.read(1, timeout=nan),
                 lambda: ring.readinto(bytearray(1), timeout=nan)):
        with pytest.raises(ValueError, match="NaN"):
            call()
    assert ring.read_available == 8 and (ring.overruns, ring.underruns) == (0, 0)
