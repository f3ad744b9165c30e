"""What every peer contender shares: the paced microphone, the speaker stand-in, the application's side of a
voice session (reply latency, barge-in), the command line, and the results. Each peer (peer_*.py) adds only
its client: connect, configure, send an append, read and decode events. The floor is this harness with no client.

Figures kept here, the same way for every peer and for rtaudiod (daemon_probe.py):
- uplink: a frame in the uplink thread's hands -> its append handed to the socket (rtaudiod: woken by a readable
  frame -> sent);
- downlink: a frame returned by the WebSocket read -> its PCM in the speaker's buffer (rtaudiod: write_delta);
- reply: speech_stopped received -> the first audio of the reply in the speaker's buffer;
- barge-in: speech_started received while the speaker plays -> the first speaker period that is silent.
"""

from __future__ import annotations

import argparse
import json
import queue
import signal
import threading
import time
import warnings
from typing import Callable

from benchmarks.e2e.figures import Samples
from benchmarks.e2e.wakeups import name_python_threads
from benchmarks.e2e.workload import read_mic


class Mic:
    """The microphone: one frame of the WAV every `frame_ms`, on absolute deadlines (no drift), into a queue the
    client's uplink thread reads; silence after the file's end."""

    def __init__(self, path: str, frame_ms: int) -> None:
        self.pcm, self.rate = read_mic(path)
        self.frame = self.rate * frame_ms // 1000 * 2
        self.period = frame_ms / 1000
        self.frames: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mic", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        silence, pos = bytes(self.frame), 0
        deadline = time.monotonic()
        while not self._stop.is_set():
            chunk = self.pcm[pos:pos + self.frame]
            pos += self.frame
            self.frames.put(chunk if len(chunk) == self.frame else silence)
            deadline += self.period
            self._stop.wait(max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.frames.put(None)  # wakes the uplink thread


class Speaker:
    """The speaker stand-in: takes one period of PCM16 from its buffer every `period_ms`, in real time. Knows
    which item plays and how much of it was played (for the truncate), and times barge-ins."""

    def __init__(self, rate: int, period_ms: int = 20) -> None:
        self.nbytes = rate * period_ms // 1000 * 2
        self.period = period_ms / 1000
        self.rate = rate
        self.buf = bytearray()
        self.lock = threading.Lock()
        self.item: str | None = None
        self.item_played = 0
        self.played = 0
        self.sounding = False
        self.barge_in = Samples()
        self._barge_since: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="speaker", daemon=True)
        self._thread.start()

    def write(self, pcm: bytes, item_id: str | None) -> None:
        with self.lock:
            if item_id != self.item:
                self.item, self.item_played = item_id, 0
            self.buf += pcm

    def flush(self) -> tuple[str | None, int] | None:
        """Barge-in: drop what is queued; returns (item, ms played) when something was playing, else None."""
        with self.lock:
            if not (self.buf or self.sounding):
                return None
            self.buf.clear()
            self._barge_since = time.perf_counter()
            return self.item, self.item_played * 1000 // (2 * self.rate)

    def _run(self) -> None:
        deadline = time.monotonic()
        while not self._stop.is_set():
            with self.lock:
                chunk = bytes(self.buf[:self.nbytes])
                del self.buf[:self.nbytes]
                self.item_played += len(chunk)
                self.played += len(chunk)
                self.sounding = bool(chunk)
                if not chunk and self._barge_since is not None:
                    self.barge_in.add((time.perf_counter() - self._barge_since) * 1000)
                    self._barge_since = None
            deadline += self.period
            self._stop.wait(max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)


