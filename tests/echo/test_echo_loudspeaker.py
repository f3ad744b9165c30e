"""The issue's end-to-end test: rtaudiod on a loudspeaker whose sound comes back into its microphone (a private
PulseAudio: `module-loopback` from the speaker's monitor into the microphone's sink, 120 ms, -10 dB; TESTING.md,
"An echo path"), talking to rtaudiod-sim with server VAD (which starts a turn on a single 10 ms frame at -35 dBFS).
Without a canceller the model interrupts its own replies (its voice starts a turn: speech_started, a barge-in); with
the default (`auto`, here the internal canceller) it must not, over 10 replies, on a quiet machine and under load.

Behind RTAUDIOD_SLOW=1 (10 replies each way, ~2.5 minutes a backend; RTAUDIOD_ECHO_REPLIES=N for fewer,
RTAUDIOD_ECHO_ENGINE=webrtc+speex for the other `audio.echo_engine`), on
PortAudio and on the native pulse backend. Measured (docs/echo.md, "End to end"): with the reference aligned by
sample counts 0 of 6 replies were cut on a quiet machine but 6 of 10 over longer runs and under load; aligned by the
devices' timestamps, with the residual echo gate and the holds, 1 of 10 in most runs, 2-3 in some (without a
canceller 9-10 of 10). Traced since: the bulk delay hopping by a pitch period, and webrtc leaving blocks with 0-10
dB removed at -29 to -35 dBFS, both fixed (the estimator's lock, the echo-explained gate): 0 of 10 in every run
since, at load averages 1-10.
The other two tests hold their figures: a person talking over a reply stops it (>= 9 of 10 within 500 ms), the wake
word said over a reply is heard (>= 8 of 10) and the device's own voice never wakes the detector."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import rtaudiod

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "session"))

from sessionhelpers import FAST, KEY, config_for, speech, wait_until  # noqa: E402

from rtaudiod.audio import AudioConfig, AudioEngine  # noqa: E402
from rtaudiod.session import Session  # noqa: E402
from rtaudiod.sim import Simulator  # noqa: E402

SLOW = os.environ.get("RTAUDIOD_SLOW", "") not in ("", "0")
REPLIES = int(os.environ.get("RTAUDIOD_ECHO_REPLIES", "10"))
ENGINE = os.environ.get("RTAUDIOD_ECHO_ENGINE", "webrtc")  # audio.echo_engine: webrtc+speex runs the same bench
TEXT = "Please tell me about the weather in the mountains this weekend and whether I need a coat."


def loopback(server, delay_ms: int = 120, gain_db: int = -10) -> str:
    """The echo path; returns its module's index (unload it after)."""
    module = server.pactl("load-module", "module-loopback", f"source={server.speaker}.monitor",
                          f"sink={server.mic}", f"latency_msec={delay_ms}").strip()
    for block in server.pactl("list", "sink-inputs").split("Sink Input #")[1:]:
        if f"Owner Module: {module}\n" in block:
            server.pactl("set-sink-input-volume", block.split("\n", 1)[0].strip(), f"{gain_db}dB")
    return module


@contextlib.contextmanager
def loudspeaker(server, echo_cancel: str = "auto", on_event=None, backend: str = "pyaudio"):
    """The echo path, rtaudiod-sim, an engine on the sound server's devices (PortAudio's `pulse` device, or the
    native pulse backend's default sink and source) and a session with server VAD."""
    module = loopback(server)
    sim = Simulator(dialect="ga", api_key=KEY, **{**FAST, "pace": 1.0}).start()
    engine = session = None
    try:
        engine = AudioEngine(AudioConfig(backend=backend, input_device="pulse", output_device="pulse",
                                         input_rate=48000, input_channels=2, output_rate=48000, output_channels=2,
                                         echo_cancel=echo_cancel, echo_engine=ENGINE)).start()
        session = Session(config_for(sim, turn_detection={"type": "server_vad", "silence_duration_ms": 500}),
                          engine, on_event=on_event)
        session.start()
        assert session.wait_ready(10), session.error
        yield engine, session
    finally:
        if session is not None:
            session.stop()
        if engine is not None:
            engine.close()
        sim.stop()
        server.pactl("unload-module", module)


def replies_interrupted(server, echo_cancel: str, backend: str = "pyaudio") -> tuple[list[bool], dict]:
    """Ask for REPLIES replies, one after the other; (which were cut by a barge-in, the engine's echo status)."""
    with loudspeaker(server, echo_cancel, backend=backend) as (engine, session):
        cut = []
        for _ in range(REPLIES):
            before = session.stats.barge_ins
            session.send_text(TEXT)
            wait_until(lambda: engine.is_playing, 15, "the reply to start playing")
            wait_until(lambda: not engine.is_playing and session.status()["conversation"]["response_id"] is None,
                       30, "the reply to end")
            time.sleep(1.0)  # the room falls silent (and a late speech_started still counts)
            cut.append(session.stats.barge_ins > before)
        return cut, engine.status()["echo"]


@pytest.mark.skipif(not SLOW, reason="real time on a sound server, 10 replies each way: RTAUDIOD_SLOW=1")
@pytest.mark.skipif(rtaudiod.backend() != "c", reason="the echo canceller is C only")
@pytest.mark.parametrize("backend", ["pyaudio", "pulse"])
def test_the_model_never_interrupts_itself_with_the_canceller_and_does_without(pulse_server, backend):
    cut_on, echo = replies_interrupted(pulse_server, "auto", backend)
    print(f"{backend}, echo_cancel auto: replies cut by their own echo {cut_on}; {echo}")
    cut_off, _ = replies_interrupted(pulse_server, "off", backend)
    print(f"{backend}, echo_cancel off: replies cut by their own echo {cut_off}")
    assert any(cut_off), "the echo path is too weak to show anything: the replies were not cut without a canceller"
    assert not any(cut_on), echo
    assert echo["canceller"] == "internal" and echo["delay_locked"], echo


