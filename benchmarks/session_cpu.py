"""CPU of a full-duplex session: the first figure of the end-to-end benchmark.

    python benchmarks/session_cpu.py [--seconds 60] [--dialect ga] [--format pcm16]

Workload: `rtaudiod-sim` in its own process (its CPU is not counted), real-time pace, service-like latencies, server
VAD. The microphone streams the whole time (20 ms frames at the session rate: an espeak-ng utterance, then 4 s of
silence, looped), so the service's VAD ends a turn every few seconds and the reply plays while the microphone
keeps streaming: duplex. The engine runs on the headless backend (the speaker is a thread draining the playout
ring in real time). Measured: this process's user + system CPU over the run, and over the same run with the same
microphone and speaker threads but no session (the floor), so the session's own cost reads off as the difference.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path[:0] = [str(TESTS / "session"), str(TESTS)]  # the tests' paced microphone and speech helpers

from sessionhelpers import Mic, null_engine, speech  # noqa: E402

from rtaudiod.session import RealtimeConfig, Session  # noqa: E402

KEY = "sk-bench-0123456789"


def start_sim(dialect: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "rtaudiod.sim", "--port", "0", "--dialect", dialect,
                             "--api-key", KEY, "--pace", "1"], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    url = next(w for w in line.split() if w.startswith("ws://"))
    return proc, url


def cpu() -> float:
    t = os.times()
    return t.user + t.system


def run(seconds: float, dialect: str = "ga", fmt: str = "pcm16", with_session: bool = True) -> dict:
    engine = null_engine(fmt, latency="balanced")
    rate = engine.config.session_rate
    utterance = speech("What is the weather like in the mountains today?", rate)
    mic = Mic(engine)
    proc = session = None
    try:
        if with_session:
            proc, url = start_sim(dialect)
            config = RealtimeConfig(base_url=url, dialect=dialect, api_key=KEY, audio_format=fmt,
                                    model="gpt-realtime" if dialect == "ga" else "gpt-4o-realtime-preview")
            session = Session(config, engine).start()
            if not session.wait_ready(10):
                raise RuntimeError(f"session not ready: {session.error}")
        silence = bytes(rate * 2 * 4)
        start_cpu, start = cpu(), time.monotonic()
        while time.monotonic() - start < seconds:
            if mic.idle:
                mic.say(utterance + silence)
            time.sleep(0.05)
        used, wall = cpu() - start_cpu, time.monotonic() - start
        out = {"seconds": round(wall, 1), "cpu_s": round(used, 3), "cpu_s_per_min": round(used * 60 / wall, 3),
               "core_percent": round(100 * used / wall, 2)}
        if session is not None:
            status = session.status()["counters"]
            out.update(frames_sent=status["frames_sent"], audio_bytes_sent=status["audio_bytes_sent"],
                       audio_deltas=status["audio_deltas"],
                       reply_latency=status["reply_latency"], uplink_latency=status["uplink_latency"],
                       playout_latency=status["playout_latency"], barge_ins=status["barge_ins"],
                       underruns=engine.status()["playout"]["underruns"])
        return out
    finally:
        if session is not None:
            session.stop()
        mic.close()
        engine.close()
        if proc is not None:
            proc.terminate()
            proc.wait(10)
            proc.stdout.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--dialect", choices=("ga", "beta"), default="ga")
    p.add_argument("--format", choices=("pcm16", "g711_ulaw", "g711_alaw"), default="pcm16")
    args = p.parse_args()
    floor = run(args.seconds, args.dialect, args.format, with_session=False)
    full = run(args.seconds, args.dialect, args.format)
    own = full["cpu_s_per_min"] - floor["cpu_s_per_min"]
    print(json.dumps({"floor": floor, "session": full, "session_own_cpu_s_per_min": round(own, 3),
                      "session_own_core_percent": round(own / 60 * 100, 2)}, indent=2))


if __name__ == "__main__":
    main()
