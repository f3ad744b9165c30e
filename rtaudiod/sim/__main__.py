"""`python -m rtaudiod.sim` / `rtaudiod-sim`: run the simulator until interrupted.

Prints one machine-readable line once listening:
`rtaudiod-sim listening on ws://127.0.0.1:PORT/v1/realtime dialect=ga`
"""

import argparse
import signal
import sys
import threading

from .server import Simulator


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="rtaudiod-sim", description="A local Realtime API server (beta and GA).")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one (default)")
    p.add_argument("--dialect", choices=("beta", "ga"), default="ga")
    p.add_argument("--api-key", default=None, help="the key to accept (default: any non-empty key)")
    p.add_argument("--pace", type=float, default=4.0,
                   help="send audio this many times faster than real time (0 = as fast as possible; default 4)")
    p.add_argument("--chunk-ms", type=int, default=100, help="audio per delta in ms (default 100)")
    p.add_argument("--voice", choices=("auto", "espeak", "synthetic"), default="auto")
    p.add_argument("--max-session-seconds", type=float, default=3600.0,
                   help="session length cap; then error session_expired and close 1001 (default 3600)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        sim = Simulator(dialect=args.dialect, api_key=args.api_key, host=args.host, port=args.port, pace=args.pace,
                        chunk_ms=args.chunk_ms, voice=args.voice, max_session_seconds=args.max_session_seconds)
        sim.start()
    except (ValueError, RuntimeError, TimeoutError) as exc:
        print(f"rtaudiod-sim: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"rtaudiod-sim listening on {sim.url} dialect={args.dialect}", flush=True)
    while not stop.wait(1.0):
        pass
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
