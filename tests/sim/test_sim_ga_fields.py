"""The GA-only parts of the simulator that follow the `openai` package's GA models: the session fields of reasoning
models and prompt templates (accepted in GA, refused in beta as unknown parameters, each bad value refused with
the path of the field), and the speaker segments of a diarizing transcription model."""

import pytest

from simhelpers import append_chunked, silence, speech_pcm16, validate_client_event

GOOD = {
    "reasoning": {"effort": "low"},
    "prompt": {"id": "pmpt_123", "version": "2", "variables": {"city": "Oslo",
                                                             "greeting": {"type": "input_text", "text": "Hei"}}},
    "truncation": {"type": "retention_ratio", "retention_ratio": 0.8, "token_limits": {"post_instructions": 8000}},
}


@pytest.mark.parametrize("value", [{"truncation": "auto"}, {"truncation": "disabled"},
                                   {"prompt": {"id": "pmpt_1"}}, {"prompt": None}, GOOD])
def test_ga_accepts_the_session_fields_of_its_models(connect, value):
    sim, client = connect("ga")
    body = {"type": "session.update", "event_id": "e1", "session": {"type": "realtime", **value}}
    validate_client_event(body, "ga")  # the models' own shape, so what the service takes
    client.send(body)
    assert client.recv()["type"] == "session.updated"


@pytest.mark.parametrize(("session", "param", "code"), [
    ({"reasoning": {"effort": "max"}}, "session.reasoning.effort", "invalid_value"),
    ({"reasoning": {"efort": "low"}}, "session.reasoning.efort", "unknown_parameter"),
    ({"prompt": {"version": "2"}}, "session.prompt.id", "missing_required_parameter"),
    ({"truncation": "sometimes"}, "session.truncation", "invalid_value"),
    ({"truncation": {"type": "retention_ratio", "retention_ratio": 1.5}}, "session.truncation.retention_ratio",
     "decimal_above_max_value"),
    ({"truncation": {"type": "retention_ratio"}}, "session.truncation.retention_ratio", "missing_required_parameter"),
])
def test_ga_refuses_bad_values_of_them(connect, session, param, code):
    sim, client = connect("ga")
    client.send({"type": "session.update", "event_id": "e2", "session": {"type": "realtime", **session}})
    error = client.expect_error()
    assert (error["param"], error["code"], error["event_id"]) == (param, code, "e2")


@pytest.mark.parametrize("key", sorted(GOOD))
def test_beta_has_none_of_them(connect, key):
    sim, client = connect("beta")
    body = {"type": "session.update", "event_id": "e3", "session": {key: GOOD[key]}}
    with pytest.raises(ValueError, match=key):  # the beta models lack it too
        validate_client_event(body, "beta")
    client.send(body)
    error = client.expect_error()
    assert (error["param"], error["code"]) == (f"session.{key}", "unknown_parameter")


@pytest.mark.parametrize("dialect", ["beta", "ga"])
def test_speed_is_in_both(connect, dialect):
    sim, client = connect(dialect)
    session = {"speed": 1.25} if dialect == "beta" else {"type": "realtime", "audio": {"output": {"speed": 1.25}}}
    client.send({"type": "session.update", "session": session})
    got = client.recv()["session"]
    assert (got["speed"] if dialect == "beta" else got["audio"]["output"]["speed"]) == 1.25


def transcribed_turn(client, dialect, model):
    transcription = {"model": model}
    client.send({"type": "session.update", "session": {"input_audio_transcription": transcription}
                 if dialect == "beta" else {"type": "realtime", "audio": {"input": {"transcription": transcription}}}})
    client.until("session.updated")
    append_chunked(client, silence(300) + speech_pcm16("Hello there.") + silence(900))
    client.until("conversation.item.input_audio_transcription.completed")
    return client.events


def test_a_diarizing_model_labels_the_speaker_before_the_transcript_completes(connect):
    """GA `gpt-4o-transcribe-diarize`: a `...segment` (speaker, start and end in seconds) for the user's item,
    after its deltas and before its `.completed`, with the same text (the fixture checks it against the models)."""
    sim, client = connect("ga")
    events = transcribed_turn(client, "ga", "gpt-4o-transcribe-diarize")
    kinds = [e["type"] for e in events]
    segments = [e for e in events if e["type"] == "conversation.item.input_audio_transcription.segment"]
    completed = events[-1]
    assert len(segments) == 1
    segment = segments[0]
    assert segment["item_id"] == completed["item_id"] and segment["text"] == completed["transcript"]
    assert segment["speaker"] == "A" and segment["start"] == 0.0 and segment["end"] > 0.5
    last_delta = max(i for i, k in enumerate(kinds) if k == "conversation.item.input_audio_transcription.delta")
    assert last_delta < kinds.index(segment["type"]) < len(kinds) - 1


@pytest.mark.parametrize(("dialect", "model"), [("ga", "gpt-4o-transcribe"), ("ga", "whisper-1"),
                                                ("beta", "gpt-4o-transcribe-diarize")])
def test_other_models_and_beta_send_no_segments(connect, dialect, model):
    sim, client = connect(dialect)
    events = transcribed_turn(client, dialect, model)
    assert not [e for e in events if e["type"].endswith("input_audio_transcription.segment")]
