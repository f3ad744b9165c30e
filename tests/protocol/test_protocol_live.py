"""The protocol layer against the simulator over a real socket, in both dialects: events built by the builders
reach it as valid events, and everything it sends decodes (no UnknownEvent) into complete response sequences.

Shape tests run the simulator without pacing or latency (`FAST`); the barge-in test (cancel, truncate) races a
reply at real-time pace with the service's latencies (`REAL_TIME`)."""

import base64
import json
from collections.abc import Iterator

import numpy as np
import pytest
import websocket
from openai_schemas import validate_client_event, validate_server_event

from rtaudiod.protocol import (Codec, ConversationItemCreated, ConversationItemDeleted, ConversationItemDone,
                               ConversationItemTruncated, ErrorEvent, InputAudioBufferCleared,
                               InputAudioBufferCommitted, InputAudioTranscriptionCompleted, RateLimitsUpdated,
                               ResponseAudioDelta, ResponseAudioDone, ResponseAudioTranscriptDelta,
                               ResponseAudioTranscriptDone, ResponseContentPartAdded, ResponseContentPartDone,
                               ResponseCreated, ResponseDone, ResponseFunctionCallArgumentsDelta,
                               ResponseFunctionCallArgumentsDone, ResponseOutputItemAdded, ResponseOutputItemDone,
                               ResponseParams, ResponseTextDelta, ResponseTextDone, SessionConfig, SessionCreated,
                               SessionUpdated, SpeechStarted, SpeechStopped, Transcription, TurnDetection, UNSET,
                               UnknownEvent, function_call_output, function_tool,
                               headers, input_audio_append, input_audio_clear, input_audio_commit, item_delete,
                               item_truncate, realtime_url, response_cancel, response_create, session_update,
                               user_text)
from rtaudiod.sim import Simulator
from rtaudiod.sim.session import FIRST_AUDIO_LATENCY_S, RESPONSE_LATENCY_S, TRANSCRIPTION_LATENCY_S

KEY = "sk-test-protocol-0123456789"
FAST = {"pace": 0, "response_latency": 0, "first_audio_latency": 0, "transcription_latency": 0}
REAL_TIME = {"pace": 1.0, "response_latency": RESPONSE_LATENCY_S, "first_audio_latency": FIRST_AUDIO_LATENCY_S,
             "transcription_latency": TRANSCRIPTION_LATENCY_S}
MODELS = {"beta": "gpt-4o-realtime-preview", "ga": "gpt-realtime"}
BYTES_PER_MS = {"pcm16": 48, "g711_ulaw": 8, "g711_alaw": 8}
MAX_EVENTS = 5000
WEATHER = function_tool("get_weather", "Get the weather for a city",
                        {"type": "object", "properties": {"city": {"type": "string"}}})


class Peer:
    """A websocket-client connection that sends Structs and decodes every frame it receives."""

    def __init__(self, sim: Simulator, dialect: str) -> None:
        self.codec = Codec(dialect)
        self.ws = websocket.create_connection(realtime_url(MODELS[dialect], sim.url),
                                              header=headers(dialect, KEY).lines(), timeout=10)
        self.received: list = []

    def send(self, event) -> None:
        self.ws.send(self.codec.encode(event).decode())

    def recv(self):
        event = self.codec.decode(self.ws.recv())
        assert not isinstance(event, UnknownEvent), event
        self.received.append(event)
        return event

    def until(self, cls, max_events: int = MAX_EVENTS) -> list:
        got = []
        for _ in range(max_events):
            got.append(self.recv())
            if isinstance(got[-1], cls):
                return got
        raise AssertionError(f"no {cls.__name__} in {max_events} events")

    def response(self) -> list:
        """Everything up to the `rate_limits.updated` that follows `response.done`."""
        events = self.until(ResponseDone)
        events.append(self.recv())
        assert isinstance(events[-1], RateLimitsUpdated)
        return events


@pytest.fixture(params=["beta", "ga"])
def dialect(request) -> str:
    return request.param


@pytest.fixture
def timing() -> dict:
    return FAST


@pytest.fixture
def sim(dialect, timing) -> Iterator[Simulator]:
    sim = Simulator(dialect=dialect, api_key=KEY, voice="synthetic", **timing).start()
    yield sim
    sim.stop()
    for session in sim.sessions:  # what the builders sent reached the server as valid events
        assert session.invalid_messages == []
        for event in session.received_events:
            validate_client_event(event, dialect)
        for event in session.sent_events:
            validate_server_event(event, dialect)
    assert sim.rejected == []


@pytest.fixture
def peer(sim, dialect) -> Iterator[Peer]:
    peer = Peer(sim, dialect)
    created = peer.recv()
    assert isinstance(created, SessionCreated) and created.session.input_audio_format == "pcm16"
    yield peer
    peer.ws.close()
    assert peer.codec.unknown == {}


