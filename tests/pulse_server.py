"""A private PulseAudio server with two null sinks, for audio tests on machines with no sound card.

Recipe and measurements: /work/shared/TESTING.md. `rtspk` is the speaker (what is played into it can be
recorded from `rtspk.monitor`), `rtmic` stands in for a microphone: the tests play into it and the
engine captures from `rtmic.monitor`, the default source. Both sinks run at 48 kHz stereo, the
commonest device format, so the engine's resampling and down-mixing are exercised and PulseAudio
itself converts nothing.

The fixture sets PULSE_SERVER (and a client.conf without autospawn) in os.environ, so PortAudio's ALSA
`pulse`/`default` devices reach this server and no other.
"""

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

RATE = 48000
CHANNELS = 2
SPEAKER = "rtspk"
MIC = "rtmic"
F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ from Python 3.10 on Linux; spelled out for older builds
FORMAT_ARGS = [f"--rate={RATE}", f"--channels={CHANNELS}", "--format=s16le", "--raw"]


class Recording:
    """parec on a source, each chunk stamped with its arrival time (time.monotonic)."""

    def __init__(self, env: dict[str, str], source: str):
        self._proc = subprocess.Popen(
            ["parec", "-d", source, "--latency-msec=5", *FORMAT_ARGS],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
        )
        # A 1 MiB pipe (5 s of audio): parec must not block, and lose audio, while a test holds our GIL on purpose.
        fcntl.fcntl(self._proc.stdout.fileno(), F_SETPIPE_SZ, 1 << 20)
        self.chunks: list[tuple[float, bytes]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        fd = self._proc.stdout.fileno()
        while True:
            data = os.read(fd, 1920)
            if not data:
                return
            self.chunks.append((time.monotonic(), data))

    def stop(self) -> "Recorded":
        self._proc.terminate()
        self._proc.wait(5)
        self._thread.join(5)
        self._proc.stdout.close()
        return Recorded(self.chunks)


@dataclass
class Recorded:
    chunks: list[tuple[float, bytes]]
    samples: np.ndarray = field(init=False)  # int16, shape (n, CHANNELS)

    def __post_init__(self) -> None:
        raw = b"".join(c for _, c in self.chunks)
        raw = raw[: len(raw) // (2 * CHANNELS) * 2 * CHANNELS]
        self.samples = np.frombuffer(raw, np.int16).reshape(-1, CHANNELS)

    def start_time(self) -> float:
        """An upper bound on the time the first recorded sample was rendered.

        A real-time stream's sample i is rendered at t0 + i/RATE and arrives later; each chunk's arrival
        minus the time its samples span is therefore >= t0, and the smallest such figure is the tightest
        bound (late by only the quickest delivery)."""
        ends = np.cumsum([len(c) // (2 * CHANNELS) for _, c in self.chunks])
        return min(t - end / RATE for (t, _), end in zip(self.chunks, ends, strict=True))


@dataclass
class PulseServer:
    env: dict[str, str]
    runtime_dir: Path
    keepalive: list[subprocess.Popen] = field(default_factory=list)
    speaker: str = SPEAKER
    mic: str = MIC
    rate: int = RATE
    channels: int = CHANNELS

    def pactl(self, *args: str) -> str:
        return subprocess.run(["pactl", *args], env=self.env, check=True, capture_output=True, text=True).stdout

    def record(self, source: str) -> Recording:
        return Recording(self.env, source)

    def play(self, sink: str, pcm: np.ndarray) -> subprocess.Popen:
        """Play interleaved int16 (RATE, CHANNELS) into a sink; returns the pacat process (wait() it; pacat drains
        its stream before it exits). The player is the test's signal source, not the system under test: a 200 ms
        buffer keeps it from underrunning on a loaded machine (with 20 ms it did, and the gaps it left in the
        "microphone" failed the capture tests' correlation, 0.52 instead of 1.0)."""
        proc = subprocess.Popen(["pacat", "--playback", "-d", sink, "--latency-msec=200", *FORMAT_ARGS],
                                stdin=subprocess.PIPE, stderr=subprocess.DEVNULL, env=self.env)
        proc.stdin.write(np.ascontiguousarray(pcm, np.int16).tobytes())
        proc.stdin.close()
        return proc

    def sink_latency_us(self) -> list[int]:
        out = self.pactl("list", "sinks")
        return [int(line.split()[1]) for line in out.splitlines() if line.strip().startswith("Latency:")]

    def keep_rendering(self, sink: str) -> None:
        """An idle null sink renders in blocks of up to 2 s (the first write of a new stream then stalls): a silent
        low-latency stream on it keeps it rendering every 20 ms."""
        self.keepalive.append(subprocess.Popen(
            ["pacat", "--playback", "-d", sink, "--latency-msec=20", *FORMAT_ARGS, "/dev/zero"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def unplug(self, sink: str) -> None:
        """Unload a null sink (and so its monitor source), as a USB device pulled out."""
        module = next(line.split()[0] for line in self.pactl("list", "short", "modules").splitlines()
                      if f"sink_name={sink} " in line + " ")
        self.pactl("unload-module", module)

    def plug(self, sink: str) -> None:
        """Load an unplugged null sink again, as before, with its keepalive and the defaults it had."""
        self.pactl("load-module", "module-null-sink", f"sink_name={sink}", f"rate={self.rate}",
                   f"channels={self.channels}", "format=s16le")
        if sink == SPEAKER:
            self.pactl("set-default-sink", SPEAKER)
        else:
            self.pactl("set-default-source", f"{MIC}.monitor")
        self.keep_rendering(sink)


def _wait(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise RuntimeError(f"PulseAudio test server: timed out waiting for {what}")
        time.sleep(0.05)


@contextlib.contextmanager
def running_pulse_server() -> Iterator[PulseServer]:
    """A PulseAudio server of its own, PULSE_SERVER pointing at it in os.environ while it runs."""
    for tool in ("pulseaudio", "pactl", "pacat", "parec"):
        if shutil.which(tool) is None:
            pytest.skip(f"`{tool}` is not installed (scripts/install-system-deps: pulseaudio pulseaudio-utils libasound2-plugins)")
    runtime = Path(tempfile.mkdtemp(prefix="rtaudiod-pulse-"))
    runtime.chmod(0o700)
    client_conf = runtime / "client.conf"
    client_conf.write_text("autospawn = no\n")
    socket = runtime / "native"
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime), PULSE_SERVER=f"unix:{socket}", PULSE_CLIENTCONFIG=str(client_conf))
    sinks = [f"--load=module-null-sink sink_name={name} rate={RATE} channels={CHANNELS} format=s16le" for name in (SPEAKER, MIC)]
    log = open(runtime / "pa.log", "wb")  # noqa: SIM115 - closed at teardown
    daemon = subprocess.Popen(
        ["pulseaudio", "--daemonize=no", "-n", "--exit-idle-time=-1", "--disallow-exit", "--log-target=stderr",
         *sinks, f"--load=module-native-protocol-unix auth-anonymous=1 socket={socket}"],
        env=env, stdout=subprocess.DEVNULL, stderr=log,
    )
    server = PulseServer(env=env, runtime_dir=runtime)
    saved = {k: os.environ.get(k) for k in ("PULSE_SERVER", "PULSE_CLIENTCONFIG")}
    try:
        def up() -> bool:
            if daemon.poll() is not None:
                raise RuntimeError(f"pulseaudio exited: {(runtime / 'pa.log').read_text()[-2000:]}")
            return subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0

        _wait(up, 10, "the server to answer")
        server.pactl("set-default-sink", SPEAKER)
        server.pactl("set-default-source", f"{MIC}.monitor")
        for sink in (SPEAKER, MIC):
            server.keep_rendering(sink)
        _wait(lambda: all(lat < 50000 for lat in server.sink_latency_us()), 10, "the sinks' latency to drop")
        os.environ["PULSE_SERVER"] = env["PULSE_SERVER"]
        os.environ["PULSE_CLIENTCONFIG"] = env["PULSE_CLIENTCONFIG"]
        yield server
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        for proc in [*server.keepalive, daemon]:
            proc.terminate()
        for proc in [*server.keepalive, daemon]:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
        shutil.rmtree(runtime, ignore_errors=True)


@pytest.fixture(scope="session")
def pulse_server() -> Iterator[PulseServer]:
    with running_pulse_server() as server:
        yield server
