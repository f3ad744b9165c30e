"""The beta dialect's server VAD ranges, from the seeds' VAD parameter table (001_9524aca5fab4315f.txt,
"语音检测参数表": prefix_padding_ms 0-5000, silence_duration_ms 100-10000): a value outside is refused with an
error naming the field, and the session.update is dropped whole (the instructions beside it are not applied)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("key, value, code", [
    ("prefix_padding_ms", 5001, "integer_above_max_value"),
    ("silence_duration_ms", 99, "integer_below_min_value"),
    ("silence_duration_ms", 10001, "integer_above_max_value"),
])
def test_beta_vad_values_out_of_range_are_refused_and_the_update_dropped(connect, key, value, code):
    sim, client = connect("beta")
    client.send({"type": "session.update", "event_id": "vad", "session": {
        "instructions": "Speak like a pirate.", "turn_detection": {"type": "server_vad", key: value}}})
    error = client.expect_error()
    assert (error["code"], error["param"], error["event_id"]) == (code, f"session.turn_detection.{key}", "vad")
    settings = sim.sessions[0].settings
    assert settings["instructions"] == "You are a helpful assistant."
    assert settings["turn_detection"].get(key) != value


@pytest.mark.parametrize("key, value", [("prefix_padding_ms", 0), ("prefix_padding_ms", 5000),
                                        ("silence_duration_ms", 100), ("silence_duration_ms", 10000)])
def test_beta_vad_values_at_the_ends_of_the_range_are_accepted(connect, key, value):
    sim, client = connect("beta")
    client.send({"type": "session.update", "session": {"turn_detection": {"type": "server_vad", key: value}}})
    assert client.recv()["session"]["turn_detection"][key] == value
