"""Input audio (buffer, commit, server VAD with real speech) and output audio (formats, pacing)."""

import base64
import time
import warnings

import numpy as np
import pytest

from simhelpers import REAL_TIME, append_chunked, b64, silence, speech_pcm16, tone

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

PTT = {"beta": {"turn_detection": None}, "ga": {"type": "realtime", "audio": {"input": {"turn_detection": None}}}}
ITEM_ADDED = {"beta": "conversation.item.created", "ga": "conversation.item.added"}
AUDIO_DELTA = {"beta": "response.audio.delta", "ga": "response.output_audio.delta"}


def push_to_talk(client, dialect, extra=None):
    session = dict(PTT[dialect])
    if extra:
        session.update(extra)
    client.send({"type": "session.update", "session": session})
    assert client.recv()["type"] == "session.updated"


def test_commit_makes_a_user_audio_item_and_records_the_audio(connect, dialect):
    sim, client = connect(dialect)
    push_to_talk(client, dialect)
    audio = tone(300)
    append_chunked(client, audio, chunk=4801)  # odd chunking: the buffer is bytes, not frames
    client.send({"type": "input_audio_buffer.commit", "event_id": "c1"})
    committed = client.recv()
    assert committed["type"] == "input_audio_buffer.committed"
    added = client.recv()
    assert added["type"] == ITEM_ADDED[dialect] and added["item"]["id"] == committed["item_id"]
    assert added["item"]["role"] == "user" and added["item"]["content"][0]["type"] == "input_audio"
    if dialect == "ga":
        assert client.recv()["type"] == "conversation.item.done"
    assert sim.sessions[0].committed_audio == {committed["item_id"]: audio}
    # the buffer is empty again: a second commit is refused
    client.send({"type": "input_audio_buffer.commit", "event_id": "c2"})
    error = client.expect_error()
    assert error["code"] == "input_audio_buffer_commit_empty" and error["event_id"] == "c2"


@pytest.mark.parametrize("ms", [0, 60])
def test_commit_of_less_than_100ms_is_an_error(connect, dialect, ms):
    sim, client = connect(dialect)
    push_to_talk(client, dialect)
    if ms:
        client.send({"type": "input_audio_buffer.append", "audio": b64(tone(ms))})
    client.send({"type": "input_audio_buffer.commit", "event_id": "c"})
    error = client.expect_error()
    assert error["code"] == "input_audio_buffer_commit_empty" and f"{ms:.2f}ms" in error["message"]
    assert sim.sessions[0].committed_audio == {}


def test_clear_empties_the_buffer(connect, dialect):
    sim, client = connect(dialect)
    push_to_talk(client, dialect)
    client.send({"type": "input_audio_buffer.append", "audio": b64(tone(500))})
    client.send({"type": "input_audio_buffer.clear"})
    assert client.recv()["type"] == "input_audio_buffer.cleared"
    client.send({"type": "input_audio_buffer.commit"})
    assert client.expect_error()["code"] == "input_audio_buffer_commit_empty"


def test_transcription_of_committed_audio(connect, dialect):
    sim, client = connect(dialect)
    transcription = ({"input_audio_transcription": {"model": "whisper-1"}} if dialect == "beta" else
                     {"audio": {"input": {"turn_detection": None, "transcription": {"model": "whisper-1"}}}})
    push_to_talk(client, dialect, transcription)
    client.send({"type": "input_audio_buffer.append", "audio": b64(tone(1500))})
    client.send({"type": "input_audio_buffer.commit"})
    events = client.until("conversation.item.input_audio_transcription.completed")
    done = events[-1]
    assert done["transcript"] == "[1.5 s of audio]" and done["usage"] == {"type": "duration", "seconds": 1.5}
    deltas = [e for e in events if e["type"] == "conversation.item.input_audio_transcription.delta"]
    assert len(deltas) > 1 and "".join(d["delta"] for d in deltas) == done["transcript"]
    assert {(d["item_id"], d["content_index"]) for d in deltas} == {(done["item_id"], 0)}


