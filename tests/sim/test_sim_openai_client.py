"""The `openai` package's own GA realtime client holds a session with the simulator (ga dialect)."""

import base64

import pytest
from openai import OpenAI

from simhelpers import KEY, validate_client_event

# openai 3.57's sync client calls websockets' connect() without a context manager; websockets >= 17.1 warns about
# that (a DeprecationWarning, an error under our warnings policy) unless the caller asks for `legacy=True`.
LEGACY = {"websocket_connection_options": {"legacy": True}}


def _client(sim) -> OpenAI:
    base = f"127.0.0.1:{sim.port}/v1"
    return OpenAI(api_key=KEY, base_url=f"http://{base}", websocket_base_url=f"ws://{base}")


def test_openai_ga_client_session_update_text_and_full_response(make_sim):
    sim = make_sim("ga")
    with _client(sim).realtime.connect(model="gpt-realtime", **LEGACY) as conn:
        created = conn.recv()
        assert created.type == "session.created" and created.session.type == "realtime"
        conn.session.update(session={"type": "realtime", "instructions": "Be brief.",
                                     "audio": {"output": {"format": {"type": "audio/pcmu"}, "voice": "marin"}}})
        updated = conn.recv()
        assert updated.type == "session.updated"
        assert updated.session.audio.output.format.type == "audio/pcmu" and updated.session.instructions == "Be brief."
        conn.conversation.item.create(item={"type": "message", "role": "user",
                                            "content": [{"type": "input_text", "text": "Say hello"}]})
        conn.response.create()
        audio, transcript, types = b"", "", []
        for _ in range(2000):
            event = conn.recv()
            types.append(event.type)
            if event.type == "response.output_audio.delta":
                audio += base64.b64decode(event.delta)
            elif event.type == "response.output_audio_transcript.delta":
                transcript += event.delta
            elif event.type == "response.done":
                break
        assert event.type == "response.done" and event.response.status == "completed"
        assert transcript == "Simulator heard: Say hello." == event.response.output[0].content[0].transcript
        assert len(audio) > 8000 * 0.5  # 8 kHz G.711: one byte a sample
        assert "conversation.item.added" in types and "response.output_item.done" in types
    session = sim.sessions[0]
    assert [e["type"] for e in session.received_events] == ["session.update", "conversation.item.create",
                                                            "response.create"]
    for event in session.received_events:  # what the official client sent is a valid GA client event
        validate_client_event(event, "ga")


def test_openai_ga_client_with_wrong_key_gets_invalid_api_key(make_sim):
    sim = make_sim("ga", api_key="the-right-key")
    with _client(sim).realtime.connect(model="gpt-realtime", **LEGACY) as conn:
        event = conn.recv()
        assert event.type == "error" and event.error.code == "invalid_api_key"
        with pytest.raises(Exception):
            conn.recv()
