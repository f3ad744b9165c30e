"""Issue 17's jitter figure: the daemon against `rtaudiod-sim --pace 1` with the service's arrival jitter, N replies
one after the other: underruns per reply, and the start latency the playout adds.

    python -m benchmarks.jitter_playout [--replies 20] [--jitter 1] [--seed 0] [--callbacks c|python] [--out FILE]
                                                                                              (make bench-jitter)

The simulator runs in its own process (benchmarks/e2e/sim_process.py: real time, the service's latencies, its
arrival jitter: rtaudiod/sim/jitter.py; `--jitter 0` for the contrast without; its record of the session is kept).
The daemon runs as users run it (`python -m rtaudiod`), on the null audio backend (its output paced in real time
like a sound card; the microphone silent, so server VAD never fires), with nobody else on its control socket;
`--callbacks python` runs its old Python callbacks instead of the C ones (`audio.callbacks`), for the contrast.
Each reply is asked for with `text.send` and followed through the `state` events (speaking, then back to ready);
the figures are the daemon's own, from `status`:
- underruns: `audio.playout.underruns` (the ring ran dry mid-item), counted per reply;
- added start latency: `counters.playout_latency` (an item's first audio delta written to the playout ring -> the
  device callback that handed its first sample to the device), p50/p99/max over the replies;
- also `audio.playout.prebuffer_ms` (the start target) and the reply latency the simulator's schedule sets.
Prints a Markdown table, writes the raw figures as JSON (`--out`, default .benchmarks/jitter-playout.json).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.e2e.run import ROOT, start_sim, stop_sim
from rtaudiod.control import Client
from rtaudiod.errors import ControlError

KEY = "sk-bench-jitter-0123456789"
#: Each reply is "Simulator heard: <this>." (rtaudiod/sim/replies.py): ~5 s of espeak-ng speech.
QUESTION = "please tell me what the weather will be like in the mountains this afternoon"


def daemon_config(url: str, socket: str, callbacks: str = "c") -> str:
    return "\n".join(["[daemon]", 'simulate = "never"', 'log_level = "warning"', "audio_fallback = false", "",
                      "[audio]", 'backend = "null"', f'callbacks = "{callbacks}"', "",
                      "[session]", f'base_url = "{url}"', 'model = "gpt-realtime"', 'dialect = "ga"', 'voice = "marin"',
                      "", "[control]", f'socket = "{socket}"']) + "\n"


def connect(socket: str, daemon: subprocess.Popen, timeout: float = 30.0) -> Client:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return Client(socket)
        except (OSError, ControlError):
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the daemon's control socket did not come up") from None
            time.sleep(0.2)


def wait_state(client: Client, *states: str, timeout: float = 30.0) -> None:
    client.wait_for("state", lambda e: e.get("state") in states, timeout=timeout)


def run(replies: int, jitter: float, seed: int, callbacks: str = "c") -> dict:
    sim, url = start_sim(["--pace", "1", "--jitter", str(jitter), "--seed", str(seed)], KEY)
    tmp = Path(tempfile.mkdtemp(prefix="bench-jitter-"))
    socket = str(tmp / "control.sock")
    (tmp / "rtaudiod.toml").write_text(daemon_config(url, socket, callbacks))
    err = open(tmp / "rtaudiod.stderr", "w")
    daemon = subprocess.Popen([sys.executable, "-m", "rtaudiod", "--config", str(tmp / "rtaudiod.toml")],
                              stderr=err, stdout=subprocess.DEVNULL, cwd=ROOT, env=dict(os.environ, OPENAI_API_KEY=KEY))
    per_reply: list[dict] = []
    try:
        client = connect(socket, daemon)
        if client.subscribe("state")["state"] != "ready":
            wait_state(client, "ready")
        status = client.status()
        for n in range(replies):
            underruns, played = status["audio"]["playout"]["underruns"], status["audio"]["playout"]["played_ms"]
            client.send_text(f"{QUESTION} ({n + 1})")
            wait_state(client, "speaking")
            wait_state(client, "ready", "listening")
            status = client.status()
            per_reply.append({"underruns": status["audio"]["playout"]["underruns"] - underruns,
                              "played_ms": status["audio"]["playout"]["played_ms"] - played})
        client.close()
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
        err.close()
        sessions = stop_sim(sim)
    counters, playout = status["counters"], status["audio"]["playout"]
    return {"jitter": jitter, "seed": seed, "replies": per_reply, "prebuffer_ms": playout["prebuffer_ms"],
            "playout_latency": counters["playout_latency"], "reply_latency": counters["reply_latency"],
            "underruns": sum(r["underruns"] for r in per_reply), "latency_mode": status["audio"]["latency_mode"],
            "backend": status["audio"]["backend"], "callbacks": status["audio"]["callbacks"],
            "sim": sessions[0] if sessions else None,
            "playout_status": playout}  # all the playout reports at the end (an adaptive one: its target too)


def report(result: dict) -> list[str]:
    per = [r["underruns"] for r in result["replies"]]
    lat = result["playout_latency"]
    secs = [r["played_ms"] / 1000 for r in result["replies"]]
    return [f"| rtaudiod-sim --pace 1 --jitter {result['jitter']:g} --seed {result['seed']} | {len(per)} | "
            f"{result['underruns']} | {statistics.mean(per):.2f} | {max(per)} | "
            f"{sum(1 for u in per if u) } | {lat['p50_ms']}/{lat['p99_ms']}/{lat['max_ms']} | "
            f"{result['prebuffer_ms']} | {statistics.mean(secs):.2f} |"]


HEADER = ["| simulator | replies | underruns | per reply | most in one reply | replies with any | added start latency "
          "ms p50/p99/max | prebuffer ms | reply audio s (mean) |", "|---|---|---|---|---|---|---|---|---|"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--replies", type=int, default=20)
    p.add_argument("--jitter", type=float, default=1.0, help="the simulator's jitter scale (0 = none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--callbacks", choices=("c", "python"), default="c", help="the daemon's audio callbacks")
    p.add_argument("--out", type=Path, default=ROOT / ".benchmarks/jitter-playout.json")
    args = p.parse_args()
    began = time.monotonic()
    result = run(args.replies, args.jitter, args.seed, args.callbacks)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"Command: python -m benchmarks.jitter_playout {' '.join(sys.argv[1:])}".rstrip())
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())  # underruns grow with the machine's load: say it
    print(f"rtaudiod on the {result['backend']} backend, {result['callbacks']} callbacks, "
          f"latency mode {result['latency_mode']}; "
          f"{time.monotonic() - began:.0f} s; load average at the end {load} on {os.cpu_count()} cores\n")
    print("\n".join(HEADER + report(result)))
    print(f"\nunderruns per reply, in order: {' '.join(str(r['underruns']) for r in result['replies'])}")
    playout = result["playout_status"]
    if "target_ms" in playout:  # the jitter-adaptive start target (issue 17)
        print(f"start target at the end: {playout['target_ms']} ms (from {playout['prebuffer_ms']} ms, raised "
              f"{playout['target_raises']} times)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
