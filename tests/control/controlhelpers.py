"""Helpers for the control tests: a whole stack (simulator, engine, session, control server, a connected client),
raw socket connections for hand-written lines, and waiting.

The session tests' helpers (`tests/session/sessionhelpers.py`: the simulator settings, the null engine, the paced
microphone, the conformance check) are reused as they are: `tests/session` is put on sys.path here, so this module
works whether or not the session tests are collected in the same run.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_SESSION_TESTS = str(Path(__file__).resolve().parent.parent / "session")
if _SESSION_TESTS not in sys.path:
    sys.path.insert(0, _SESSION_TESTS)

from sessionhelpers import (FAST, KEY, REAL_TIME, Mic, Recorder, check_conformance, config_for,  # noqa: E402
                            null_engine, wait_until)

from rtaudiod.audio import AudioEngine  # noqa: E402
from rtaudiod.control import Client, ControlServer  # noqa: E402
from rtaudiod.session import Session  # noqa: E402
from rtaudiod.sim import Simulator  # noqa: E402

__all__ = ["FAST", "KEY", "REAL_TIME", "Raw", "Stack", "check_conformance", "make_stack", "wait_until"]


@dataclass
class Stack:
    """A running daemon in miniature. `client` is connected; `connect()` opens more (closed at teardown)."""

    sim: Simulator
    engine: AudioEngine
    mic: Mic
    session: Session
    server: ControlServer
    client: Client
    path: str
    recorder: Recorder
    _extra: list[Any] = field(default_factory=list)

    def connect(self, **kwargs: Any) -> Client:
        client = Client(self.path, **kwargs)
        self._extra.append(client)
        return client

    def raw(self) -> Raw:
        raw = Raw(self.path)
        self._extra.append(raw)
        return raw

    def sent_audio(self, item_id: str) -> bytes:
        """The PCM16 the simulator sent for `item_id` (base64 deltas decoded, in order)."""
        import base64

        from rtaudiod.codecs import alaw_decode, ulaw_decode

        wire = {"ga": "response.output_audio.delta", "beta": "response.audio.delta"}[self.sim.dialect.name]
        sent = b"".join(base64.b64decode(e["delta"]) for s in self.sim.sessions for e in s.sent_events
                        if e["type"] == wire and e["item_id"] == item_id)
        fmt = self.session.config.audio_format
        return {"g711_ulaw": ulaw_decode, "g711_alaw": alaw_decode}.get(fmt, bytes)(sent)


@contextmanager
def make_stack(path: str | os.PathLike[str], dialect: str = "ga", fmt: str = "pcm16",
               sim_kwargs: dict[str, Any] | None = None, server_kwargs: dict[str, Any] | None = None,
               **config: Any) -> Iterator[Stack]:
    """Simulator (FAST unless `sim_kwargs` say otherwise) + null engine + paced silent microphone + a ready
    session + a started ControlServer at `path` + one connected Client. Everything is stopped at the end, and
    every event either side sent is checked against the `openai` models."""
    kwargs = {"api_key": KEY, **FAST, **(sim_kwargs or {})}
    sim = Simulator(dialect=dialect, **kwargs).start()
    engine = null_engine(fmt)
    mic = Mic(engine)
    recorder = Recorder()
    session = Session(config_for(sim, audio_format=fmt, **config), engine, on_event=recorder)
    server = client = None
    stack = None
    try:
        session.start()
        assert session.wait_ready(10), f"session not ready: {session.state} {session.error}"
        server = ControlServer(session, path, **(server_kwargs or {})).start()
        client = Client(str(path))
        stack = Stack(sim, engine, mic, session, server, client, str(path), recorder)
        yield stack
    finally:
        for extra in (stack._extra if stack else []):
            extra.close()
        if client is not None:
            client.close()
        if server is not None:
            server.stop()
        session.stop()
        mic.close()
        engine.close()
        sim.stop()
    check_conformance(sim)


class Raw:
    """A plain socket for hand-written lines: `send(b'...')`, `line()` -> the next message as a dict,
    `read_exact(n)` for a payload, `closed()` -> whether the daemon closed it."""

    def __init__(self, path: str, timeout: float = 5.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.hello = self.line()
        assert self.hello["event"] == "hello", self.hello

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        self.buf += chunk
        return bool(chunk)

    def line(self) -> dict[str, Any]:
        while b"\n" not in self.buf:
            if not self._fill():
                raise EOFError(f"closed; unread: {self.buf[:200]!r}")
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def message(self) -> tuple[dict[str, Any], bytes | None]:
        """The next message and its payload (None without one)."""
        header = self.line()
        n = header.get("payload_length")
        return header, None if n is None else self.read_exact(n)

    def reply(self) -> dict[str, Any]:
        """The next reply (events in between, and their payloads, are skipped)."""
        while True:
            header, _ = self.message()
            if "event" not in header:
                return header

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise EOFError("closed inside a payload")
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def closed(self) -> bool:
        """True once the daemon has closed the connection (after any lines still to read)."""
        try:
            while self._fill():
                pass
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        self.sock.close()
