"""Push-to-talk turns and the service's turn detection, in every mix (docs/push-to-talk.md: the rule).

A pushed turn (`turn_start` .. `turn_end`) owns the input buffer: while it is open the service's VAD is switched off
(one `session.update` naming only `turn_detection`), and it is switched back on right after the commit (or the
clear of a cancelled or too-short turn). Each test runs at the service's pace against a real simulator, with real
speech: clips that end in speech (a button released mid-word) and clips that end in silence longer than the VAD's
`silence_duration_ms` (which would commit the buffer on its own if the VAD were still on).
"""

from __future__ import annotations

import pytest

from rtaudiod._backend import NO_EXT
from rtaudiod.session import State
from sessionhelpers import REAL_TIME, speech, wait_until, xcorr

# Push-to-talk's turn logic is the same Python in both builds and drives no twin that other tests do
# not: the C build runs it, the twins build (RTAUDIOD_NO_EXT=1) skips it for CI's time (under 30 min).
pytestmark = pytest.mark.skipif(NO_EXT, reason="logic only: run on the C build (CI's time)")

RATE = 24000


def clip(ending: str) -> bytes:
    """Real speech that ends mid-word (`speech`) or in 1.2 s of silence (`silence`)."""
    words = speech("Turn on the kitchen lights and the radio please.", RATE)
    if ending == "speech":
        cut = len(words) * 6 // 10 & ~1
        return words[:cut]
    return words + bytes(RATE * 2 * 12 // 10)


def turn_detection_sent(sim) -> list:
    """The `turn_detection` of every session.update the service received that names it, in order."""
    out = []
    for e in sim.sessions[0].received_events:
        if e["type"] != "session.update":
            continue
        s = e["session"]
        if sim.dialect.name == "ga":
            s = s.get("audio", {}).get("input", {})
        if "turn_detection" in s:
            out.append(s["turn_detection"])
    return out


def pushed_turn(session, pcm: bytes, respond: bool = True) -> bool:
    """What `rtaudiod-cli send-audio FILE --turn` does: open a turn, inject the clip, end the turn."""
    session.turn_start()
    assert session.inject_audio(pcm) == len(pcm)
    wait_until(lambda: session.uplink.inject_ring.read_available < 4800, 15, "the clip to go up")
    return session.turn_end(respond=respond)


def assert_reply_played_whole(session, events, after: int = 0) -> None:
    done = events.wait("response", lambda d: d["event"] == "done", timeout=15, after=after)
    assert done["status"] == "completed"
    assert wait_until(lambda: session.state is State.READY, 20, "the reply to finish playing")
    assert not [d for d in events.of("response")[after:] if d["event"] == "interrupted"]


@pytest.mark.parametrize("ending", ["speech", "silence"])
@pytest.mark.parametrize("vad", ["server_vad", "none"])
def test_a_pushed_turn_is_one_commit_and_one_reply_whatever_the_turn_detection(make_sim, make_session, dialect,
                                                                               ending, vad):
    sim = make_sim(dialect, **REAL_TIME)
    session, engine, mic, events = make_session(sim, turn_detection={"type": vad})
    pcm = clip(ending)
    assert pushed_turn(session, pcm) is True
    assert_reply_played_whole(session, events)
    s = sim.sessions[0]
    # the turn's audio is one item, the whole clip (no VAD commit cut it in two, or cut it short)
    (committed,) = s.committed_audio.values()
    assert xcorr(pcm, committed)[1] > 0.999 and len(committed) >= len(pcm)
    assert [e["type"] for e in s.received_events].count("response.create") == 1
    states = [d["state"] for d in events.of("state")]
    # one listening (the pushed turn's), then the reply; a playout that runs dry under load may step back to
    # thinking for a moment, so the order is checked, not the exact list
    assert states.count("listening") == 1, states
    after = states[states.index("listening"):]
    assert after[1] == "thinking" and "speaking" in after and after[-1] == "ready", states
    assert not session.status()["conversation"]["user_speaking"]
    if vad == "server_vad":  # switched off for the turn, on again after it: the service runs what was configured
        sent = turn_detection_sent(sim)
        assert sent[-2] is None and sent[-1]["type"] == "server_vad"
        assert s.settings["turn_detection"]["type"] == "server_vad"
        assert not [e for e in s.sent_events if e["type"] == "input_audio_buffer.speech_started"]
    else:
        assert all(td is None for td in turn_detection_sent(sim))


def test_server_vad_finds_the_turn_after_a_pushed_one(make_sim, make_session, dialect):
    """The VAD is back after a pushed turn: a spoken turn is found, answered and played; then a pushed one again."""
    sim = make_sim(dialect, **REAL_TIME)
    session, engine, mic, events = make_session(sim)
    assert pushed_turn(session, clip("speech")) is True
    assert_reply_played_whole(session, events)
    mark = len(events.of("response"))
    vad_mark = len(events.of("vad"))
    mic.say(speech("What time is it?", RATE))
    events.wait("vad", lambda d: d["event"] == "speech_started", timeout=10, after=vad_mark)
    events.wait("vad", lambda d: d["event"] == "speech_stopped", timeout=10, after=vad_mark)
    assert_reply_played_whole(session, events, after=mark)
    mark = len(events.of("response"))
    assert pushed_turn(session, clip("silence")) is True
    assert_reply_played_whole(session, events, after=mark)
    assert len(sim.sessions[0].committed_audio) == 3


def test_a_turn_pressed_while_the_vad_hears_speech_is_not_left_listening(make_sim, make_session, dialect):
    """The user is already speaking (the VAD said speech_started) when the button goes down: the pushed turn takes
    over the input, and its end leaves no VAD turn half open."""
    sim = make_sim(dialect, **REAL_TIME)
    session, engine, mic, events = make_session(sim)
    said = speech("Hello, are you there?", RATE)
    mic.say(said)
    events.wait("vad", lambda d: d["event"] == "speech_started", timeout=10)
    assert len(said) < len(clip("speech"))  # the user stops talking within the pushed turn (or the VAD hears more)
    assert pushed_turn(session, clip("speech")) is True
    assert_reply_played_whole(session, events)
    assert len(sim.sessions[0].committed_audio) == 1  # the pushed turn's; the VAD's half turn was cleared
    assert not session.status()["conversation"]["user_speaking"]


@pytest.mark.parametrize("end", ["cancel", "too_short"])
def test_a_pushed_turn_that_commits_nothing_gives_the_vad_back(make_sim, make_session, dialect, end):
    sim = make_sim(dialect, **REAL_TIME)
    session, engine, mic, events = make_session(sim)
    session.turn_start()
    if end == "cancel":
        session.inject_audio(clip("speech"))
        # all of it: injected audio left over after the cancel would go up to the VAD, as a turn of its own
        wait_until(lambda: session.uplink.inject_ring.read_available == 0, 15, "the clip to go up")
        session.turn_cancel()
    else:
        assert session.turn_end() is False
    assert session.wait_state(State.READY, timeout=5)
    wait_until(lambda: sim.sessions[0].settings["turn_detection"] is not None, 5, "the VAD to be back")
    assert not sim.sessions[0].committed_audio
    vad_mark = len(events.of("vad"))
    mic.say(speech("What time is it?", RATE))
    events.wait("vad", lambda d: d["event"] == "speech_stopped", timeout=10, after=vad_mark)
    assert_reply_played_whole(session, events)


def test_the_services_reply_to_a_vad_turn_met_by_a_pushed_turn_is_dropped(make_sim, make_session, dialect):
    """The VAD committed a short turn and the service starts its reply (~0.3 s to response.created); the button goes
    down before that reply is created: the user hears the pushed turn's reply, not the one to the earlier turn."""
    sim = make_sim(dialect, **REAL_TIME)
    session, engine, mic, events = make_session(sim)
    mic.say(speech("Hello.", RATE))
    events.wait("vad", lambda d: d["event"] == "speech_stopped", timeout=10)
    session.turn_start()
    created = events.wait("response", lambda d: d["event"] == "created", timeout=5)
    first = events.wait("response", lambda d: d["event"] == "done", timeout=5)
    assert first["response_id"] == created["response_id"] and first["status"] == "cancelled"
    mark = len(events.of("response"))
    pcm = clip("speech")
    assert session.inject_audio(pcm) == len(pcm)
    wait_until(lambda: session.uplink.inject_ring.read_available < 4800, 15, "the clip to go up")
    assert session.turn_end() is True
    assert_reply_played_whole(session, events, after=mark)
    assert "response.cancel" in [e["type"] for e in sim.sessions[0].received_events]
    assert len(sim.sessions[0].committed_audio) == 2
