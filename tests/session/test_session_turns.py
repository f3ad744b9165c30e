"""Turns against a real simulator: text turns, push-to-talk with real speech, server VAD, the response queue."""

from __future__ import annotations

import base64
import json
import time

import numpy as np
import pytest

from sessionhelpers import REAL_TIME
from rtaudiod.codecs import alaw_decode, ulaw_decode
from rtaudiod.session import State
from sessionhelpers import speech, wait_until, xcorr

FORMATS = ["pcm16", "g711_ulaw"]


def sent_types(sim, index: int = 0) -> list[str]:
    return [e["type"] for e in sim.sessions[index].received_events]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_text_turn_plays_the_whole_reply(make_sim, make_session, dialect, fmt):
    sim = make_sim(dialect)
    session, engine, _, events = make_session(sim, fmt=fmt)
    session.send_text("Hello there")
    done = events.wait("response", lambda d: d["event"] == "done", timeout=15)
    assert done["status"] == "completed"
    said = events.wait("transcript.assistant", lambda d: d["final"])
    assert said["text"] == "Simulator heard: Hello there."
    item = said["item_id"]
    sent_ms = sim.sessions[0].audio_sent_ms[item]
    assert sent_ms > 500
    # every byte the service sent for the item is in the playout ring's ledger, and then handed to the device
    assert engine.received_ms(item) == pytest.approx(sent_ms, abs=1)
    wait_until(lambda: session.state is State.READY, 15, "the reply to finish playing")
    # READY comes once the ring ran dry; the resampler's last few ms reach the device a callback or two later
    wait_until(lambda: engine.played_ms(item) == pytest.approx(sent_ms, abs=1), 2, "the reply's last ms to play")
    assert engine.status()["playout"]["underruns"] == 0
    states = [d["state"] for d in events.of("state")]
    assert states[:2] == ["connecting", "ready"]
    assert states.index("thinking") < states.index("speaking") < len(states) - 1 and states[-1] == "ready"
    # the session was configured with the format it runs, before any audio
    update = next(e for e in sim.sessions[0].received_events if e["type"] == "session.update")
    wire_fmt = update["session"]["input_audio_format"] if dialect == "beta" else \
        update["session"]["audio"]["input"]["format"]["type"]
    assert wire_fmt == {"pcm16": "pcm16" if dialect == "beta" else "audio/pcm", "g711_ulaw":
                        "g711_ulaw" if dialect == "beta" else "audio/pcmu"}[fmt]
    stats = session.status()["counters"]
    assert stats["audio_deltas"] >= 1 and stats["reply_latency"]["count"] == 1
    assert stats["playout_latency"]["count"] == 1


@pytest.mark.parametrize("fmt", ["pcm16", "g711_ulaw", "g711_alaw"])
def test_push_to_talk_speech_reaches_the_service_intact(make_sim, make_session, dialect, fmt):
    sim = make_sim(dialect)
    session, engine, mic, events = make_session(sim, fmt=fmt, turn_detection={"type": "none"})
    rate = engine.config.session_rate
    words = speech("Turn on the kitchen lights.", rate)
    session.turn_start()
    assert session.state is State.LISTENING
    wait_until(lambda: mic.idle, 5, "the mic to be ready")
    ready_in = mic.say(words)
    wait_until(lambda: mic.idle, ready_in + 5, "the speech to be captured")
    assert session.turn_end() is True
    events.wait("response", lambda d: d["event"] == "done", timeout=15)
    s = sim.sessions[0]
    (item, committed), = s.committed_audio.items()
    pcm = committed if fmt == "pcm16" else (ulaw_decode if fmt == "g711_ulaw" else alaw_decode)(committed)
    _, corr = xcorr(words, pcm)
    assert corr > (0.999 if fmt == "pcm16" else 0.99)  # G.711 is lossy: ~38 dB SNR
    assert len(pcm) >= len(words)  # the whole utterance, up to the last sample before turn_end
    types = sent_types(sim)
    assert types.index("input_audio_buffer.clear") < types.index("input_audio_buffer.append")
    assert types.index("input_audio_buffer.commit") > max(i for i, t in enumerate(types)
                                                          if t == "input_audio_buffer.append")
    assert types.index("response.create") > types.index("input_audio_buffer.commit")
    said = events.wait("transcript.assistant", lambda d: d["final"])
    assert said["text"].startswith("Simulator heard ")
    # nothing went up outside the turn (push-to-talk)
    appended = sum(len(base64.b64decode(e["audio"])) for e in s.received_events
                   if e["type"] == "input_audio_buffer.append")
    assert appended == len(committed)