def check_message_response(events: list, dialect: str, audio: bool) -> ResponseDone:
    """A complete response with one assistant message, in the service's order."""
    events = events[[type(e) for e in events].index(ResponseCreated):]  # (GA: the user item's `.done` before it)
    kinds = [type(e) for e in events]
    delta, done = (ResponseAudioTranscriptDelta, ResponseAudioTranscriptDone) if audio else \
        (ResponseTextDelta, ResponseTextDone)
    order = [ResponseCreated, ResponseOutputItemAdded, ConversationItemCreated, ResponseContentPartAdded, delta,
             *([ResponseAudioDelta, ResponseAudioDone] if audio else []), done, ResponseContentPartDone,
             # GA: the item's `conversation.item.done` comes before `response.output_item.done` (the service's order)
             *([ConversationItemDone] if dialect == "ga" else []), ResponseOutputItemDone, ResponseDone,
             RateLimitsUpdated]
    firsts = [kinds.index(k) for k in order]
    assert firsts == sorted(firsts), [k.__name__ for k in kinds]
    assert ErrorEvent not in kinds
    response = events[-2]
    assert response.response.status == "completed" and response.response.usage.total_tokens > 0
    assert response.response.output[0].type == "message"
    part = events[kinds.index(ResponseContentPartAdded)].part
    assert part.type == ("audio" if audio else "text")
    final = events[kinds.index(done)]
    streamed = "".join(e.delta for e in events if type(e) is delta)
    assert (final.transcript if audio else final.text) == streamed and streamed
    return response


