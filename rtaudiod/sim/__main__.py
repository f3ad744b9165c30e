"""`python -m rtaudiod.sim` / `rtaudiod-sim`: run the simulator until SIGINT or SIGTERM.

Prints one machine-readable line once listening:
`rtaudiod-sim listening on ws://127.0.0.1:PORT/v1/realtime dialect=ga`

On SIGINT or SIGTERM every session is closed at once with 1001 (going away) and the process exits 0.
"""

import argparse
import json
import signal
import sys
import threading
from typing import Any

from .server import PING_INTERVAL_S, PING_TIMEOUT_S, Simulator
from .session import FIRST_AUDIO_LATENCY_S, MAX_SESSION_S, RESPONSE_LATENCY_S, TRANSCRIPTION_LATENCY_S


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="rtaudiod-sim", description="A local Realtime API server (beta and GA).")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one (default)")
    p.add_argument("--dialect", choices=("beta", "ga"), default="ga")
    p.add_argument("--api-key", default=None, help="the key to accept (default: any non-empty key)")
    p.add_argument("--pace", type=_seconds, default=4.0,
                   help="send audio this many times faster than real time (1 = real time, 0 = as fast as possible; "
                        "default 4)")
    p.add_argument("--chunk-ms", type=int, default=100, help="audio per delta in ms (default 100)")
    p.add_argument("--voice", choices=("auto", "espeak", "synthetic"), default="auto")
    p.add_argument("--max-session-seconds", type=float, default=MAX_SESSION_S,
                   help=f"session length cap; then error session_expired and close 1001 (default {MAX_SESSION_S:g})")
    p.add_argument("--response-latency", type=_seconds, default=RESPONSE_LATENCY_S, metavar="S",
                   help=f"seconds from response.create to response.created (default {RESPONSE_LATENCY_S:g})")
    p.add_argument("--first-audio-latency", type=_seconds, default=FIRST_AUDIO_LATENCY_S, metavar="S",
                   help="seconds from response.create to the first audio (or text) delta "
                        f"(default {FIRST_AUDIO_LATENCY_S:g})")
    p.add_argument("--transcription-latency", type=_seconds, default=TRANSCRIPTION_LATENCY_S, metavar="S",
                   help="seconds from a commit to its input transcript's .completed "
                        f"(default {TRANSCRIPTION_LATENCY_S:g})")
    p.add_argument("--ping-interval", type=_seconds, default=PING_INTERVAL_S, metavar="S",
                   help=f"seconds between keepalive pings, 0 = none (default {PING_INTERVAL_S:g})")
    p.add_argument("--ping-timeout", type=_seconds, default=PING_TIMEOUT_S, metavar="S",
                   help=f"seconds to wait for a pong before closing with 1011 (default {PING_TIMEOUT_S:g})")
    p.add_argument("--jitter", type=_seconds, default=1.0, metavar="SCALE",
                   help="arrival jitter of the audio deltas, as the service's (small delays, occasional stalls of "
                        "100-250 ms that release the held deltas in one clump): this times its delays; 0 = none, "
                        "a metronome (default 1; none at pace 0)")
    p.add_argument("--seed", type=int, default=0, help="seed of the arrival jitter's draws (default 0)")
    p.add_argument("--record", metavar="FILE", default=None,
                   help="test hook: append every client event received to FILE as a JSON line "
                        '{"session": N, "event": {...}} (N counts connections from 0), flushed at once')
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    on_received = None
    if args.record is not None:
        # Test hook, not the service's behaviour: what `received_events` holds in-process, for a test that drives
        # the simulator as a separate process (and may SIGKILL it: every line is flushed as it is written).
        try:
            record = open(args.record, "a", encoding="utf-8")  # noqa: SIM115 (open for the process's lifetime)
        except OSError as exc:
            print(f"rtaudiod-sim: --record: {exc}", file=sys.stderr)
            return 2
        record_lock = threading.Lock()
        numbers: dict[str, int] = {}

        def on_received(session: Any, event: dict[str, Any]) -> None:
            with record_lock:
                number = numbers.setdefault(session.id, len(numbers))
                record.write(json.dumps({"session": number, "event": event}) + "\n")
                record.flush()
    stop = threading.Event()
    signals = {signal.SIGINT, signal.SIGTERM}
    for sig in signals:
        signal.signal(sig, lambda *_: stop.set())
    # The server's thread (and the threads it starts) inherit a mask blocking these, so the kernel delivers them to
    # this thread: one delivered to another thread would not wake the wait below, and the process would not stop.
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        sim = Simulator(dialect=args.dialect, api_key=args.api_key, host=args.host, port=args.port, pace=args.pace,
                        chunk_ms=args.chunk_ms, voice=args.voice, max_session_seconds=args.max_session_seconds,
                        response_latency=args.response_latency, first_audio_latency=args.first_audio_latency,
                        transcription_latency=args.transcription_latency,
                        ping_interval=args.ping_interval or None, ping_timeout=args.ping_timeout or None,
                        on_received=on_received, jitter=args.jitter, seed=args.seed)
        sim.start()
    except (ValueError, RuntimeError, TimeoutError) as exc:
        print(f"rtaudiod-sim: {exc}", file=sys.stderr)
        return 2
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)
    print(f"rtaudiod-sim listening on {sim.url} dialect={args.dialect}", flush=True)
    stop.wait()
    try:
        sim.stop()
    except TimeoutError as exc:
        print(f"rtaudiod-sim: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
