"""A fault-injecting TCP proxy on loopback, between a client and a server under test.

    with FaultProxy(("127.0.0.1", sim.port)) as proxy:
        client connects to proxy.port
        proxy.blackhole()      # keep every connection open but pass nothing either way (a Wi-Fi drop)
        proxy.heal()           # pass again (new connections too)
        proxy.reset_all()      # abort every connection (RST)

Threads: one acceptor, two pumps per connection; everything stops on close(). Loopback only.
"""

from __future__ import annotations

import socket
import struct
import threading


class FaultProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        assert target[0] in ("127.0.0.1", "localhost", "::1")
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._passing = threading.Event()
        self._passing.set()
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
        self._passing.clear()

    def heal(self) -> None:
        self._passing.set()

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
        self._passing.set()
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
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        src.settimeout(0.1)
        try:
            while not self._stop.is_set():
                if not self._passing.is_set():  # a blackhole: hold the bytes back, keep the connection
                    self._passing.wait(0.1)
                    continue
                try:
                    data = src.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    break
                while not self._passing.is_set() and not self._stop.is_set():
                    self._passing.wait(0.1)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