@pytest.mark.parametrize("fmt", ["pcm16", "g711_ulaw", "g711_alaw"])
def test_session_text_and_audio_turns(peer, dialect, fmt):
    # session.update: the format under test, push-to-talk, input transcription on
    peer.send(session_update(SessionConfig(
        input_audio_format=fmt, output_audio_format=fmt, turn_detection=None, modalities=["text", "audio"],
        instructions="Be brief.", input_audio_transcription=Transcription(model="whisper-1")), event_id="ev_s1"))
    updated = peer.until(SessionUpdated)[-1].session
    assert (updated.input_audio_format, updated.output_audio_format) == (fmt, fmt)
    assert updated.turn_detection is None and updated.modalities == ["text", "audio"]
    assert updated.input_audio_transcription.model == "whisper-1"

    # a text item, then response.create: a complete audio response in the session's format
    peer.send(user_text("Hello there.", event_id="ev_t1"))
    created = peer.until(ConversationItemCreated)[-1]
    assert created.item.role == "user" and created.item.content[0].text == "Hello there."
    peer.send(response_create(event_id="ev_r1"))
    events = peer.response()
    done = check_message_response(events, dialect, audio=True)
    audio = [e for e in events if isinstance(e, ResponseAudioDelta)]
    assert audio and all(e.item_id == done.response.output[0].id for e in audio)
    pcm = b"".join(base64.b64decode(e.delta) for e in audio)
    assert len(pcm) > 100 * BYTES_PER_MS[fmt] and len(pcm) % (2 if fmt == "pcm16" else 1) == 0

    # push-to-talk audio: append, commit, transcription; then a text-only response
    chunk = bytes(range(256)) * (20 * BYTES_PER_MS[fmt] // 256 + 1)
    for i in range(25):  # 25 chunks of >= 20 ms
        peer.send(input_audio_append(chunk[: 20 * BYTES_PER_MS[fmt]], event_id=f"ev_a{i}" if i % 2 else None))
    peer.send(input_audio_commit(event_id="ev_c1"))
    committed = peer.until(InputAudioBufferCommitted)[-1]
    transcribed = peer.until(InputAudioTranscriptionCompleted)[-1]
    assert transcribed.item_id == committed.item_id and "0.5" in transcribed.transcript
    peer.send(response_create(ResponseParams(modalities=["text"], instructions="Answer in text.")))
    check_message_response(peer.response(), dialect, audio=False)

    # clear, delete (barge-in bookkeeping: `test_barge_in_races_the_reply_at_real_time`)
    peer.send(input_audio_clear())
    peer.until(InputAudioBufferCleared)
    peer.send(item_delete(created.item.id))
    assert peer.until(ConversationItemDeleted)[-1].item_id == created.item.id


@pytest.mark.parametrize("timing", [REAL_TIME], ids=["real_time"])
@pytest.mark.parametrize("fmt", ["pcm16", "g711_ulaw"])
def test_barge_in_races_the_reply_at_real_time(peer, dialect, fmt, timing):
    """A reply at real-time pace with the service's latencies: cancel it mid-audio, then truncate at what arrived
    (accepted) and beyond (refused): every event typed, the milliseconds in the session's own format."""
    peer.send(session_update(SessionConfig(input_audio_format=fmt, output_audio_format=fmt, turn_detection=None)))
    peer.until(SessionUpdated)
    peer.send(user_text("Tell me a long story about the sea and the wind and the stars above."))
    peer.send(response_create())
    received = 0
    for _ in range(MAX_EVENTS):
        event = peer.recv()
        if isinstance(event, ResponseAudioDelta):
            item_id = event.item_id
            received += len(base64.b64decode(event.delta))
            if received >= 400 * BYTES_PER_MS[fmt]:
                break
    peer.send(response_cancel(event_id="ev_cx"))
    events = peer.until(ResponseDone)
    received += sum(len(base64.b64decode(e.delta)) for e in events if isinstance(e, ResponseAudioDelta))
    done = events[-1].response
    assert done.status == "cancelled" and done.status_details.reason == "client_cancelled"
    assert ErrorEvent not in [type(e) for e in events]
    heard_ms = received // BYTES_PER_MS[fmt]
    assert 400 <= heard_ms < 2500  # a reply of ~5 s, cancelled mid-audio
    peer.send(item_truncate(item_id, 0, heard_ms + 1, event_id="ev_beyond"))
    error = peer.until(ErrorEvent)[-1].error
    assert (error.event_id, error.param) == ("ev_beyond", "audio_end_ms")
    peer.send(item_truncate(item_id, 0, heard_ms, event_id="ev_tr"))
    truncated = peer.until(ConversationItemTruncated)[-1]
    assert (truncated.item_id, truncated.audio_end_ms) == (item_id, heard_ms)
    # a client mistake comes back as an error naming the event
    peer.send(response_cancel(event_id="ev_cancel"))
    error = peer.until(ErrorEvent)[-1]
    assert error.error.event_id == "ev_cancel" and error.error.code == "response_cancel_not_active"


def test_function_call_round_trip(peer, dialect):
    peer.send(session_update(SessionConfig(tools=[WEATHER], tool_choice="auto", modalities=["text"])))
    peer.until(SessionUpdated)
    peer.send(user_text("What is the get_weather in Paris?"))
    peer.send(response_create())
    events = peer.response()
    args = [e for e in events if isinstance(e, ResponseFunctionCallArgumentsDelta)]
    done = next(e for e in events if isinstance(e, ResponseFunctionCallArgumentsDone))
    assert args and done.arguments == "".join(e.delta for e in args)
    assert json.loads(done.arguments)["city"]
    assert done.name == ("get_weather" if dialect == "ga" else UNSET)  # GA sends the name, beta does not
    call = events[-2].response.output[0]
    assert (call.type, call.name, call.call_id) == ("function_call", "get_weather", done.call_id)

    peer.send(function_call_output(done.call_id, json.dumps({"temperature_c": 21})))
    peer.until(ConversationItemCreated)
    peer.send(response_create())
    check_message_response(peer.response(), dialect, audio=False)


def test_out_of_band_response_with_overrides(peer, dialect):
    peer.send(response_create(ResponseParams(
        conversation="none", modalities=["text"], metadata={"purpose": "classify"},
        input=[user_text("Is this a question?").item], output_audio_format="g711_ulaw",
        max_response_output_tokens=200)))
    events = peer.response()
    assert not any(isinstance(e, (ConversationItemCreated, ConversationItemDone)) for e in events)
    response = events[-2].response
    assert response.conversation_id is None and response.metadata == {"purpose": "classify"}
    assert response.modalities == ["text"] and response.output_audio_format == "g711_ulaw"


def test_ga_service_refuses_the_beta_header():
    """The header rule matters: a GA server answers the beta shape with `beta_api_shape_disabled` (decoded)."""
    with Simulator(dialect="ga", api_key=KEY, **FAST) as sim:
        ws = websocket.create_connection(realtime_url("gpt-realtime", sim.url),
                                         header=headers("beta", KEY).lines(), timeout=10)
        try:
            error = Codec("ga").decode(ws.recv())
        finally:
            ws.close()
    assert isinstance(error, ErrorEvent) and error.error.code == "beta_api_shape_disabled"


def test_server_vad_turn(peer, dialect):
    """Server VAD on a tone between silences: speech started/stopped, auto-commit and an automatic response."""
    peer.send(session_update(SessionConfig(input_audio_format="pcm16", modalities=["text"], turn_detection=(
        TurnDetection(type="server_vad", threshold=0.5, prefix_padding_ms=300, silence_duration_ms=500)))))
    td = peer.until(SessionUpdated)[-1].session.turn_detection
    assert (td.type, td.silence_duration_ms) == ("server_vad", 500)
    t = np.arange(24000 * 800 // 1000) / 24000
    tone = (8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()
    audio = bytes(24000 * 2 // 2) + tone + bytes(24000 * 2)  # 0.5 s silence, 0.8 s tone, 1 s silence
    for i in range(0, len(audio), 4800):
        peer.send(input_audio_append(audio[i:i + 4800]))
    started = peer.until(SpeechStarted)[-1]
    stopped = peer.until(SpeechStopped)[-1]
    assert started.item_id == stopped.item_id and 0 < started.audio_start_ms < stopped.audio_end_ms
    assert peer.until(InputAudioBufferCommitted)[-1].item_id == started.item_id
    check_message_response(peer.response(), dialect, audio=False)
