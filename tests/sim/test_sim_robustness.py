"""Bad client input never crashes a session: a seeded fuzz of malformed events, and a real-time pacing check."""

import base64
import copy
import json
import os
import random
import time

from simhelpers import REAL_TIME, tone

SEEDS = {
    "beta": [
        {"type": "session.update", "session": {"modalities": ["text"], "turn_detection": None,
                                               "input_audio_format": "pcm16", "tools": []}},
        {"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                                                      "content": [{"type": "input_text", "text": "hi"}]}},
        {"type": "conversation.item.truncate", "item_id": "item_x", "content_index": 0, "audio_end_ms": 10},
        {"type": "response.create", "response": {"modalities": ["text"], "instructions": "x"}},
        {"type": "response.cancel"},
    ],
    "ga": [
        {"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"],
                                               "audio": {"input": {"turn_detection": None,
                                                                   "format": {"type": "audio/pcm", "rate": 24000}}}}},
        {"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                                                      "content": [{"type": "input_text", "text": "hi"}]}},
        {"type": "conversation.item.truncate", "item_id": "item_x", "content_index": 0, "audio_end_ms": 10},
        {"type": "response.create", "response": {"output_modalities": ["text"], "instructions": "x"}},
        {"type": "response.cancel"},
    ],
}
JUNK = [None, True, -1, 3.5, "", "x" * 300, [], [1, "a"], {}, {"type": 1}, {"nested": {"deep": [None]}}]


def _mutate(rng: random.Random, value, depth=0):
    """Replace, drop or add one thing somewhere in `value` (JSON-like)."""
    if isinstance(value, dict) and value and depth < 4 and rng.random() < 0.7:
        key = rng.choice(list(value))
        action = rng.random()
        if action < 0.2:
            value.pop(key)
        elif action < 0.3:
            value["unexpected_" + str(rng.randint(0, 9))] = rng.choice(JUNK)
        else:
            value[key] = _mutate(rng, value[key], depth + 1)
        return value
    if isinstance(value, list) and value and rng.random() < 0.7:
        i = rng.randrange(len(value))
        value[i] = _mutate(rng, value[i], depth + 1)
        return value
    return copy.deepcopy(rng.choice(JUNK))


def test_fuzzed_events_get_errors_never_a_crash(connect, dialect):
    sim, client = connect(dialect)
    rng = random.Random(20261125)
    sent = 0
    for i in range(300):
        event = _mutate(rng, copy.deepcopy(rng.choice(SEEDS[dialect])))
        if isinstance(event, dict):
            event["event_id"] = f"fuzz_{i}"
        client.send(json.dumps(event))
        sent += 1
    client.send({"type": "input_audio_buffer.append", "audio": base64.b64encode(tone(200)).decode()})
    client.send({"type": "input_audio_buffer.clear", "event_id": "final"})
    events = client.until("input_audio_buffer.cleared", max_events=20000)
    errors = [e["error"] for e in events if e["type"] == "error"]
    assert errors, "the fuzz produced no invalid event at all"
    assert not [e for e in errors if e["type"] == "server_error"], errors
    assert all(e["code"] for e in errors)
    session = sim.sessions[0]
    assert session.close_code is None
    assert len(session.received_events) + len(session.invalid_messages) == sent + 2


def test_real_time_pace(connect):
    """pace=1: audio arrives at about real time (the service itself runs faster; this is the knob's floor)."""
    sim, client = connect("ga", **REAL_TIME, voice="synthetic")
    client.send({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                                                              "content": [{"type": "input_text", "text": "one two"}]}})
    client.send({"type": "response.create"})
    first = last = None
    audio = 0
    for _ in range(1000):
        event = client.recv()
        if event["type"] == "response.output_audio.delta":
            last = time.monotonic()
            first = first or last
            audio += len(base64.b64decode(event["delta"]))
        if event["type"] == "response.done":
            break
    audio_s = audio / 48000  # "Simulator heard: one two." = 4 words x 240 ms
    assert audio_s == 0.96
    assert 0.85 * (audio_s - 0.1) < last - first < audio_s + 0.3


def test_a_reply_whose_voice_cannot_be_synthesized_fails_and_the_session_goes_on(connect, dialect, tmp_path,
                                                                                 monkeypatch):
    """espeak-ng that exits with an error (a broken install) must not leave the response open forever: it ends
    with `response.done` status "failed", as the service ends one that fails on its side, and the next reply works."""
    broken = tmp_path / "espeak-ng"
    broken.write_text("#!/bin/sh\necho 'espeak-ng: cannot open voice data' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    sim, client = connect(dialect, voice="espeak")
    text = f"Say something unique {time.monotonic_ns()}."  # not in the synthesizer's cache
    client.send({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                                                              "content": [{"type": "input_text", "text": text}]}})
    client.send({"type": "response.create"})
    done = client.until("response.done")[-1]["response"]
    assert done["status"] == "failed"
    assert done["status_details"]["error"]["type"] == "server_error"
    assert "espeak" not in json.dumps(done)  # the service does not tell its internals
    monkeypatch.setenv("PATH", os.environ["PATH"].split(":", 1)[1])
    sim.options.voice = "synthetic"
    client.send({"type": "response.create"})
    assert client.until("response.done")[-1]["response"]["status"] == "completed"
