"""Conformance: one scripted session per dialect makes the simulator send every server event it can, and each
one validates strictly (discriminated on `type`, no unknown keys) against the `openai` package's models.

(Every other sim test also checks everything the simulator sent, in the `make_sim` fixture's teardown.)"""

import pytest

from openai_schemas import SERVICE_EXTRA_KEYS
from simhelpers import append_chunked, b64, silence, speech_pcm16, tone, validate_server_event

WEATHER = {"type": "function", "name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}}}

EXPECTED_COMMON = {
    "session.created", "session.updated", "error", "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped", "input_audio_buffer.committed", "input_audio_buffer.cleared",
    "conversation.item.input_audio_transcription.completed", "conversation.item.input_audio_transcription.delta",
    "conversation.item.truncated",
    "conversation.item.deleted", "conversation.item.retrieved", "response.created", "response.output_item.added",
    "response.content_part.added", "response.content_part.done", "response.output_item.done", "response.done",
    "response.function_call_arguments.delta", "response.function_call_arguments.done", "rate_limits.updated",
}
EXPECTED = {
    "beta": EXPECTED_COMMON | {"conversation.item.created", "response.audio.delta", "response.audio.done",
                               "response.audio_transcript.delta", "response.audio_transcript.done",
                               "response.text.delta", "response.text.done"},
    "ga": EXPECTED_COMMON | {"conversation.item.added", "conversation.item.done", "response.output_audio.delta",
                             "response.output_audio.done", "response.output_audio_transcript.delta",
                             "response.output_audio_transcript.done", "response.output_text.delta",
                             "response.output_text.done"},
}


def _session(dialect, **fields):
    if dialect == "beta":
        return fields
    out = {"type": "realtime"}
    mapping = {"turn_detection": ("input", "turn_detection"), "transcription": ("input", "transcription")}
    for key, value in fields.items():
        if key in mapping:
            side, name = mapping[key]
            out.setdefault("audio", {}).setdefault(side, {})[name] = value
        elif key == "modalities":
            out["output_modalities"] = value
        else:
            out[key] = value
    return out


def test_every_server_event_conforms(connect, dialect):
    sim, client = connect(dialect)
    transcription = {"model": "whisper-1"}
    client.send({"type": "session.update", "session": _session(
        dialect, tools=[WEATHER],
        **({"input_audio_transcription": transcription} if dialect == "beta" else {"transcription": transcription}))})
    client.until("session.updated")
    # server VAD turn on real speech -> auto response with audio
    append_chunked(client, silence(400) + speech_pcm16("Hello there.") + silence(1000))
    events = client.until("response.done")
    item_id = events[-1]["response"]["output"][0]["id"]
    client.until("rate_limits.updated")
    # truncate, retrieve, delete, a bad event
    client.send({"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0, "audio_end_ms": 100})
    client.send({"type": "conversation.item.retrieve", "item_id": item_id})
    client.send({"type": "conversation.item.delete", "item_id": item_id})
    client.send({"type": "nope", "event_id": "bad"})
    client.until("error")
    # push-to-talk, clear, text response, function call
    client.send({"type": "session.update", "session": _session(dialect, turn_detection=None, modalities=["text"])})
    client.send({"type": "input_audio_buffer.append", "audio": b64(tone(200))})
    client.send({"type": "input_audio_buffer.clear"})
    client.send({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                                                              "content": [{"type": "input_text", "text": "hi"}]}})
    client.send({"type": "response.create"})
    client.until("rate_limits.updated")
    client.send({"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": "get_weather for Oslo"}]}})
    client.send({"type": "response.create"})
    client.until("rate_limits.updated")
    sent = sim.sessions[0].sent_events
    assert [e["type"] for e in sent] == [e["type"] for e in client.events]
    missing = EXPECTED[dialect] - {e["type"] for e in sent}
    assert not missing, f"not exercised: {sorted(missing)}"
    for event in sent:
        validate_server_event(event, dialect)


def test_service_extras_are_sent_and_only_those(connect, dialect):
    """The keys the service sends beyond its models (`SERVICE_EXTRA_KEYS`): GA deltas carry `obfuscation` (random
    filler), the session object `id`/`object`/`expires_at`; beta none of the GA ones. GA items carry no `object`."""
    sim, client = connect(dialect)
    client.send({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                                                              "content": [{"type": "input_text", "text": "hi"}]}})
    client.send({"type": "response.create"})
    client.until("response.done")
    client.send({"type": "response.create", "response": {"modalities": ["text"]} if dialect == "beta"
                 else {"output_modalities": ["text"]}})
    client.until("response.done")
    deltas = [e for e in client.events if e["type"].endswith("audio.delta") or e["type"].endswith("text.delta")
              or e["type"].endswith("transcript.delta")]
    assert {e["type"] for e in deltas} == ({"response.audio.delta", "response.audio_transcript.delta",
                                            "response.text.delta"} if dialect == "beta" else
                                           {"response.output_audio.delta", "response.output_audio_transcript.delta",
                                            "response.output_text.delta"})
    if dialect == "ga":
        assert all(isinstance(e["obfuscation"], str) and e["obfuscation"].isalnum() for e in deltas)
        assert len({e["obfuscation"] for e in deltas}) > 1
        items = [e["item"] for e in client.events if "item" in e]
        assert items and not any("object" in item for item in items)
    else:
        assert not any("obfuscation" in e for e in deltas)
    session = client.events[0]["session"]
    extras = {key.rsplit(".", 1)[1] for key in SERVICE_EXTRA_KEYS[dialect] if key.startswith("session.created.")}
    assert extras <= set(session)


def test_the_schema_check_allows_the_named_extras_and_nothing_else():
    created = {"type": "session.created", "event_id": "e",
               "session": {"type": "realtime", "object": "realtime.session", "id": "sess_1", "expires_at": 1}}
    validate_server_event(created, "ga")
    created["session"]["objekt"] = "x"
    with pytest.raises(ValueError, match="session.created.session.objekt"):
        validate_server_event(created, "ga")
    delta = {"type": "response.output_audio.delta", "event_id": "e", "response_id": "r", "item_id": "i",
             "output_index": 0, "content_index": 0, "delta": "", "obfuscation": "x"}
    validate_server_event(delta, "ga")
    with pytest.raises(ValueError, match="obfuscation"):  # beta deltas never had it
        validate_server_event({**delta, "type": "response.audio.delta"}, "beta")
