"""RealtimeConfig: what it refuses (before the service would, dropping the whole session.update), what it sends
(checked strictly against the official models in both dialects), and that its repr never shows the key."""

from __future__ import annotations

import re

import msgspec
import pytest

from openai_schemas import validate_client_event
from rtaudiod import protocol as rp
from rtaudiod.session import RealtimeConfig
from rtaudiod.session.history import History


def load(**fields):
    return msgspec.convert({"api_key": "sk-secret-123456", **fields}, RealtimeConfig)


@pytest.mark.parametrize("fields,message", [
    ({"voice": "alloyy"}, "voice 'alloyy' is not one of"),
    ({"base_url": "https://api.openai.com/v1/realtime"}, "must start with ws:// or wss://"),
    ({"model": ""}, "model must not be empty"),
    ({"tool_choice": "get_weather"}, "tool_choice 'get_weather' is not"),
    ({"tools": [{"name": "a"}, {"name": "a"}]}, "tool names must be unique"),
    ({"tools": [{"name": "bad name"}]}, "tool name 'bad name'"),
    ({"turn_detection": {"type": "server_vad", "eagerness": "high"}}, "eagerness belongs to semantic_vad"),
    ({"turn_detection": {"type": "semantic_vad", "threshold": 0.5}}, "threshold belongs to server_vad"),
    ({"turn_detection": {"threshold": 1.5}}, "threshold must be between"),
    ({"turn_detection": {"type": "push"}}, "Invalid enum value 'push' - at `$.turn_detection.type`"),
    ({"temperature": 2.0}, "temperature must be between 0.6 and 1.2"),
    ({"max_output_tokens": 0}, "max_output_tokens must be 1..4096"),
    ({"reconnect_attempts": 0}, "reconnect_attempts must be >= 1"),
    ({"ping_interval_s": 0}, "ping_interval_s must be > 0"),
    ({"voise": "alloy"}, "unknown field `voise`"),
    ({"speed": 1.6}, "speed must be between 0.25 and 1.5"),
    ({"reasoning_effort": "max"}, "Invalid enum value 'max' - at `$.reasoning_effort`"),
    ({"prompt": {"id": ""}}, "prompt.id must not be empty"),
    ({"prompt": {"id": "pmpt_1", "versoin": "2"}}, "unknown field `versoin` - at `$.prompt`"),
    ({"truncation": "sometimes"}, "Invalid enum value 'sometimes' - at `$.truncation`"),
    ({"truncation": {"retention_ratio": 1.2}}, "truncation.retention_ratio must be between 0.0 and 1.0"),
    ({"truncation": {"retention_ratio": 0.5, "post_instructions_tokens": 0}},
     "truncation.post_instructions_tokens must be >= 1"),
    ({"dialect": "beta", "reasoning_effort": "low"}, "reasoning_effort exists only in the GA dialect"),
    ({"dialect": "beta", "prompt": {"id": "pmpt_1"}}, "prompt exists only in the GA dialect"),
    ({"dialect": "beta", "truncation": "auto"}, "truncation exists only in the GA dialect"),
])
def test_bad_settings_are_refused_with_a_message_naming_them(fields, message):
    with pytest.raises((msgspec.ValidationError, ValueError), match=re.escape(message)):
        load(**fields)


def test_the_key_never_shows():
    config = load(instructions="hi")
    for text in (repr(config), str(config), str(config.settings_for_status()), repr([config])):
        assert "sk-secret" not in text
    assert "api_key=<set>" in repr(config)


FULL = {"instructions": "Be brief.", "voice": "marin", "transcription_model": "gpt-4o-mini-transcribe",
        "transcription_language": "en", "noise_reduction": "far_field", "max_output_tokens": 300,
        "tools": [{"name": "get_weather", "description": "Weather", "parameters": {
            "type": "object", "properties": {"city": {"type": "string"}}}}], "tool_choice": "get_weather"}


@pytest.mark.parametrize("dialect", ["ga", "beta"])
@pytest.mark.parametrize("turns", [{"type": "server_vad", "threshold": 0.6, "prefix_padding_ms": 200,
                                    "silence_duration_ms": 400, "idle_timeout_ms": 6000},
                                   {"type": "semantic_vad", "eagerness": "high"}, {"type": "none"}])