def test_a_turn_too_short_to_commit_is_cleared_not_committed(make_sim, make_session):
    sim = make_sim("ga")
    session, engine, mic, events = make_session(sim, turn_detection={"type": "none"})
    session.turn_start()
    assert session.turn_end() is False
    error = events.wait("error", lambda d: d["code"] == "turn_too_short")
    assert "not committed" in error["message"]
    wait_until(lambda: sent_types(sim).count("input_audio_buffer.clear") == 2, 5, "the clear to arrive")
    assert "input_audio_buffer.commit" not in sent_types(sim)
    assert session.stats.commits_skipped == 1
    assert not [e for e in sim.sessions[0].sent_events if e["type"] == "error"]
    assert session.state is State.READY


def test_turn_end_without_a_turn_is_a_clear_error(make_sim, make_session):
    from rtaudiod.session import SessionError

    session, *_ = make_session(make_sim("ga"), turn_detection={"type": "none"})
    with pytest.raises(SessionError, match="no turn is open"):
        session.turn_end()


def test_server_vad_turn_from_real_speech(make_sim, make_session, dialect):
    sim = make_sim(dialect, **REAL_TIME)
    session, engine, mic, events = make_session(sim, transcription_model="gpt-4o-mini-transcribe")
    words = speech("What is the weather like today?")
    mic.say(words)
    events.wait("vad", lambda d: d["event"] == "speech_started", timeout=10)
    assert session.wait_state(State.LISTENING, timeout=2)
    events.wait("vad", lambda d: d["event"] == "speech_stopped", timeout=10)
    said = events.wait("transcript.assistant", lambda d: d["final"], timeout=15)
    assert said["text"].startswith("Simulator heard ")
    heard = events.wait("transcript.user", lambda d: d["final"], timeout=10)
    assert heard["text"].startswith("[")
    (committed,) = sim.sessions[0].committed_audio.values()
    _, corr = xcorr(words[: len(committed) // 2 * 2][:24000], committed)
    assert corr > 0.99
    assert session.stats.frames_sent > 50 and session.stats.frames_withheld == 0
    wait_until(lambda: session.state is State.READY, 15, "the reply to finish")
    assert session.stats.reply_latency.count == 1
    # the history holds the turn for a new session: the user's transcript and the assistant's words, in order
    roles = [(t.role, t.text[:6]) for t in session.history.turns()]
    assert roles == [("user", heard["text"][:6]), ("assistant", "Simula")]


def test_response_create_is_never_sent_over_an_active_response(make_sim, make_session):
    sim = make_sim("ga", **REAL_TIME)
    session, engine, mic, events = make_session(sim)
    session.send_text("First question")
    session.send_text("Second question")  # the first response is still being created: this one waits
    wait_until(lambda: len([d for d in events.of("response") if d["event"] == "done"]) == 2, 20, "two responses")
    s = sim.sessions[0]
    assert not [e for e in s.sent_events if e["type"] == "error"], "the service refused something"
    assert sent_types(sim).count("response.create") == 2
    assert session.stats.responses_queued == 1
    finals = [d["text"] for d in events.of("transcript.assistant") if d["final"]]
    assert finals[-1] == "Simulator heard: Second question."


def test_commands_need_a_connection(make_sim, make_session):
    from rtaudiod.session import SessionError

    session, *_ = make_session(make_sim("ga"), start=False)
    with pytest.raises(SessionError) as e:
        session.send_text("hello")
    assert e.value.code == "not_connected"


def test_status_is_json_and_names_no_key(make_sim, make_session):
    from sessionhelpers import KEY

    session, engine, *_ = make_session(make_sim("ga"))
    status = session.status()
    text = json.dumps(status)
    assert KEY not in text and KEY not in repr(session) and KEY not in repr(session.config)
    assert status["state"] == "ready" and status["connected"] and status["session_id"].startswith("sess_")
    assert status["settings"]["credentials"] == "api_key"


@pytest.mark.parametrize("fmt", ["pcm16", "g711_alaw"])
def test_the_reply_audio_reaches_an_audio_listener_as_pcm16(make_sim, make_session, fmt):
    sim = make_sim("ga")
    session, engine, mic, events = make_session(sim, fmt=fmt)
    heard: list[tuple[bytes, str]] = []
    session.on_audio = lambda pcm, item: heard.append((pcm, item))
    session.send_text("Hello there")
    said = events.wait("transcript.assistant", lambda d: d["final"], timeout=15)
    events.wait("response", lambda d: d["event"] == "done")
    item = said["item_id"]
    sent = b"".join(base64.b64decode(e["delta"]) for e in sim.sessions[0].sent_events
                    if e["type"] == "response.output_audio.delta" and e["item_id"] == item)
    expected = sent if fmt == "pcm16" else alaw_decode(sent)
    assert b"".join(pcm for pcm, i in heard if i == item) == expected
    assert {i for _, i in heard} == {item}


def test_injected_audio_is_the_turn(make_sim, make_session):
    sim = make_sim("ga")
    session, engine, mic, events = make_session(sim, turn_detection={"type": "none"})
    words = speech("Set a timer for ten minutes.")
    mic.say(bytes(len(words)))  # the room is silent meanwhile: the microphone's frames must not be sent
    session.turn_start()
    assert session.inject_audio(words) == len(words)
    wait_until(lambda: session.uplink.inject_ring.read_available == 0, 10, "the injected audio to go up")
    assert session.turn_end() is True
    (committed,) = wait_until(lambda: list(sim.sessions[0].committed_audio.values()), 5, "the commit")
    # bit-exact: nothing of the microphone mixed in, nothing lost; after it the (silent) microphone is live again
    assert committed[: len(words)] == words
    assert not any(committed[len(words):]) and len(committed) - len(words) <= 10 * 960


def test_a_cancelled_turn_drops_its_injected_audio(make_sim, make_session):
    """Audio injected for a turn that is then dropped must not go up in the next turn."""
    sim = make_sim("ga")
    session, engine, mic, events = make_session(sim, turn_detection={"type": "none"})
    dropped = np.random.default_rng(3).integers(-8000, 8000, 24000 * 3).astype("<i2").tobytes()  # 3 s
    words = speech("Set a timer for ten minutes.")
    session.turn_start()
    session.inject_audio(dropped)
    session.turn_cancel()
    session.turn_start()
    session.inject_audio(words)
    wait_until(lambda: session.uplink.inject_ring.read_available == 0, 10, "the injected audio to go up")
    assert session.turn_end() is True
    (committed,) = wait_until(lambda: list(sim.sessions[0].committed_audio.values()), 5, "the commit")
    assert committed[: len(words)] == words


def test_a_stream_injected_in_pieces_goes_up_whole_with_no_microphone_between_them(make_sim, make_session):
    """Another process streams its capture at real time: the inject ring runs dry between pieces. The silent
    microphone's frames (the test Mic sends silence when it has nothing to say) in such a gap must not be spliced
    into the stream."""
    sim = make_sim("ga")
    session, engine, mic, events = make_session(sim, turn_detection={"type": "none"})
    rng = np.random.default_rng(7)
    pieces = [rng.integers(-8000, 8000, 2400).astype("<i2").tobytes() for _ in range(3)]  # 100 ms each
    session.turn_start()
    for piece in pieces:
        session.inject_audio(piece)
        wait_until(lambda: session.uplink.inject_ring.read_available == 0, 10, "the piece to go up")
        time.sleep(0.1)  # the next piece comes later: a gap of several microphone frames
    assert session.turn_end() is True
    (committed,) = wait_until(lambda: list(sim.sessions[0].committed_audio.values()), 5, "the commit")
    assert b"".join(pieces) in committed


def test_only_the_conversation_settings_change_live(make_sim, make_session):
    from rtaudiod.session import SessionError

    sim = make_sim("ga")
    session, *_ = make_session(sim)
    for key, value in (("base_url", "ws://127.0.0.1:1/v1/realtime"), ("api_key", "sk-other"), ("audio_format",
                                                                                            "g711_ulaw")):
        with pytest.raises(ValueError, match="cannot change live"):
            session.update_settings(**{key: value})
    with pytest.raises(ValueError, match="unknown setting 'voise'"):
        session.update_settings(voise="cedar")
    with pytest.raises(ValueError, match="voice 'alloyy'"):
        session.update_settings(voice="alloyy")
    assert session.config.base_url == sim.url
    session.update_settings(voice="cedar", instructions="Be terse.")
    update = wait_until(lambda: [e for e in sim.sessions[0].received_events if e["type"] == "session.update"
                                 and e["session"].get("instructions") == "Be terse."], 5, "the update")[0]
    assert update["session"]["audio"]["output"]["voice"] == "cedar"
    with pytest.raises(SessionError, match="no turn is open"):
        session.turn_cancel()


def test_a_text_that_meets_the_services_own_reply_is_answered_after_it(make_sim, make_session):
    """Server VAD: when the user stops speaking the service starts a reply of its own. A response.create that
    reaches it a moment later is refused (`conversation_already_has_active_response`), and the client sees that
    reply's response.created before the refusal: the text's response must be asked again once the reply is done."""
    sim = make_sim("ga", first_audio_latency=1.0)  # response.created at once, then the reply stays active 1 s
    session, engine, mic, events = make_session(sim)
    sent: list[bool] = []

    def observer(topic: str, data: dict) -> None:
        events(topic, data)
        if topic == "vad" and data["event"] == "speech_stopped" and not sent:
            sent.append(True)  # on the receive thread: the service's own reply is being created meanwhile
            session.send_text("Also, what time is it?")

    session.on_event = observer
    mic.say(speech("Turn on the kitchen lights."))
    said = events.wait("transcript.assistant", lambda d: d["final"] and d["text"].startswith("Simulator heard: Also"), 20)
    assert said["text"] == "Simulator heard: Also, what time is it."
    s = sim.sessions[0]
    refused = [e["error"]["code"] for e in s.sent_events if e["type"] == "error"]
    assert "conversation_already_has_active_response" in refused  # the race happened
    assert sent_types(sim).count("response.create") >= 2


@pytest.mark.parametrize("modality", ["text", "audio"])
def test_a_reply_without_audio_leaves_the_session_ready(make_sim, make_session, modality):
    """A text reply (or a cancelled one) has no audio to end the wait for the reply: its response.done must, or
    the session says "thinking" for ever, and never renews (it renews only when ready)."""
    sim = make_sim("ga", **(REAL_TIME if modality == "audio" else {}))  # audio: cancelled before its first delta
    session, engine, mic, events = make_session(sim, output_modality=modality)
    session.send_text("Hello there")
    if modality == "audio":
        events.wait("response", lambda d: d["event"] == "created", timeout=10)
        session.cancel_response()
    events.wait("response", lambda d: d["event"] == "done", timeout=10)
    assert session.wait_state(State.READY, timeout=3), session.state
    assert session.conversation.quiet()


def test_a_new_turn_drops_the_replies_still_waiting(make_sim, make_session):
    sim = make_sim("ga", **REAL_TIME)
    session, engine, mic, events = make_session(sim, turn_detection={"type": "none"})
    session.send_text("First question")
    session.send_text("Second question")  # queued behind the first reply
    assert session.status()["conversation"]["responses_queued"] == 1
    session.turn_start()  # the user speaks again: the queued reply is stale
    assert session.status()["conversation"]["responses_queued"] == 0
    session.turn_cancel()
    time.sleep(1.5)
    assert sent_types(sim).count("response.create") == 1


def uplink_in_send_audio() -> bool:
    """The uplink thread waits in `Outbox.send_audio` with a frame it decided to send."""
    import sys
    import threading

    uplink = next((t for t in threading.enumerate() if t.name == "rtaudiod-uplink"), None)
    frame = sys._current_frames().get(uplink.ident) if uplink is not None else None
    while frame is not None:
        if frame.f_code.co_name == "send_audio" and frame.f_code.co_filename.endswith("outbox.py"):
            return True
        frame = frame.f_back
    return False


def turn_going_up(make_sim, make_session):
    """A push-to-talk session whose turn's audio reaches the simulator; and the events it received."""
    sim = make_sim("ga")
    session, *_ = make_session(sim, turn_detection={"type": "none"})
    received = sim.sessions[0].received_events
    session.turn_start()
    wait_until(lambda: any(e["type"] == "input_audio_buffer.append" for e in list(received)), 10, "the turn's audio")
    return session, received


def sent_until_a_marker(session, received) -> list[str]:
    """The types of the events received, through a marker sent behind everything the uplink sent."""
    session.update_settings(instructions="Be brief.")
    wait_until(lambda: any(e["type"] == "session.update" and e["session"].get("instructions") == "Be brief."
                           for e in list(received)), 10, "the marker")
    return [e["type"] for e in list(received)]


def test_no_frame_of_a_cancelled_turn_goes_up_after_its_clear(make_sim, make_session):
    """The uplink decided to send a frame of the open turn, then turn_cancel closed the turn and posted its clear
    before the frame reached the wire: the frame must not follow the clear (it would be audio the user took back,
    in the service's buffer). The test holds the wire's order lock (as a peer that stops reading holds the senders)
    so the uplink waits with its frame while the turn is cancelled."""
    session, received = turn_going_up(make_sim, make_session)
    with session.link.outbox._order:
        wait_until(uplink_in_send_audio, 10, "the uplink to wait with a frame of the turn")
        session.turn_cancel()  # posts its clear: it never waits on the wire
    wait_until(lambda: not uplink_in_send_audio(), 10, "the uplink to be done with that frame")
    types = sent_until_a_marker(session, received)
    cleared = len(types) - 1 - types[::-1].index("input_audio_buffer.clear")  # the cancel's, the last one
    assert "input_audio_buffer.append" not in types[cleared:], types[cleared - 3:]
    assert session.stats.frames_withheld >= 1


def test_a_turn_cancelled_while_its_turn_end_is_served_commits_nothing(make_sim, make_session):
    """turn_end asked the uplink to send the rest of the turn and commit; a turn_cancel came before the uplink was
    done (the wire held, as by a peer that stops reading). Its clear is the last word: no frame after it, no commit,
    no reply, and turn_end answers False."""
    import threading

    session, received = turn_going_up(make_sim, make_session)
    ended: dict[str, bool] = {}
    with session.link.outbox._order:
        wait_until(uplink_in_send_audio, 10, "the uplink to wait with a frame of the turn")
        ender = threading.Thread(target=lambda: ended.setdefault("committed", session.turn_end(timeout=10)))
        ender.start()
        wait_until(lambda: session.uplink.turn_end is not None, 10, "the turn_end request")
        session.turn_cancel()
    ender.join(15)
    assert ended == {"committed": False}
    types = sent_until_a_marker(session, received)
    first_append = types.index("input_audio_buffer.append")
    clears = [i for i, t in enumerate(types) if t == "input_audio_buffer.clear" and i > first_append]
    assert len(clears) == 1, types[first_append:]  # the cancel's alone
    after = types[clears[0]:]
    assert not {"input_audio_buffer.append", "input_audio_buffer.commit", "response.create"} & set(after), after
    assert session.stats.commits_skipped == 0  # not even the clear of a turn too short: the cancel took it
