"""A server that sends what it should not, to the daemon: fuzzed and truncated JSON, unknown event types, audio deltas
with broken base64 or odd lengths, huge frames, events out of order. Each broken frame is counted (`bad_events`,
`unknown_events`) and reported, and the session goes on: the next turn gets its reply, nothing reconnects, no thread
dies. A flood is logged once per `BAD_EVENT_LOG_INTERVAL_S` (the log of a device must not fill with it).

The frames go out through the simulator's `send_raw` test hook, on a real session; the fuzz is deterministic (a
seeded generator), mutating the events the simulator really sent in a turn."""

from __future__ import annotations

import base64
import json
import random
import time

import pytest

from reliahelpers import KEY, SLOW, daemon_config, wait_until
from rtaudiod.audio import AudioConfig, AudioEngine
from rtaudiod.session.receiver import BAD_EVENT_LOG_INTERVAL_S
from rtaudiod.sim import Simulator

FAST = {"pace": 0, "response_latency": 0, "first_audio_latency": 0, "transcription_latency": 0}


@pytest.fixture
def talking(tmp_path, start_daemon):
    """A daemon on a simulator, one turn done (its events are the fuzz corpus); yields (sim, daemon, client)."""
    with Simulator(dialect="ga", api_key=KEY, **FAST) as sim:
        daemon = start_daemon(daemon_config(tmp_path, sim.url)).ready()
        client = daemon.client()
        client.subscribe("transcript.assistant")
        client.send_text("Give me something to work with")
        client.wait_for("transcript.assistant", lambda e: e.data.get("final"), timeout=15)
        yield sim, daemon, client


def still_talks(sim, daemon, client, text: str = "Still there") -> None:
    client.send_text(text)
    said = client.wait_for("transcript.assistant", lambda e: e.data.get("final"), timeout=15)
    assert said.data["text"] == f"Simulator heard: {text}."
    status = client.status()
    assert status["counters"]["reconnects"] == 0 and status["connected"]
    assert len(sim.sessions) == 1
    daemon.assert_healthy()


def is_json(frame: bytes) -> bool:
    try:
        json.loads(frame)
        return True
    except (ValueError, UnicodeDecodeError):
        return False


def mutants(corpus: list[bytes], count: int, rng: random.Random) -> list[bytes]:
    """Broken copies of real frames: cut short, bytes flipped, inserted or removed; only those no longer JSON."""
    out: list[bytes] = []
    while len(out) < count:
        frame = bytearray(rng.choice(corpus))
        how = rng.randrange(4)
        if how == 0:
            frame = frame[: rng.randrange(len(frame))]
        else:
            for _ in range(rng.randint(1, 4)):
                at = rng.randrange(len(frame))
                if how == 1:
                    frame[at] = rng.randrange(256)
                elif how == 2:
                    frame[at:at] = bytes([rng.choice(b'{}[]",:\\\x00\xff')])
                else:
                    del frame[at]
        if not is_json(bytes(frame)):
            out.append(bytes(frame))
    return out


def test_fuzzed_and_truncated_json_is_counted_and_the_session_goes_on(talking):
    sim, daemon, client = talking
    # Not the audio deltas: their fast path reads only what it needs (tested below), so a cut after the audio
    # can still play.
    corpus = [json.dumps(e).encode() for e in sim.sessions[0].sent_events if not e["type"].endswith("audio.delta")]
    count = 5000 if SLOW else 1000
    frames = mutants(corpus, count, random.Random(12))
    bad_before = client.status()["counters"]["bad_events"]
    logged_before = daemon.log.count("rtaudiod.session: skipped a ")
    started = time.monotonic()
    # text frames must be UTF-8 for the library to send them as text; the rest go as binary messages
    sim.send_raw([f.decode() if _utf8(f) else f for f in frames])
    wait_until(lambda: client.status()["counters"]["bad_events"] - bad_before == count, 20,
               f"{count} broken frames counted")
    # each one counted, the flood logged once per interval
    logged = daemon.log.count("rtaudiod.session: skipped a ") - logged_before
    assert 1 <= logged <= 1 + (time.monotonic() - started) // BAD_EVENT_LOG_INTERVAL_S, daemon.log
    still_talks(sim, daemon, client)
    print(f"\n{count} fuzzed server frames: each counted, {logged} warning(s) logged, the session went on")


def _utf8(frame: bytes) -> bool:
    try:
        frame.decode()
        return True
    except UnicodeDecodeError:
        return False


