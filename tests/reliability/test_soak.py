"""Soak: a duplex session (the microphone streaming the whole time, a reply every few seconds at the service's pace)
with a subscriber taking the assistant's audio and transcripts, in the daemon process. After warm-up its RSS grows by
less than 2 MB, no queue grows, no thread is left behind, and every audio frame the daemon counted as sent is one
the simulator received.

45 s by default (15 s warm-up); 10 minutes (60 s warm-up) with RTAUDIOD_SOAK=1 or RTAUDIOD_SLOW=1. The figures are
printed (`pytest tests/reliability/test_soak.py -s`)."""

from __future__ import annotations

import statistics
import threading
import time

from reliahelpers import KEY, SOAK, daemon_config, rss_kib, thread_count, wait_until
from rtaudiod.sim import Simulator

SECONDS, WARMUP = (600, 60) if SOAK else (45, 15)


def appends(sim: Simulator) -> int:
    return sum(1 for s in sim.sessions for e in s.received_events if e["type"] == "input_audio_buffer.append")


def test_soak(tmp_path, start_daemon):
    with Simulator(dialect="ga", api_key=KEY, pace=1) as sim:  # the service's latencies, audio in real time
        daemon = start_daemon(daemon_config(tmp_path, sim.url)).ready()
        driver, listener = daemon.client(), daemon.client()
        listener.subscribe("audio.output", "transcript.assistant", "state")
        heard = {"audio_bytes": 0, "replies": 0}
        done = threading.Event()

        def listen() -> None:
            while not done.is_set():
                event = listener.next_event(0.5)
                if event is None:
                    continue
                if event.name == "audio.output" and event.payload:
                    heard["audio_bytes"] += len(event.payload)
                elif event.name == "transcript.assistant" and event.data.get("final"):
                    heard["replies"] += 1

        reader = threading.Thread(target=listen, daemon=True)
        reader.start()
        start = time.monotonic()
        samples: list[tuple[float, int]] = []  # (seconds since start, RSS KiB)
        threads_after_warmup = None
        turns = 0
        while (now := time.monotonic() - start) < SECONDS:
            if driver.status()["state"] == "ready":  # a new question once the last reply is over
                driver.send_text(f"Question number {turns}, tell me something")
                turns += 1
            samples.append((now, rss_kib(daemon.pid)))
            if threads_after_warmup is None and now >= WARMUP:
                threads_after_warmup = thread_count(daemon.pid)
            time.sleep(1.0)
        # Close the microphone (push-to-talk, no turn open: nothing goes up), so the counts can settle and match.
        wait_until(lambda: driver.status()["state"] == "ready", 30, "the last reply to end")
        withheld = driver.status()["counters"]["frames_withheld"]
        driver.update(turn_detection={"type": "none"})
        wait_until(lambda: driver.status()["counters"]["frames_withheld"] > withheld + 5, 10, "the microphone to close")
        status = driver.status()
        sent = status["counters"]["frames_sent"]
        wait_until(lambda: appends(sim) == sent, 10, f"the simulator to have all {sent} frames (has {appends(sim)})")
        done.set()
        reader.join(5)

        after = [kib for t, kib in samples if t >= WARMUP]
        growth_kib = statistics.median(after[-5:]) - statistics.median(after[:5])
        print(f"\nsoak {SECONDS} s: {turns} turns, {heard['replies']} replies heard by the subscriber, "
              f"{sent} frames sent = received; RSS {after[0] / 1024:.1f} MB after warm-up, growth "
              f"{growth_kib / 1024:+.2f} MB; threads {thread_count(daemon.pid)}")
        assert growth_kib < 2048, f"RSS grew by {growth_kib} KiB after warm-up: {samples}"
        assert turns >= SECONDS // 15 and heard["replies"] >= turns - 1 and heard["audio_bytes"] > 0
        assert len(sim.sessions) == 1 and status["counters"]["reconnects"] == 0
        # no queue grows: the control queues are empty, the rings hold no more than a frame or a reply
        control = status["control"]
        assert all(c["queued_bytes"] < 256 * 1024 and c["dropped_frames"] == 0 for c in control["connections"])
        assert control["inbound_audio_dropped"] == 0
        audio = status["audio"]
        assert audio["capture"]["ring_ms"] <= 100 and audio["playout"]["ring_ms"] <= 1000
        assert status["conversation"]["responses_queued"] == 0 and status["conversation"]["response_id"] is None
        assert thread_count(daemon.pid) == threads_after_warmup
        daemon.assert_healthy()