class Conversation:
    """The application's side of the session, the same for every client: audio to the speaker (dropping a
    cancelled response's late deltas), the reply latency, barge-in (flush, then truncate what was heard)."""

    def __init__(self, speaker: Speaker) -> None:
        self.speaker = speaker
        self.truncate: Callable[[str, int], None] = lambda item_id, audio_end_ms: None  # the client sets it
        self.reply = Samples()
        self.downlink = Samples()
        self.deltas = self.pcm_received = self.responses_done = self.speech_starts = self.truncates = 0
        self._awaiting_since: float | None = None
        self._dropped: str | None = None
        self._response: str | None = None

    def audio(self, pcm: bytes, item_id: str | None, response_id: str | None, received: float) -> None:
        """A delta's PCM16; `received`: perf_counter() when its frame was returned by the WebSocket read."""
        if response_id is not None and response_id == self._dropped:
            return
        self._response = response_id
        self.speaker.write(pcm, item_id)
        now = time.perf_counter()
        self.downlink.add((now - received) * 1000)
        self.deltas += 1
        self.pcm_received += len(pcm)
        if self._awaiting_since is not None:
            self.reply.add((now - self._awaiting_since) * 1000)
            self._awaiting_since = None

    def speech_started(self) -> None:
        self.speech_starts += 1
        self._awaiting_since = None
        heard = self.speaker.flush()
        if heard is not None and heard[0] is not None:
            self._dropped = self._response
            self.truncates += 1
            self.truncate(*heard)

    def speech_stopped(self) -> None:
        self._awaiting_since = time.perf_counter()

    def response_done(self) -> None:
        self.responses_done += 1

    def event(self, kind: str) -> None:
        """Any other server event, by its GA type: the three the application acts on, the rest ignored."""
        handler = {"input_audio_buffer.speech_started": self.speech_started,
                   "input_audio_buffer.speech_stopped": self.speech_stopped,
                   "response.done": self.response_done}.get(kind)
        if handler is not None:
            handler()

    def summary(self) -> dict:
        return {"reply": self.reply.summary(), "downlink": self.downlink.summary(),
                "barge_in": self.speaker.barge_in.summary(), "deltas": self.deltas,
                "pcm_received": self.pcm_received, "played": self.speaker.played,
                "responses_done": self.responses_done, "speech_started": self.speech_starts,
                "truncates": self.truncates}


def session_settings(fmt: str) -> dict:
    """The GA session.update settings every peer sends: the format both ways, server VAD."""
    wire = {"type": "audio/pcm", "rate": 24000} if fmt == "pcm16" else {"type": "audio/pcmu"}
    return {"type": "realtime", "output_modalities": ["audio"],
            "audio": {"input": {"format": wire, "turn_detection": {"type": "server_vad"}},
                      "output": {"format": wire, "voice": "marin"}}}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--url", help="the simulator's ws:// URL (without ?model=)")
    p.add_argument("--key", default="")
    p.add_argument("--mic", required=True, help="the microphone WAV (workload.py)")
    p.add_argument("--format", default="pcm16", choices=("pcm16", "g711_ulaw"))
    p.add_argument("--frame-ms", type=int, default=20)
    p.add_argument("--out", required=True, help="where to write the results (JSON)")
    return p.parse_args()


def run(client: Callable | None) -> None:
    """Run a peer until SIGTERM. `client(args, mic, conversation)` connects and configures, sets
    `conversation.truncate`, starts its receive and uplink threads, and returns (uplink Samples, a function of its
    counters, a close function); None: the floor."""
    name_python_threads()  # for the wake-ups probe (wakeups.py), as rtaudiod's
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    args = parse_args()
    mic = Mic(args.mic, args.frame_ms)
    speaker = Speaker(mic.rate)
    if client is None:  # the floor: the frames are taken and dropped, nothing is sent
        threading.Thread(target=lambda: [None for _ in iter(mic.frames.get, None)], daemon=True).start()
        conversation, uplink, counters, close = None, Samples(), dict, lambda: None
    else:
        conversation = Conversation(speaker)
        uplink, counters, close = client(args, mic, conversation)
    mic.start()
    print("streaming", flush=True)
    stop.wait()
    mic.stop()
    close()
    speaker.stop()
    out = {"uplink": uplink.summary(), **counters()}
    if conversation is not None:
        out.update(conversation.summary())
    with open(args.out, "w") as f:
        json.dump(out, f)


def wire_codec(fmt: str) -> tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]:
    """(PCM16 -> wire bytes, wire bytes -> PCM16) for the format, as a user would write it: audioop for G.711."""
    if fmt == "pcm16":
        return (lambda pcm: pcm), (lambda wire: wire)
    with warnings.catch_warnings():  # deprecated on 3.11-3.12; audioop-lts on 3.13+
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop
    return (lambda pcm: audioop.lin2ulaw(pcm, 2)), (lambda wire: audioop.ulaw2lin(wire, 2))


def start_client_threads(receive: Callable[[], None], mic: Mic, send: Callable[[bytes], None],
                         counts: dict) -> Samples:
    """A peer's two threads: its receive loop and the paced uplink; returns the uplink's per-frame timings."""
    uplink = Samples()
    threading.Thread(target=receive, name="receive", daemon=True).start()
    threading.Thread(target=uplink_loop, args=(mic, send, uplink, counts), name="uplink", daemon=True).start()
    return uplink


def uplink_loop(mic: Mic, send: Callable[[bytes], None], uplink: Samples, counts: dict) -> None:
    """The uplink thread: each frame from the microphone through `send` (encode and hand to the socket)."""
    for pcm in iter(mic.frames.get, None):
        t = time.perf_counter()
        try:
            send(pcm)
        except Exception:  # the connection closed at the end of the run
            return
        uplink.add((time.perf_counter() - t) * 1000)
        counts["frames_sent"] += 1
