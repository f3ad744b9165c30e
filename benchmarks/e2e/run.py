"""Run one contender on one workload: a fresh simulator process, the contender's process, its CPU and memory
from the kernel, its own figures, and the simulator's record of what it did.

Every contender runs alone (one after the other) unless `parallel` is asked for, which only the quick mode does:
it checks the harness, not the figures.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.e2e.procstat import Sampler, peak_rss_mb
from benchmarks.e2e.wakeups import Window
from benchmarks.e2e.workload import Workload

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-bench-0123456789"
PEERS = {"seed": "peer_seed", "careful": "peer_careful", "openai": "peer_openai", "floor": "floor"}
LATENCY_MODE = {10: "low", 20: "balanced", 40: "high"}  # rtaudiod's capture frame per latency mode
#: rtaudiod's rows on the PulseAudio server, each backend named in its config: natively (libpulse, the pulse backend
#: `audio.backend = "auto"` chooses when the devices are the sound server), and through PortAudio and ALSA's pulse
#: plugin (pyaudio, the contrast).
BACKENDS = {"rtaudiod-pulse": "pulse", "rtaudiod-pulse-portaudio": "pyaudio"}
#: The simulator's audio deltas arrive as the service's do: real time, with its arrival jitter (rtaudiod/sim/
#: jitter.py), the same seed for every contender, so each gets the same arrival pattern.
SIM_ARGS = ["--pace", "1", "--jitter", "1", "--seed", "0"]


@dataclass
class Spec:
    """One row: `contender` (rtaudiod, a key of BACKENDS or a key of PEERS) on `workload`."""
    contender: str
    workload: Workload
    mic: str  # the microphone WAV
    seconds: float
    frame_ms: int = 20
    subscribers: int = 0  # audio.output subscribers on rtaudiod's control socket
    label: str = ""
    audio: dict = field(default_factory=dict)  # more [audio] settings for rtaudiod (TOML values)

    def __post_init__(self) -> None:
        self.label = self.label or self.contender


def start_sim(sim_args: list[str] = SIM_ARGS, key: str = KEY) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.e2e.sim_process", "--port", "0", "--dialect", "ga",
                             "--api-key", key, *sim_args], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    line = proc.stdout.readline()
    url = next((w for w in line.split() if w.startswith("ws://")), None)
    if url is None:
        proc.kill()
        raise RuntimeError(f"rtaudiod-sim did not start: {line!r}")
    return proc, url


def stop_sim(proc: subprocess.Popen) -> list[dict]:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    return json.loads(out.strip().splitlines()[-1])["sessions"]


def daemon_config(spec: Spec, url: str, socket: str, backend: str) -> str:
    w = spec.workload
    lines = ["[daemon]", 'simulate = "never"', 'log_level = "warning"', "audio_fallback = false", "",
             "[audio]", f'backend = "{backend}"', f'latency = "{LATENCY_MODE[spec.frame_ms]}"']
    if backend == "wav":
        lines.append(f'wav_input = "{spec.mic}"')  # the speaker's audio is discarded, paced in real time
    lines += [f"{key} = {value}" for key, value in spec.audio.items()]
    lines += ["", "[session]", f'base_url = "{url}"', 'model = "gpt-realtime"', 'dialect = "ga"',
              f'audio_format = "{w.fmt}"', 'voice = "marin"', "", "[session.turn_detection]", 'type = "server_vad"',
              "", "[control]", f'socket = "{socket}"']
    if w.listen_mode != "always":
        lines += ["", "[listen]", f'mode = "{w.listen_mode}"']
    return "\n".join(lines) + "\n"


def command(spec: Spec, url: str, tmp: Path, out: Path) -> tuple[list[str], dict]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), BENCH_E2E_OUT=str(out))
    if spec.contender.startswith("rtaudiod"):
        backend = BACKENDS.get(spec.contender, "wav")
        config = tmp / f"{spec.label}.toml"
        config.write_text(daemon_config(spec, url, str(tmp / f"{spec.label}.sock"), backend))
        env["OPENAI_API_KEY"] = KEY
        if spec.workload.listen_mode != "always":
            env["RTAUDIOD_LISTEN_MODE"] = spec.workload.listen_mode
        return [sys.executable, "-m", "benchmarks.e2e.daemon_probe", "--config", str(config)], env
    return [sys.executable, "-m", f"benchmarks.e2e.{PEERS[spec.contender]}", "--url", url, "--key", KEY,
            "--mic", spec.mic, "--format", spec.workload.fmt, "--frame-ms", str(spec.frame_ms), "--out", str(out)], env


def wait_streaming(proc: subprocess.Popen, timeout: float) -> bool:
    """True once the contender prints "streaming"; False when it exits first."""
    found = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            if line.strip() == "streaming":
                found.set()
    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not found.wait(0.05):
        if proc.poll() is not None or time.monotonic() > deadline:
            return False
    return True


def run(spec: Spec, tmp: Path, pulse=None) -> dict:
    """One contender's row: figures, the simulator's record, or why it was skipped. `mic_held_mb`: the microphone
    WAV that rtaudiod's wav backend reads whole before it starts (filebackend.open_input_c), in its peak RSS; the
    peers read theirs as they go, and a sound card holds none."""
    tmp.mkdir(parents=True, exist_ok=True)
    out, errlog = tmp / f"{spec.label}.json", tmp / f"{spec.label}.stderr"
    sim, url = start_sim() if spec.contender != "floor" else (None, "")
    helpers: list[subprocess.Popen] = []
    try:
        argv, env = command(spec, url, tmp, out)
        if pulse is not None:
            env.update(pulse.env)
        with open(errlog, "w") as err:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True, env=env, cwd=ROOT)
        sampler = Sampler(proc.pid)
        if not wait_streaming(proc, 60):
            proc.kill()
            proc.wait()
            sampler.stop()
            stderr = errlog.read_text()
            if spec.workload.listen_mode != "always" and "listen" in stderr:
                said = stderr.strip().splitlines()[-1].split(" (value:")[0]
                return {"label": spec.label, "skipped": f"this rtaudiod does not know [listen] mode yet ({said})"}
            raise RuntimeError(f"{spec.label} did not start streaming:\n{stderr[-3000:]}")
        start, cpu_start = sampler.sample()
        wakeups = Window(proc.pid)
        if pulse is not None:
            helpers.append(pulse.play_mic(spec.mic))
        if spec.subscribers:
            helpers.append(subprocess.Popen([sys.executable, "-m", "benchmarks.e2e.subscribers",
                                             str(spec.subscribers), str(tmp / f"{spec.label}.sock")],
                                            stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env))
        time.sleep(spec.seconds)
        end, cpu_end = sampler.sample()
        woke = wakeups.end()
        rss = peak_rss_mb(proc.pid)
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        sampler.stop()
        figures = json.loads(out.read_text())
        subscribed = None
        for helper in helpers:
            helper.send_signal(signal.SIGTERM)
            text, _ = helper.communicate(timeout=15)
            if helper.args[-2:-1] == [str(spec.subscribers)]:
                subscribed = json.loads(text.strip().splitlines()[-1]) if text else None
    finally:
        for helper in helpers:
            if helper.poll() is None:
                helper.kill()
        sessions = stop_sim(sim) if sim is not None else []
    window = end - start
    return {"label": spec.label, "contender": spec.contender, "workload": spec.workload.name,
            "frame_ms": spec.frame_ms, "subscribers": spec.subscribers, "window_s": window,
            "mic_held_mb": os.path.getsize(spec.mic) / 2**20 if spec.contender == "rtaudiod" else 0.0,
            "cpu_window_s": cpu_end - cpu_start, "cpu_total_s": cpu_end, "peak_rss_mb": rss, "wakeups": woke,
            "timeline": [(t - start, c) for t, c in sorted(sampler.samples)], "figures": figures,
            "sim": sessions[0] if sessions else None, "subscribed": subscribed,
            "rate": spec.workload.rate, "wire_bytes_per_sample": 2 if spec.workload.fmt == "pcm16" else 1}


@contextlib.contextmanager
def nothing():
    yield None
