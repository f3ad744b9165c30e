"""Listening modes end to end: espeak-ng speech played into the PulseAudio "microphone", the wake word detected on
the device, and what reached rtaudiod-sim checked byte for byte."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("pymicro_wakeword")

from listenhelpers import make_stack, speech, wait_until  # noqa: E402
from pulse_server import pulse_server  # noqa: E402, F401 - the session fixture
from sessionhelpers import xcorr  # noqa: E402

from rtaudiod.listen import ListenConfig  # noqa: E402


def speech_24k(text: str) -> bytes:
    return speech(text, 24000)

WAKE = "Okay nabu, what time is it?"
OTHER = "The weather will be sunny this afternoon."


@pytest.fixture
def stacks(pulse_server):
    made = []

    def factory(listen: ListenConfig, **kwargs):
        stack = make_stack(pulse_server, listen, **kwargs)
        made.append(stack)
        return stack

    yield factory
    for stack in made:
        stack.close()


def loud_ms(pcm: bytes, threshold: int = 500) -> float:
    x = np.abs(np.frombuffer(pcm, np.int16))
    return float(np.count_nonzero(x > threshold)) / 24


def test_other_speech_sends_nothing_and_the_wake_word_sends_the_preroll_and_the_question(stacks):
    stack = stacks(ListenConfig(mode="wake_word", follow_up_s=3.0))
    other = stack.say(OTHER)
    time.sleep(0.5)
    assert stack.listener.wakes == 0
    assert stack.received() == b""  # gated: not one frame went up
    status = stack.listener.status()
    assert status["state"] == "gated" and status["microphone"]["wake_word"]["withheld_s"] > 2.0

    asked = stack.say(WAKE)
    committed = wait_until(lambda: next(iter(stack.sim.sessions[0].committed_audio.values()), None), 10,
                           "the service's VAD to commit the question")
    assert stack.listener.wakes == 1
    wake = stack.events.of("wake")[0]
    assert wake["word"] == "Okay Nabu" and wake["probability"] > 0.5
    # What went up is a slice of the spoken sentence: from the pre-roll (just before the detection, inside the
    # wake word) through the question to its end; none of the other speech, and not the silence before.
    lag, corr = xcorr(committed, asked + bytes(48000))
    assert corr > 0.9, corr
    assert 0 < lag < len(asked) // 2 * 0.7, (lag, len(asked) // 2)  # starts inside the sentence's first part
    question = asked[-len(asked) // 3:]  # "...time is it?"
    assert xcorr(question, committed)[1] > 0.9
    assert xcorr(other, stack.received())[1] < 0.5
    # the privacy counters and the simulator agree: what was counted as sent is what arrived
    sent_s = stack.listener.status()["microphone"]["wake_word"]["sent_s"]
    assert abs(sent_s - len(stack.received()) / 48000) < 0.05, (sent_s, len(stack.received()) / 48000)
    # the reply plays, the follow-up window opens, then closes: gated again, nothing more sent
    wait_until(lambda: ("gated", "timeout") in stack.listen_states(), 30, "the follow-up window to close")
    states = stack.listen_states()
    assert states[: states.index(("gated", "timeout")) + 1] == [
        ("gated", "start"), ("listening", "wake_word"), ("listening", "speech"), ("replying", "reply"),
        ("listening", "follow_up"), ("gated", "timeout")]
    sent = len(stack.received())
    stack.say(OTHER)
    time.sleep(0.3)
    assert len(stack.received()) == sent


def test_an_answer_within_the_follow_up_window_needs_no_wake_word(stacks):
    stack = stacks(ListenConfig(mode="wake_word", follow_up_s=8.0, chime=False))
    stack.say(WAKE)
    wait_until(lambda: ("listening", "follow_up") in stack.listen_states(), 30, "the reply to end")
    answer = stack.say("Yes, and tomorrow too.")
    sim = stack.sim.sessions[0]
    wait_until(lambda: len(sim.committed_audio) == 2, 10, "the answer to be committed")
    assert xcorr(answer, list(sim.committed_audio.values())[1])[1] > 0.9
    assert stack.listener.wakes == 1


def test_announce_listen_opens_the_follow_up_window_without_a_wake_word(stacks):
    stack = stacks(ListenConfig(mode="wake_word", follow_up_s=8.0, chime=False))
    plain = stack.session.announce("The washing machine has finished.")
    wait_until(lambda: any(d["announce_id"] == plain and d["event"] == "done" for d in stack.events.of("announce")),
               20, "the plain announcement to play")
    assert stack.listener.state == "gated"  # without --listen the microphone stays gated
    stack.session.announce("Shall I turn the heating on?", listen=True)
    wait_until(lambda: ("listening", "follow_up") in stack.listen_states(), 20, "the announcement to end")
    assert ("replying", "announce") in stack.listen_states()
    answer = stack.say("Yes, please do.")
    sim = stack.sim.sessions[0]
    wait_until(lambda: len(sim.committed_audio) == 1, 10, "the answer to be committed")
    assert xcorr(answer, list(sim.committed_audio.values())[0])[1] > 0.9
    assert stack.listener.wakes == 0


def test_with_turn_detection_none_the_follow_up_window_opens_an_answer_window(stacks):
    """wake_word mode over push-to-talk settings: the uplink sends only inside a turn and no VAD would end an answer,
    so the follow-up window (here after `announce --listen`) opens the session's answer window (session/answer.py).
    Before, the gate opened and nothing went up."""
    stack = stacks(ListenConfig(mode="wake_word", follow_up_s=8.0, chime=False), turn_detection={"type": "none"})
    stack.session.announce("Shall I turn the heating on?", listen=True)
    wait_until(lambda: ("listening", "follow_up") in stack.listen_states(), 20, "the announcement to end")
    answer = stack.say("Yes, please do.")
    sim = stack.sim.sessions[0]
    wait_until(lambda: len(sim.committed_audio) == 1, 10, "the answer to be committed")
    assert xcorr(answer, list(sim.committed_audio.values())[0])[1] > 0.9
    assert [e["reason"] for e in stack.events.of("vad") if e["event"] == "answer_closed"] == ["answered"]
    wait_until(lambda: ("replying", "reply") in stack.listen_states(), 20, "the reply the daemon asked for")


def test_a_pause_within_the_question_does_not_cut_it_off(stacks):
    """The service's VAD ends the turn at the pause (500 ms of silence); the gate stays open until the reply
    sounds (here 1.5 s after the end of speech: the service takes 0.5-1.5 s), so the rest of the question goes up
    as the next turn."""
    stack = stacks(ListenConfig(mode="wake_word", chime=False), response_latency=0.3, first_audio_latency=1.5)
    stack.say("Okay nabu, what is the weather", pause_s=0.7, then="in Paris tomorrow?")
    sim = stack.sim.sessions[0]
    wait_until(lambda: len(sim.committed_audio) == 2, 10, "both parts of the question to be committed")
    rest = speech_24k("in Paris tomorrow?")
    assert xcorr(rest, list(sim.committed_audio.values())[1])[1] > 0.9


def test_the_wake_word_interrupts_a_reply(stacks):
    # A long reply (the simulator's reply to a long question): say the wake word while it plays.
    stack = stacks(ListenConfig(mode="wake_word", follow_up_s=2.0, chime=False))
    stack.say("Okay nabu, tell me a long story about the sea, the ships, the sailors and the lighthouse keeper.")
    wait_until(lambda: stack.session.state.value == "speaking", 20, "the reply to play")
    assert stack.listener.state == "replying"
    stack.say("Okay nabu", wait=False)
    interrupted = stack.events.wait("response", lambda d: d.get("event") == "interrupted", timeout=10)
    assert interrupted["reason"] == "wake_word"
    assert stack.listener.wakes == 2
    wait_until(lambda: not stack.engine.is_playing, 2, "the speaker to go quiet")


def test_switching_modes_takes_effect_at_once(stacks):
    stack = stacks(ListenConfig(mode="wake_word"))
    time.sleep(0.3)
    assert stack.received() == b""
    stack.listener.set_mode("always")
    wait_until(lambda: len(stack.received()) >= 4800, 2, "the microphone to stream")  # 100 ms within 2 s
    stack.listener.set_mode("wake_word")
    time.sleep(0.2)  # a frame already handed to the socket
    before = len(stack.received())
    time.sleep(0.5)
    assert len(stack.received()) == before  # gated again
    status = stack.listener.status()["microphone"]
    assert status["always"]["sent_s"] >= 0.1 and status["wake_word"]["withheld_s"] > 0.4


def test_push_to_talk_sends_only_inside_a_turn(stacks):
    stack = stacks(ListenConfig(mode="push_to_talk"), turn_detection={"type": "none"})
    stack.say("Nobody asked for this.")
    assert stack.received() == b""
    stack.session.turn_start()
    words = stack.say("Turn on the kitchen lights.")
    assert stack.session.turn_end() is True
    committed = wait_until(lambda: next(iter(stack.sim.sessions[0].committed_audio.values()), None), 5,
                           "the turn to be committed")
    assert xcorr(words, committed)[1] > 0.9
    assert ("listening", "turn") in stack.listen_states()
    status = stack.listener.status()["microphone"]["push_to_talk"]
    assert status["sent_s"] > 1.0 and status["withheld_s"] > 1.0
    # the turn's last frames, sent by turn_end, are counted too: the counter is what the simulator received
    assert abs(status["sent_s"] - len(stack.received()) / 48000) <= 0.01, (status, len(stack.received()) / 48000)
