"""`rtaudiod-sim` in its own process, as `python -m rtaudiod.sim` runs it, plus what each session did.

    python -m benchmarks.e2e.sim_process --port 0 --dialect ga --api-key K --pace 1

Same flags and the same "listening on" line as `rtaudiod-sim`; on SIGTERM, before it exits, one JSON line
`{"sessions": [...]}` with each session's received uplink audio, responses and VAD events: the record the
benchmark checks every contender against (same work done, or the figures are not comparable).
"""

from __future__ import annotations

import base64
import json
import signal
import sys
import threading
from collections import Counter

from rtaudiod.sim import Simulator
from rtaudiod.sim.__main__ import parse_args


def summary(session) -> dict:
    received = Counter(e.get("type") for e in session.received_events)
    sent = Counter(e.get("type") for e in session.sent_events)
    uplink = sum(len(base64.b64decode(e.get("audio", ""))) for e in session.received_events
                 if e.get("type") == "input_audio_buffer.append")
    downlink = sum(len(base64.b64decode(e.get("delta", ""))) for e in session.sent_events
                   if e.get("type") in ("response.output_audio.delta", "response.audio.delta"))
    done = [e["response"].get("status") for e in session.sent_events if e.get("type") == "response.done"]
    return {"uplink_audio_bytes": uplink, "appends": received["input_audio_buffer.append"],
            "downlink_audio_bytes": downlink, "responses": dict(Counter(done)),
            "speech_started": sent["input_audio_buffer.speech_started"],
            "truncates": received["conversation.item.truncate"], "cancels": received["response.cancel"],
            "errors": [e["error"].get("code") for e in session.sent_events if e.get("type") == "error"],
            "dropped_records": session.dropped_records, "received": dict(received)}


def main() -> int:
    args = parse_args(sys.argv[1:])
    stop = threading.Event()
    signals = {signal.SIGINT, signal.SIGTERM}
    for sig in signals:
        signal.signal(sig, lambda *_: stop.set())
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)  # the server's threads inherit the mask (see rtaudiod.sim)
    try:
        sim = Simulator(dialect=args.dialect, api_key=args.api_key, host=args.host, port=args.port, pace=args.pace,
                        chunk_ms=args.chunk_ms, voice=args.voice, max_session_seconds=args.max_session_seconds,
                        response_latency=args.response_latency, first_audio_latency=args.first_audio_latency,
                        transcription_latency=args.transcription_latency,
                        ping_interval=args.ping_interval or None, ping_timeout=args.ping_timeout or None,
                        jitter=args.jitter, seed=args.seed).start()
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)
    print(f"rtaudiod-sim listening on {sim.url} dialect={args.dialect}", flush=True)
    stop.wait()
    sessions = [summary(s) for s in sim.sessions]
    sim.stop()
    print(json.dumps({"sessions": sessions}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
