"""Counters and latency figures of a session, written by its threads and read from any thread.

Each counter has one writer thread (plain int increments; a reader may see a value one step old, never a torn one),
and `server_errors` and `unknown_events` are Counters one thread writes (the actor, the receive thread). Latencies
keep the last `window` samples; each has one writer too (the uplink's, or the actor's), and a reader copies the
samples in one step.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["Latency", "SessionStats"]


class Latency:
    """The last `window` samples of one latency, in milliseconds: count, p50, p99, max."""

    def __init__(self, window: int = 1000) -> None:
        self._samples: deque[float] = deque(maxlen=window)
        self.count = 0

    def add(self, ms: float) -> None:
        self._samples.append(ms)
        self.count += 1

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self._samples)  # copies the deque in one step (C, under the GIL) before sorting
        if not ordered:
            return {"count": self.count, "p50_ms": None, "p99_ms": None, "max_ms": None}
        pick = lambda q: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)  # noqa: E731
        return {"count": self.count, "p50_ms": pick(0.50), "p99_ms": pick(0.99), "max_ms": round(ordered[-1], 3)}


@dataclass
class SessionStats:
    # uplink thread
    frames_sent: int = 0  # input_audio_buffer.append frames
    audio_bytes_sent: int = 0  # wire audio bytes (PCM16 or G.711 codes) in them
    frames_withheld: int = 0  # captured but not sent: push-to-talk closed, not connected yet, or reconnecting
    mic_bytes_sent: int = 0  # the microphone's share (PCM16 at the session rate; injected audio not counted)
    mic_bytes_withheld: int = 0  # ...and what the listening or push-to-talk gate kept on the device
    # receive thread
    events_received: int = 0
    audio_deltas: int = 0  # audio deltas written to the playout ring
    audio_bytes_received: int = 0  # PCM16 bytes they held
    bad_events: int = 0  # frames that are not valid events (logged, skipped)
    stray_events: int = 0  # valid events out of order, a second response.done (logged, ignored)
    late_tool_results: int = 0
    # by wire type, over every connection of the session (each connection's codec starts counting afresh)
    unknown_events: Counter = field(default_factory=Counter)
    # the conversation's actor
    events_sent: int = 0
    reconnects: int = 0
    renewals: int = 0
    barge_ins: int = 0
    tool_calls: int = 0
    tool_errors: int = 0  # handler failed, timed out, or no handler: an error output was sent
    commits_skipped: int = 0  # turn_end with less than min_commit_ms of audio: not committed
    responses_queued: int = 0  # response.create held back until the active response was done
    server_errors: Counter = field(default_factory=Counter)  # by error code
    # latency figures
    reply_latency: Latency = field(default_factory=Latency)  # speech_stopped / turn_end -> first audio delta
    playout_latency: Latency = field(default_factory=Latency)  # first delta -> first sample handed to the device
    uplink_latency: Latency = field(default_factory=Latency)  # frame readable in the capture ring -> sent

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Latency):
                out[f.name] = value.summary()
            elif isinstance(value, Counter):
                out[f.name] = dict(value)
            else:
                out[f.name] = value
        return out