def test_transcription_streams_and_completes_after_the_response_has_started(connect, dialect):
    """With the service's latencies a VAD turn's transcript streams in and completes after `response.created`
    (transcription runs beside the response); the item's transcript is null until then, and set after."""
    sim, client = connect(dialect, **{**REAL_TIME, "pace": 0})
    transcription = {"model": "gpt-4o-transcribe"}
    client.send({"type": "session.update", "session": {"input_audio_transcription": transcription}
                 if dialect == "beta" else {"type": "realtime", "audio": {"input": {"transcription": transcription}}}})
    assert client.recv()["type"] == "session.updated"
    append_chunked(client, silence(300) + tone(800) + silence(700))
    events = client.until("conversation.item.input_audio_transcription.completed")
    types = [e["type"] for e in events]
    committed = events[types.index("input_audio_buffer.committed")]
    added = events[types.index(ITEM_ADDED[dialect])]
    assert added["item"]["id"] == committed["item_id"] and added["item"]["content"][0]["transcript"] is None
    first_delta = types.index("conversation.item.input_audio_transcription.delta")
    assert types.index("input_audio_buffer.committed") < types.index("response.created") < len(types) - 1
    assert first_delta < len(types) - 1
    done = events[-1]
    assert done["item_id"] == committed["item_id"] and done["transcript"].endswith(" s of audio]")
    assert "".join(e["delta"] for e in events if e["type"].endswith("transcription.delta")) == done["transcript"]
    client.send({"type": "conversation.item.retrieve", "item_id": done["item_id"]})
    retrieved = client.until("conversation.item.retrieved")[-1]
    assert retrieved["item"]["content"][0]["transcript"] == done["transcript"]