def delta(b64: str, item: str = "item_stray", response: str = "resp_stray") -> str:
    return json.dumps({"type": "response.output_audio.delta", "event_id": "event_x", "response_id": response,
                       "item_id": item, "output_index": 0, "content_index": 0, "delta": b64})


def test_broken_audio_deltas_unknown_events_and_huge_frames(talking):
    sim, daemon, client = talking
    before = client.status()
    bad = [
        delta("@@@@not-base64"),                      # outside the alphabet
        delta("QUJD="),                               # bad padding
        delta("QUJDRA")[:-12],                        # cut inside the base64
        delta("A" * 10) + "garbage",                  # trailing bytes after the object
        '{"type": "response.output_audio.delta"}',   # no delta at all
        '{"event_id": "e1"}',                         # no type
        '{"type": 42}',                               # a type that is not a string
        "null",
        json.dumps({"type": "response.output_audio_transcript.delta", "delta": "x" * 8_000_000}),  # 8 MB, no ids
    ]
    unknown = [json.dumps({"type": f"response.brand_new_{i}", "event_id": f"e{i}"}) for i in range(3)] * 2
    odd = [delta(base64.b64encode(b"\x01\x02\x03").decode(), item="item_odd", response="resp_odd")]
    huge = [delta(base64.b64encode(bytes(24000 * 2 * 90)).decode(), item="item_huge", response="resp_huge")]  # 90 s
    sim.send_raw([*bad, *unknown, *odd, *huge])
    wait_until(lambda: client.status()["counters"]["bad_events"] - before["counters"]["bad_events"] == len(bad), 15,
               f"{len(bad)} bad frames counted")
    after = client.status()
    assert {k: v for k, v in after["unknown_events"].items() if k.startswith("response.brand_new")} == \
        {f"response.brand_new_{i}": 2 for i in range(3)}
    # the 90 s delta (the last frame) fills what the 60 s playout ring holds and counts an overrun
    wait_until(lambda: client.status()["audio"]["playout"]["overruns"] > before["audio"]["playout"]["overruns"], 10,
               "the huge delta's overrun")
    client.stop_playback()
    still_talks(sim, daemon, client)


def test_an_odd_length_delta_is_padded_to_whole_samples():
    """Later audio would play byte-swapped otherwise."""
    engine = AudioEngine(AudioConfig(backend="null"))
    try:
        for pcm in (b"\x01\x02\x03", b"\x04\x05\x06\x07\x08"):
            engine.write_delta(delta(base64.b64encode(pcm).decode()).encode())
            assert engine.playout_ring.read_available % 2 == 0
        assert engine.playout_ring.read(10) == b"\x01\x02\x03\x00\x04\x05\x06\x07\x08\x00"
    finally:
        engine.close()


def test_events_out_of_order_do_not_derail_the_session(talking):
    sim, daemon, client = talking
    done = wait_until(lambda: next((e for e in sim.sessions[0].sent_events if e["type"] == "response.done"), None),
                      10, "the first response.done")
    stray = [
        delta(base64.b64encode(bytes(4800)).decode(), item="item_never_added", response="resp_never_created"),
        json.dumps({**done, "event_id": "event_again"}),  # response.done twice
        json.dumps({**done, "event_id": "event_other", "response": {**done["response"], "id": "resp_unknown"}}),
        json.dumps({"type": "response.output_audio.done", "event_id": "e3", "response_id": "resp_unknown",
                    "item_id": "item_unknown", "output_index": 0, "content_index": 0}),
        json.dumps({"type": "response.output_audio_transcript.delta", "event_id": "e4", "response_id": "resp_unknown",
                    "item_id": "item_unknown", "output_index": 0, "content_index": 0, "delta": "boo"}),
        json.dumps({"type": "input_audio_buffer.speech_stopped", "event_id": "e5", "audio_end_ms": 10,
                    "item_id": "item_unknown"}),  # a stop with no start
        json.dumps({"type": "conversation.item.truncated", "event_id": "e6", "item_id": "item_unknown",
                    "content_index": 0, "audio_end_ms": 5}),
    ]
    sim.send_raw(stray)
    wait_until(lambda: client.status()["counters"]["stray_events"] == 1, 5, "the second response.done counted")
    assert "ignored a second response.done" in daemon.log
    client.stop_playback()
    still_talks(sim, daemon, client, "After the confusion")
