"""Settings the service would refuse, refused in the config first with a message that says what to change (a
refused session.update is dropped whole: instructions and tools with it). GA-only voices in the beta dialect, the
idle timeout's range, the beta server VAD ranges (the seeds' VAD parameter table, 001_9524aca5fab4315f.txt)."""

from __future__ import annotations

import msgspec
import pytest

from rtaudiod.session import RealtimeConfig
from sessionhelpers import wait_until


def config(**fields):
    return msgspec.convert({"api_key": "k", **fields}, RealtimeConfig)  # as the daemon's TOML loader does


@pytest.mark.parametrize("voice", ["marin", "cedar"])
def test_ga_only_voices_are_refused_in_beta_with_the_choices(voice):
    with pytest.raises(msgspec.ValidationError) as info:
        config(dialect="beta", voice=voice)
    message = str(info.value)
    assert f"voice {voice!r} exists only in the GA dialect" in message
    assert "alloy" in message and "verse" in message and "dialect = 'ga'" in message
    assert config(dialect="ga", voice=voice).voice == voice


def test_every_other_voice_is_accepted_in_beta():
    for voice in ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse"):
        assert config(dialect="beta", voice=voice).voice == voice


@pytest.mark.parametrize("dialect", ["ga", "beta"])
@pytest.mark.parametrize("value", [0, 4999, 30001])
def test_idle_timeout_outside_the_services_range_is_refused(dialect, value):
    with pytest.raises(msgspec.ValidationError, match=r"idle_timeout_ms must be between 5000 and 30000"):
        config(dialect=dialect, turn_detection={"type": "server_vad", "idle_timeout_ms": value})


@pytest.mark.parametrize("value", [5000, 30000])
def test_idle_timeout_at_the_ends_of_the_range_is_accepted(value):
    assert config(turn_detection={"type": "server_vad", "idle_timeout_ms": value}).turn_detection.idle_timeout_ms \
        == value


@pytest.mark.parametrize("key, value", [("prefix_padding_ms", 5001), ("silence_duration_ms", 99),
                                        ("silence_duration_ms", 10001)])
def test_beta_vad_values_outside_the_seeds_ranges_are_refused(key, value):
    with pytest.raises(msgspec.ValidationError, match=rf"turn_detection.{key} must be between .* beta dialect"):
        config(dialect="beta", turn_detection={"type": "server_vad", key: value})
    # the seeds give these ranges for the beta service only: GA keeps its own checks (>= 0)
    assert getattr(config(dialect="ga", turn_detection={"type": "server_vad", key: value}).turn_detection, key) \
        == value


@pytest.mark.parametrize("key, value", [("prefix_padding_ms", 0), ("prefix_padding_ms", 5000),
                                        ("silence_duration_ms", 100), ("silence_duration_ms", 10000)])
def test_beta_vad_values_at_the_ends_of_the_range_are_accepted(key, value):
    assert getattr(config(dialect="beta", turn_detection={"type": "server_vad", key: value}).turn_detection, key) \
        == value


def test_a_live_update_to_a_ga_only_voice_is_refused_in_beta_before_anything_is_sent(make_sim, make_session):
    sim = make_sim("beta")
    session, engine, mic, events = make_session(sim, instructions="Be brief.")
    sent = len(sim.sessions[0].received_events)
    with pytest.raises(ValueError, match="exists only in the GA dialect"):
        session.update_settings(voice="marin", instructions="Speak like a pirate.")
    with pytest.raises(ValueError, match="silence_duration_ms must be between 100 and 10000"):
        session.update_settings(turn_detection={"type": "server_vad", "silence_duration_ms": 50})
    assert session.config.voice is None and session.config.instructions == "Be brief."
    session.update_settings(voice="verse")  # a good one goes out, and the service takes it
    wait_until(lambda: sim.sessions[0].settings["voice"] == "verse", 5, "the service to take the new voice")
    update = [e for e in sim.sessions[0].received_events[sent:] if e["type"] == "session.update"]
    assert len(update) == 1 and update[0]["session"]["voice"] == "verse"
    assert not [e for e in sim.sessions[0].sent_events if e["type"] == "error"]