def _speech_bounds_ms(pcm: bytes, rate: int = 24000) -> tuple[float, float]:
    """Where the speech in `pcm` starts and ends, by our own measure (10 ms frames above -35 dBFS)."""
    x = np.frombuffer(pcm, dtype="<i2").astype(float)
    frame = rate // 100
    rms = np.sqrt(np.mean(x[: len(x) // frame * frame].reshape(-1, frame) ** 2, axis=1))
    loud = np.nonzero(20 * np.log10(np.maximum(rms, 1e-9) / 32768) >= -35)[0]
    return loud[0] * 10.0, (loud[-1] + 1) * 10.0


@pytest.mark.parametrize("fmt", ["pcm16", "g711_ulaw"])
def test_server_vad_on_real_speech(connect, dialect, fmt):
    """espeak-ng speech between silences: speech_started/stopped at the right stream times (prefix padding and
    silence duration applied), auto-commit of exactly that span, then an automatic response."""
    sim, client = connect(dialect)
    lead_ms, prefix, silence_ms = 700, 200, 400
    td = {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": prefix, "silence_duration_ms": silence_ms}
    if dialect == "beta":
        session = {"turn_detection": td, "input_audio_format": fmt}
    else:
        session = {"type": "realtime", "audio": {"input": {"turn_detection": td, "format": {
            "pcm16": {"type": "audio/pcm", "rate": 24000}, "g711_ulaw": {"type": "audio/pcmu"}}[fmt]}}}
    client.send({"type": "session.update", "session": session})
    assert client.recv()["type"] == "session.updated"
    rate = 24000 if fmt == "pcm16" else 8000
    speech = speech_pcm16("Turn on the kitchen lights.", rate)
    pcm = silence(lead_ms, rate) + speech + silence(1200, rate)
    start, end = _speech_bounds_ms(pcm, rate)
    wire = pcm if fmt == "pcm16" else audioop.lin2ulaw(pcm, 2)
    append_chunked(client, wire, chunk=rate * 2 // 50 if fmt == "pcm16" else rate // 50)  # 20 ms appends
    events = client.until("response.done")
    started = next(e for e in events if e["type"] == "input_audio_buffer.speech_started")
    stopped = next(e for e in events if e["type"] == "input_audio_buffer.speech_stopped")
    assert abs(started["audio_start_ms"] - (start - prefix)) <= 20
    assert abs(stopped["audio_end_ms"] - (end + silence_ms)) <= 40
    assert started["item_id"] == stopped["item_id"]
    types = [e["type"] for e in events]
    assert types.index("input_audio_buffer.speech_stopped") < types.index("input_audio_buffer.committed") \
        < types.index("response.created")
    committed = sim.sessions[0].committed_audio[stopped["item_id"]]
    bytes_per_ms = len(wire) / (len(pcm) / 2 / rate * 1000)
    assert len(committed) == pytest.approx((stopped["audio_end_ms"] - started["audio_start_ms"]) * bytes_per_ms,
                                           abs=bytes_per_ms * 2)
    # the answer is about the audio heard
    done = events[-1]
    transcript = done["response"]["output"][0]["content"][0]["transcript"]
    assert transcript == f"Simulator heard {len(committed) / bytes_per_ms / 1000:.1f} seconds of audio."


def test_vad_threshold_maps_to_energy(connect):
    """A -40 dBFS tone is speech at threshold 0.3 (-45 dBFS) and not at 0.7 (-25 dBFS)."""
    sim, client = connect("ga")
    quiet = tone(800, amplitude=int(32768 * 10 ** (-37 / 20)))  # RMS of a sine is -3 dB from its peak: -40 dBFS
    for threshold, expect_speech in ((0.7, False), (0.3, True)):
        td = {"type": "server_vad", "threshold": threshold, "create_response": False, "silence_duration_ms": 200}
        client.send({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {"turn_detection": td}}}})
        assert client.recv()["type"] == "session.updated"
        append_chunked(client, silence(300) + quiet + silence(600))
        client.send({"type": "input_audio_buffer.clear"})
        got = [e["type"] for e in client.until("input_audio_buffer.cleared")]
        assert ("input_audio_buffer.speech_started" in got) == expect_speech, (threshold, got)


def test_push_to_talk_has_no_vad_events(connect, dialect):
    sim, client = connect(dialect)
    push_to_talk(client, dialect)
    append_chunked(client, silence(300) + speech_pcm16("Hello there.") + silence(1000))
    client.send({"type": "input_audio_buffer.commit"})
    client.send({"type": "response.create"})
    types = [e["type"] for e in client.until("response.done")]
    assert not any(t.startswith("input_audio_buffer.speech") for t in types)
    assert types.index("input_audio_buffer.committed") < types.index("response.created")


@pytest.mark.parametrize("fmt", ["g711_ulaw", "g711_alaw"])
def test_g711_output_decodes_to_the_voice(connect, dialect, fmt):
    sim, client = connect(dialect, voice="synthetic")
    if dialect == "beta":
        session = {"output_audio_format": fmt, "turn_detection": None}
    else:
        session = {"type": "realtime", "audio": {"output": {"format": {
            "type": {"g711_ulaw": "audio/pcmu", "g711_alaw": "audio/pcma"}[fmt]}}}}
    client.send({"type": "session.update", "session": session})
    client.recv()
    client.send({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                                                              "content": [{"type": "input_text", "text": "Hi"}]}})
    client.send({"type": "response.create"})
    events = client.until("response.done")
    data = b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == AUDIO_DELTA[dialect])
    pcm = (audioop.ulaw2lin if fmt == "g711_ulaw" else audioop.alaw2lin)(data, 2)
    # synthetic voice: 180 ms bursts + 60 ms gaps per word at 8 kHz ("Simulator heard: Hi." = 3 words)
    assert len(data) == 3 * (8000 * 240 // 1000)
    x = np.frombuffer(pcm, dtype="<i2").astype(float)
    first_word = x[: 8 * 180]
    peak_hz = np.argmax(np.abs(np.fft.rfft(first_word))) * 8000 / len(first_word)
    expected_hz = 150 + sum(b"Simulator") % 200
    assert abs(peak_hz - expected_hz) < 8000 / len(first_word) * 2


def test_pcm16_output_is_24khz_speech_paced_faster_than_real_time(connect, dialect):
    pace = 4.0
    sim, client = connect(dialect, pace=pace)
    client.send({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                                                              "content": [{"type": "input_text", "text": "Good morning"}]}})
    client.send({"type": "response.create"})
    times, audio = [], b""
    for _ in range(1000):
        event = client.recv()
        if event["type"] == "response.done":
            break
        if event["type"] == AUDIO_DELTA[dialect]:
            times.append(time.monotonic())
            audio += base64.b64decode(event["delta"])
    audio_s = len(audio) / 48000
    elapsed = times[-1] - times[0]
    assert audio_s > 1.0
    # chunks of 100 ms arrive ~pace times faster than real time: never as slow as real time, never a burst
    assert (audio_s - 0.1) / pace * 0.8 < elapsed < (audio_s - 0.1) / 2
    assert all(len(base64.b64decode(e["delta"])) <= 4800 for e in client.events if e["type"] == AUDIO_DELTA[dialect])


def _ga_turn_detection(client, td):
    client.send({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {"turn_detection": td}}}})


