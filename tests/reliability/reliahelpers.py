"""The reliability tests' harness: the daemon as systemd runs it (a subprocess, its log in a file, its control socket
under tmp_path) and what /proc says about a process; `rtaudiod-sim` as a process is tests/simprocess.py's.

Quick by default; `RTAUDIOD_SLOW=1` (or `RTAUDIOD_SOAK=1` for the soak alone) runs the long versions.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

from rtaudiod.control import Client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "session"))
from sessionhelpers import wait_until  # noqa: E402, F401 - the tests' one deadline loop, re-exported here

KEY = "sk-reliability-0123456789abcdef"
SLOW = os.environ.get("RTAUDIOD_SLOW", "") not in ("", "0")
SOAK = SLOW or os.environ.get("RTAUDIOD_SOAK", "") not in ("", "0")
TICKS = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------------- /proc
def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_kib(pid: int) -> int:
    return int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1))


def thread_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


# ---------------------------------------------------------------------------------------------------- daemon
class Notify:
    """The service manager's end of NOTIFY_SOCKET, read all the time by a thread as systemd does (a socket nobody
    reads fills after 10 datagrams)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.messages: list[str] = []
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._closed.is_set():
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                continue

    def lines(self) -> list[str]:
        return [line for m in list(self.messages) for line in m.splitlines()]

    def wait(self, prefix: str, timeout: float) -> str:
        """The first line starting with `prefix`."""
        return wait_until(lambda: next((line for line in self.lines() if line.startswith(prefix)), None), timeout,
                          f"{prefix!r} from the daemon")

    def close(self) -> None:
        self._closed.set()
        self._reader.join(5)
        self.sock.close()


def daemon_config(tmp_path: Path, base_url: str, session: str = "", audio: str = 'backend = "null"',
                  control: str = "") -> Path:
    path = tmp_path / "rtaudiod.toml"
    path.write_text(f"""
[session]
base_url = "{base_url}"
model = "gpt-realtime"
instructions = "Be brief."
{session}
[audio]
{audio}
[control]
socket = "{tmp_path / 'control.sock'}"
{control}
""")
    return path


class Daemon:
    """One `python -m rtaudiod` process; its stderr goes to a file (a pipe nobody reads would fill up in a soak)."""

    def __init__(self, tmp_path: Path, config: Path, env: dict[str, str] | None = None) -> None:
        self.socket = tomllib.loads(Path(config).read_text())["control"]["socket"]
        self.notify = Notify(tmp_path / f"notify-{time.monotonic_ns()}")
        self.log_path = tmp_path / "rtaudiod.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        full_env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "CREDENTIALS_DIRECTORY")}
        full_env.update({"NOTIFY_SOCKET": self.notify.path, "OPENAI_API_KEY": KEY, "JOURNAL_STREAM": "8:1"})
        full_env.update(env or {})
        self.proc = subprocess.Popen([sys.executable, "-m", "rtaudiod", "--config", str(config)], env=full_env,
                                     stdout=subprocess.DEVNULL, stderr=self._log)
        self.pid = self.proc.pid
        self.clients: list[Client] = []

    def ready(self, timeout: float = 20) -> Daemon:
        self.notify.wait("READY=1", timeout)
        return self

    def client(self, timeout: float = 10) -> Client:
        """A control client, closed by stop()."""
        client = Client(self.socket, timeout=timeout)
        self.clients.append(client)
        return client

    @property
    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()

    def assert_healthy(self) -> None:
        """Alive, and no thread died: a dead session or control thread stops the daemon (exit 1), and any thread's
        uncaught exception or a guarded loop's crash leaves a traceback in the log."""
        assert self.proc.poll() is None, f"the daemon exited with {self.proc.returncode}:\n{self.log[-3000:]}"
        log = self.log
        for sign in ("Traceback", "crashed", "Exception in thread", "did not end"):
            assert sign not in log, f"{sign!r} in the daemon's log:\n{log[-3000:]}"

    def stop(self) -> int | None:
        for client in self.clients:
            client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        self.notify.close()
        return self.proc.returncode
