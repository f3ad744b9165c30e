"""A fault-injecting TCP proxy on loopback, between a client and a server under test.

    with FaultProxy(("127.0.0.1", sim.port)) as proxy:
        client connects to proxy.port
        proxy.blackhole()      # keep every connection open but pass nothing either way (a Wi-Fi drop)
        proxy.hold("up")       # half-open: pass nothing client -> server ("down": server -> client); the held
                               # side stops reading, so its sender's buffers fill up (a peer that stops reading)
        proxy.heal()           # pass again (new connections too)
        proxy.reset_all()      # abort every connection (RST)
        proxy.delay = 0.2; proxy.jitter = 0.1   # each chunk waits delay + uniform(0, jitter) s, order kept

`small_buffers=True` gives the client's side of the proxy a small receive buffer, so that a client writing into a
held connection finds it full after a few kilobytes instead of megabytes (loopback buffers grow to several MB).

Threads: one acceptor, two pumps per connection; everything stops on close(). Loopback only.
"""

from __future__ import annotations

import random
import socket
import struct
import threading
import time


class FaultProxy:
    def __init__(self, target: tuple[str, int], small_buffers: bool = False) -> None:
        assert target[0] in ("127.0.0.1", "localhost", "::1")
        self.target = target
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if small_buffers:  # inherited by accepted sockets; must be set before the handshake fixes the window scale
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen()
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self.delay = 0.0
        self.jitter = 0.0
        self._up, self._down = threading.Event(), threading.Event()  # set: that direction passes
        self._up.set()
        self._down.set()
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self.accepted = 0
        self._thread = threading.Thread(target=self._accept, name="faultproxy", daemon=True)
        self._thread.start()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def blackhole(self) -> None:
        self._up.clear()
        self._down.clear()

    def hold(self, direction: str) -> None:
        {"up": self._up, "down": self._down}[direction].clear()

    def heal(self) -> None:
        self._up.set()
        self._down.set()

    def reset_all(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        self.heal()
        self._thread.join(2)
        self._listener.close()
        self.reset_all()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=2)
            except OSError:
                client.close()
                continue
            self.accepted += 1
            with self._lock:
                self._conns += [client, server]
            for a, b, passing in ((client, server, self._up), (server, client, self._down)):
                threading.Thread(target=self._pump, args=(a, b, passing), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, passing: threading.Event) -> None:
        src.settimeout(0.1)
        try:
            while not self._stop.is_set():
                if not passing.is_set():  # held: leave the bytes unread, keep the connection
                    passing.wait(0.1)
                    continue
                try:
                    data = src.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    break
                if self.delay or self.jitter:
                    time.sleep(self.delay + random.uniform(0, self.jitter))
                while not passing.is_set() and not self._stop.is_set():
                    passing.wait(0.1)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