def _idle_session(client, timeout_ms=5000):
    _ga_turn_detection(client, {"type": "server_vad", "silence_duration_ms": 300, "idle_timeout_ms": timeout_ms})
    assert client.recv()["type"] == "session.updated"


def _quiet(client):
    """Everything the server sent up to a clear of the buffer (the clear is only a marker)."""
    client.send({"type": "input_audio_buffer.clear"})
    return [e["type"] for e in client.until("input_audio_buffer.cleared")]


def test_idle_timeout_after_the_reply_commits_silence_and_responds(connect):
    """GA server VAD `idle_timeout_ms`: counted in input-stream time from the end of the last reply's audio
    (response.done + its duration); reached with no speech, the server sends `timeout_triggered`, commits the buffer
    and answers. Not before the first reply."""
    sim, client = connect("ga")
    s = sim.sessions[0]
    _idle_session(client)
    append_chunked(client, silence(6000))  # no reply yet: no idle timer
    assert "input_audio_buffer.timeout_triggered" not in _quiet(client)
    client.send({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                                                              "content": [{"type": "input_text", "text": "hi"}]}})
    client.send({"type": "response.create"})
    done = client.until("response.done")[-1]["response"]
    reply_ms = s.audio_sent_ms[done["output"][0]["id"]]
    idle_from = 6000 + reply_ms  # the stream stood at 6000 ms when the reply was done
    append_chunked(client, silence(int(reply_ms) + 4800))
    assert "input_audio_buffer.timeout_triggered" not in _quiet(client)  # 4.8 s of the 5 s
    append_chunked(client, silence(400))
    events = client.until("response.done")
    types = [e["type"] for e in events]
    timeout = events[types.index("input_audio_buffer.timeout_triggered")]
    assert timeout["audio_start_ms"] == int(idle_from)
    assert 5000 <= timeout["audio_end_ms"] - timeout["audio_start_ms"] <= 5100  # one 100 ms append of slack
    committed = events[types.index("input_audio_buffer.committed")]
    assert committed["item_id"] == timeout["item_id"] in s.committed_audio
    assert types.index("input_audio_buffer.timeout_triggered") < types.index("input_audio_buffer.committed") \
        < types.index("response.created")
    assert events[-1]["response"]["output"][0]["content"][0]["transcript"].startswith("Simulator heard ")


def test_speech_before_the_idle_timeout_stops_it(connect):
    sim, client = connect("ga")
    _idle_session(client)
    client.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
    client.until("response.done")
    append_chunked(client, silence(3000) + tone(400) + silence(3000))  # 6.4 s, but the user spoke at 3 s
    types = _quiet(client)
    assert "input_audio_buffer.speech_started" in types and "input_audio_buffer.timeout_triggered" not in types


@pytest.mark.parametrize("td", [{"type": "semantic_vad", "idle_timeout_ms": 6000},
                                {"type": "server_vad", "idle_timeout_ms": 4999}])
def test_idle_timeout_only_for_server_vad_and_in_range(connect, td):
    sim, client = connect("ga")
    _ga_turn_detection(client, td)
    assert client.expect_error()["param"] == "session.audio.input.turn_detection.idle_timeout_ms"