PERSON = "Stop, stop. I only wanted to know if I need a jacket tonight."
TRIES = int(os.environ.get("RTAUDIOD_ECHO_TRIES", "10"))


def onset_s(pcm: np.ndarray, level: int = 500) -> float:
    """Where the first word starts in a 48 kHz clip (espeak-ng leads with a little silence)."""
    return float(np.flatnonzero(np.abs(pcm) > level)[0]) / 48000


@pytest.mark.skipif(not SLOW, reason="real time on a sound server, 10 tries: RTAUDIOD_SLOW=1")
@pytest.mark.skipif(rtaudiod.backend() != "c", reason="the echo canceller is C only")
def test_a_person_talking_over_a_reply_stops_it_within_500_ms(pulse_server):
    """Double talk end to end: a reply plays (its echo in the microphone), and 1.5 s in a person talks over it (an
    espeak-ng voice played into the microphone's sink, mixed with the echo by the sound server). The canceller must
    let them through: server VAD starts a turn and the reply stops (a barge-in), in >= 9 of 10 tries, within 500 ms
    of their first word. The latency is measured from the player's start plus the clip's leading silence, so it
    includes the player's own start-up (an upper bound)."""
    words = np.frombuffer(speech(PERSON, 48000), np.int16)
    stereo = np.repeat(words[:, None], 2, axis=1)
    first_word = onset_s(words)
    latencies: list[float | None] = []
    self_cut = 0
    interrupted: list[float] = []  # when each barge-in happened (the session's event, on its thread)

    def on_event(topic: str, data: dict) -> None:
        if topic == "response" and data.get("event") == "interrupted":
            interrupted.append(time.monotonic())

    with loudspeaker(pulse_server, on_event=on_event) as (engine, session):

        def quiet() -> None:
            wait_until(lambda: not engine.is_playing and session.status()["conversation"]["response_id"] is None,
                       40, "the replies to end")
            time.sleep(1.0)

        session.send_text(TEXT)  # a first reply: the canceller converges on it (the uplink is held meanwhile)
        wait_until(lambda: engine.is_playing, 15, "the first reply to start playing")
        quiet()
        for _ in range(TRIES):
            before = session.stats.barge_ins
            session.send_text(TEXT)
            wait_until(lambda: engine.is_playing, 15, "the reply to start playing")
            time.sleep(1.5)
            if session.stats.barge_ins > before:  # cut by its own echo first: a failed try
                self_cut += 1
                latencies.append(None)
                quiet()
                continue
            cuts = len(interrupted)
            started = time.monotonic()
            player = pulse_server.play(pulse_server.mic, stereo)  # returns once pacat has taken most of the clip
            assert player.wait(30) == 0
            latencies.append(interrupted[cuts] - started - first_word if len(interrupted) > cuts else None)
            quiet()  # the reply to what they said plays out
        echo = engine.status()["echo"]
    shown = [None if x is None else round(x * 1000) for x in latencies]
    print(f"barge-in latency ms over {TRIES} tries: {shown} ({self_cut} cut by their own echo first); {echo}")
    assert echo["canceller"] == "internal" and echo["converged"], echo
    in_time = [x for x in latencies if x is not None and x <= 0.5]
    assert len(in_time) >= TRIES * 9 // 10, shown


@pytest.mark.skipif(not SLOW, reason="real time on a sound server, 10 tries: RTAUDIOD_SLOW=1")
@pytest.mark.skipif(rtaudiod.backend() != "c", reason="the echo canceller is C only")
def test_the_wake_word_said_over_a_reply_is_heard(pulse_server):
    """wake_word mode on the loudspeaker: the detector reads the cancelled microphone, so "okay nabu" said over a
    reply (its echo in the microphone) is heard, in >= 8 of 10 tries, and the device's own voice never wakes it."""
    pytest.importorskip("pymicro_wakeword")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "listen"))
    from listenhelpers import make_stack

    from rtaudiod.listen import ListenConfig

    module = loopback(pulse_server)
    stack = None
    heard = []
    try:
        stack = make_stack(pulse_server, ListenConfig(mode="wake_word", follow_up_s=1.0, chime=False),
                           echo_cancel="auto", echo_engine=ENGINE)
        ask = "Okay nabu, tell me a long story about the sea, the ships, the sailors and the lighthouse keeper."
        for i in range(TRIES + 1):  # the first reply: the canceller converges on it
            stack.say(ask)
            wait_until(lambda: stack.session.state.value == "speaking", 20, "the reply to play")
            if i == 0:
                wait_until(lambda: not stack.engine.is_playing, 60, "the first reply to end")
                time.sleep(2.0)
                continue
            time.sleep(1.5)
            wakes = stack.listener.wakes
            stack.say("Okay nabu", wait=False)
            deadline = time.monotonic() + 6
            while stack.listener.wakes == wakes and time.monotonic() < deadline:
                time.sleep(0.02)
            heard.append(stack.listener.wakes > wakes)
            wait_until(lambda: not stack.engine.is_playing, 60, "the speaker to go quiet")
            time.sleep(2.0)  # the follow-up window closes
        echo = stack.engine.status()["echo"]
        wakes = stack.listener.wakes
    finally:
        if stack is not None:
            stack.close()
        pulse_server.pactl("unload-module", module)
    print(f"wake word over a reply heard: {heard}; wakes {wakes}; {echo}")
    assert echo["canceller"] == "internal", echo
    assert sum(heard) >= TRIES * 8 // 10, heard
    assert wakes <= 1 + 2 * TRIES, "the device's own voice woke the detector"
