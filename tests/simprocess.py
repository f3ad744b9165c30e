"""The simulator as a real process (`python -m rtaudiod.sim`, what the `rtaudiod-sim` console script runs), for
tests of what only a process can show: SIGKILL (no close frame, no FIN from a graceful shutdown), a new process
on the same port.

    with SimProcess("ga", record=tmp_path / "a.jsonl") as sim:
        sim.url, sim.port
        sim.received()          # [(connection number, client event), ...] from its --record file (if given)
        sim.kill()              # SIGKILL, reaped
    SimProcess("ga", port=sim.port, ...)   # a new process on the same port
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

LISTENING = re.compile(r"rtaudiod-sim listening on (ws://127\.0\.0\.1:(\d+)/v1/realtime) dialect=(\w+)")


class SimProcess:
    def __init__(self, dialect: str, record: Path | None = None, port: int = 0, api_key: str | None = None,
                 args: tuple[str, ...] = (), timeout: float = 30.0) -> None:
        self.dialect = dialect
        self.record = None if record is None else Path(record)
        cmd = [sys.executable, "-m", "rtaudiod.sim", "--dialect", dialect, "--port", str(port), *args]
        if self.record is not None:
            cmd += ["--record", str(self.record)]
        if api_key is not None:
            cmd += ["--api-key", api_key]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stderr: list[str] = []
        self._drain = threading.Thread(target=self._drain_stderr, daemon=True)
        self._drain.start()  # its log must not fill the pipe
        line = self._first_line(timeout)
        match = LISTENING.search(line)
        if match is None:
            self.kill()
            raise RuntimeError(f"rtaudiod-sim did not start: {line!r} {''.join(self.stderr)[-2000:]}")
        self.url, self.port = match.group(1), int(match.group(2))
        assert match.group(3) == dialect

    def _first_line(self, timeout: float) -> str:
        got: list[str] = []
        reader = threading.Thread(target=lambda: got.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        return got[0] if got else ""

    def _drain_stderr(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line)

    def received(self) -> list[tuple[int, dict[str, Any]]]:
        """Every client event the process received, in order, as (connection number, event)."""
        if self.record is None or not self.record.exists():
            return []
        out = []
        for line in self.record.read_text(encoding="utf-8").splitlines():
            if line.endswith("}"):  # a line cut by SIGKILL mid-write is not an event
                entry = json.loads(line)
                out.append((entry["session"], entry["event"]))
        return out

    def kill(self) -> None:
        """SIGKILL, and reap it."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        self._close_pipes()

    def _close_pipes(self) -> None:
        self._drain.join(10)  # the pipe's end comes with the process's
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None and not self._drain.is_alive():
                pipe.close()

    def stop(self) -> int:
        """SIGTERM (a graceful stop: 1001 to every client); the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        self._close_pipes()
        return code

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()
