"""The client library against a real server: greeting, requests and replies, events, errors, threads."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from controlhelpers import KEY, wait_until
from rtaudiod.control import COMMANDS, TOPICS, Client, ControlError


def test_hello_names_the_protocol_the_session_and_every_command(stack):
    hello = stack.client.hello
    assert hello["protocol"] == 1 and hello["dialect"] == "ga" and hello["state"] == "ready"
    assert hello["audio"] == {"format": "s16le", "rate": 24000, "channels": 1, "session_format": "pcm16"}
    assert hello["commands"] == list(COMMANDS) and hello["topics"] == list(TOPICS)


def test_ping_status_and_no_key(stack):
    assert stack.client.ping() > 0
    status = stack.client.status()
    assert status["state"] == "ready" and status["connected"] and status["session_id"].startswith("sess_")
    assert status["audio"]["session_rate"] == 24000
    assert status["control"]["clients"] == 1 and status["control"]["connections"][0]["uid"] == 0
    assert KEY not in json.dumps(status)


@pytest.mark.parametrize("dialect, fmt", [("ga", "pcm16"), ("beta", "pcm16"), ("ga", "g711_ulaw"),
                                          ("beta", "g711_alaw")])
def test_a_text_turn_streams_its_transcript_and_audio(make_stack, dialect, fmt):
    stack = make_stack(dialect=dialect, fmt=fmt)
    rate = 24000 if fmt == "pcm16" else 8000
    c = stack.client
    assert c.hello["dialect"] == dialect and c.hello["audio"]["rate"] == rate
    snapshot = c.subscribe("state", "transcript.assistant", "audio.output", "response")
    assert snapshot["state"] == "ready" and snapshot["audio"]["rate"] == rate
    c.send_text("Hello there")
    audio = bytearray()
    items = set()
    kinds = []
    for event in c.events(timeout=10):
        if event.name == "audio.output":
            assert event["format"] == "s16le" and event["rate"] == rate and event["channels"] == 1
            assert event["payload_length"] == len(event.payload)
            audio += event.payload
            items.add(event["item_id"])
        elif event.name == "response":
            kinds.append(event["kind"])
            if event["kind"] == "done":
                break
    (item,) = items
    assert kinds == ["created", "done"]
    assert bytes(audio) == stack.sent_audio(item)  # PCM16 at the session rate, G.711 decoded


def test_errors_raise_control_error_with_the_code(stack):
    c = stack.client
    with pytest.raises(ControlError) as e:
        c.request("no.such")
    assert e.value.code == "unknown_command"
    with pytest.raises(ControlError) as e:
        c.request("text.send", text=5)
    assert e.value.code == "bad_args" and "text" in str(e.value)
    with pytest.raises(ControlError) as e:
        c.turn_end()
    assert e.value.code == "no_turn"
    assert c.ping() > 0  # still usable


def test_requests_from_many_threads_each_get_their_own_reply(stack):
    c = stack.client
    failures: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(50):
                if i % 2:
                    assert c.ping() > 0
                else:
                    assert c.request("mic.unmute") == {"muted": False}
        except BaseException as e:  # pragma: no cover - reported below
            failures.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not failures


def test_connect_failures_and_a_closed_client(stack, tmp_path):
    with pytest.raises(ControlError) as e:
        Client(str(tmp_path / "nothing.sock"), timeout=1)
    assert e.value.code == "connect_failed"
    c = stack.connect()
    c.close()
    assert c.closed and c.next_event(0.1) is None
    with pytest.raises(ControlError) as e:
        c.ping()
    assert e.value.code == "disconnected"


def test_the_daemon_stopping_ends_the_events_and_fails_requests(stack):
    c = stack.connect()
    c.subscribe("state")
    stack.server.stop()
    assert list(c.events(timeout=5)) == []
    wait_until(lambda: c.closed, 5, "the client to see the close")
    with pytest.raises(ControlError) as e:
        c.status()
    assert e.value.code == "disconnected"


def test_a_refused_connection_raises_forbidden(tmp_path):
    path = str(tmp_path / "fake.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen()

    def refuse() -> None:
        conn, _ = listener.accept()
        conn.sendall(b'{"id": null, "error": {"code": "forbidden", "message": "uid 1000 may not use this socket"}}\n')
        conn.close()

    t = threading.Thread(target=refuse)
    t.start()
    try:
        with pytest.raises(ControlError) as e:
            Client(path, timeout=5)
        assert e.value.code == "forbidden" and "uid 1000" in str(e.value)
    finally:
        t.join(5)
        listener.close()


def test_a_reply_that_never_comes_is_no_reply(stack, monkeypatch):
    import time

    monkeypatch.setattr(stack.session, "status", lambda: time.sleep(1.5) or {})
    c = stack.connect(timeout=0.5)
    with pytest.raises(ControlError) as e:
        c.status()
    assert e.value.code == "no_reply"
    time.sleep(1.2)
    assert c.ping() > 0  # the late reply is dropped, the connection goes on


def test_a_payload_is_counted_in_bytes_whatever_its_item_size(stack):
    # len() of a memoryview of int16 samples counts samples: announcing that would put the stream out of step
    import numpy as np
    samples = np.zeros(2400, "<i2")
    result = stack.client.request("audio.input", memoryview(samples), rate=24000)
    assert result["frames"] + result["dropped"] == 2400
    assert stack.client.ping() > 0  # the next request still parses: the stream is in step
    stack.session.uplink.inject_ring.skip(stack.session.uplink.inject_ring.read_available)


def test_a_service_message_quoting_the_key_reaches_no_control_client(stack):
    # The service quotes the ends of a refused key in its errors; a proxy may echo the whole header. Whatever the
    # service says passes through the error and raw topics to other processes: the key must not.
    c = stack.client
    c.subscribe("error", "raw")
    quoted = json.dumps({"type": "error", "event_id": "event_1", "error": {
        "type": "invalid_request_error", "code": "invalid_value", "param": None, "event_id": None,
        "message": f"Bearer {KEY} refused; Incorrect API key provided: sk-test****6789 and ek_68af3e2b9c"}})
    stack.sim.send_raw([quoted])
    seen: dict[str, str] = {}
    for event in c.events(timeout=5):
        text = json.dumps(event.data)
        if "invalid_value" in text:
            seen[event.name] = text
        if len(seen) == 2:
            break
    assert sorted(seen) == ["error", "raw"], seen
    for text in seen.values():
        assert KEY not in text and "sk-test" not in text and "ek_68af" not in text, text
        assert "<redacted>" in text
    assert stack.session.stats.server_errors["invalid_value"] == 1 and c.ping() > 0
