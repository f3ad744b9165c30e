"""Lock-free single-producer/single-consumer byte ring (C core, or its pure-Python twin).

    ring = RingBuffer(1 << 16)           # capacity is rounded up to a power of two
    ring.write(pcm)                      # producer thread: returns the bytes written (short = overrun)
    ring.wait_readable(960, timeout=0.1) # consumer thread: sleeps, GIL released, until 960 bytes are there
    ring.readinto(buf)                   # consumer thread

One producer thread and one consumer thread may use a ring at once. See csrc/rta_ring.h for the contract.
"""

from rtaudiod._backend import load

RingBuffer = load("ring").RingBuffer

__all__ = ["RingBuffer"]