@pytest.mark.parametrize("fmt", ["pcm16", "g711_ulaw", "g711_alaw"])
def test_the_session_update_is_valid_in_both_dialects(dialect, turns, fmt):
    temperature = {"temperature": 0.8} if dialect == "beta" else {}
    fields = FULL if dialect == "ga" else {**FULL, "voice": "verse"}  # marin and cedar are GA-only
    config = load(dialect=dialect, audio_format=fmt, turn_detection=turns, **fields, **temperature)
    event = msgspec.json.decode(rp.Codec(dialect).encode(rp.session_update(config.session_settings())))
    validate_client_event(event, dialect)
    session = event["session"]
    if dialect == "ga":
        assert session["audio"]["input"]["format"]["type"] == {"pcm16": "audio/pcm", "g711_ulaw": "audio/pcmu",
                                                               "g711_alaw": "audio/pcma"}[fmt]
        assert session["audio"]["output"]["voice"] == "marin"
        td = session["audio"]["input"]["turn_detection"]
        assert session["tool_choice"] == {"type": "function", "name": "get_weather"}
    else:
        assert session["input_audio_format"] == session["output_audio_format"] == fmt
        td = session["turn_detection"]
        assert session["temperature"] == 0.8
        assert session["voice"] == "verse"
    assert (td is None) == (turns["type"] == "none")
    if td is not None:
        assert td["type"] == turns["type"]


GA_EXTRAS = {"speed": 1.2, "reasoning_effort": "low",
             "prompt": {"id": "pmpt_123", "version": "2", "variables": {"city": "Oslo"}}}


@pytest.mark.parametrize("truncation", ["auto", "disabled", {"retention_ratio": 0.8},
                                        {"retention_ratio": 0.5, "post_instructions_tokens": 8000}])
def test_the_ga_session_fields_reach_the_session_update(truncation):
    config = load(truncation=truncation, **GA_EXTRAS)
    event = msgspec.json.decode(rp.Codec("ga").encode(rp.session_update(config.session_settings())))
    validate_client_event(event, "ga")
    session = event["session"]
    assert session["audio"]["output"]["speed"] == 1.2 and session["reasoning"] == {"effort": "low"}
    assert session["prompt"] == {"id": "pmpt_123", "version": "2", "variables": {"city": "Oslo"}}
    if isinstance(truncation, str):
        assert session["truncation"] == truncation
    else:
        limits = truncation.get("post_instructions_tokens")
        assert session["truncation"] == {"type": "retention_ratio", "retention_ratio": truncation["retention_ratio"],
                                         **({"token_limits": {"post_instructions": limits}} if limits else {})}


def test_speed_reaches_a_beta_session_update():
    config = load(dialect="beta", speed=0.8)
    event = msgspec.json.decode(rp.Codec("beta").encode(rp.session_update(config.session_settings())))
    validate_client_event(event, "beta")
    assert event["session"]["speed"] == 0.8 and "reasoning" not in event["session"]


def test_history_keeps_order_bounds_and_cuts():
    history = History(3)
    history.reserve("u1", "user")
    history.reserve("a1", "assistant")
    history.add("assistant", "one two three four", key="a1")
    history.add("user", "first", key="u1")  # a transcription finishing after the reply began keeps its place
    assert [(t.role, t.text) for t in history.turns()] == [("user", "first"), ("assistant", "one two three four")]
    history.cut("a1", 0.5)
    assert history.turns()[-1].text == "one two"
    history.add("user", "second")
    history.add("assistant", "reply")
    assert [t.text for t in history.turns()] == ["one two", "second", "reply"]
    events = history.replay_events()
    for dialect in ("ga", "beta"):
        for event in events:
            validate_client_event(msgspec.json.decode(rp.Codec(dialect).encode(event)), dialect)
    assert History(0).replay_events() == []


def test_mask_keys_are_four_fresh_bytes_each():
    from rtaudiod.session.link import MaskKeys

    keys = MaskKeys()
    drawn = [keys.next() for _ in range(3000)]  # across two 4 KiB blocks
    assert all(type(k) is bytes and len(k) == 4 for k in drawn)
    assert len(set(drawn)) > 2990  # 32-bit keys from os.urandom: a repeat among 3000 is rare, thousands are a bug
