"""The listening-mode tests' stack: rtaudiod-sim, a session on real PulseAudio devices (the "microphone" is the
null sink `rtmic`, into which the test plays espeak-ng speech; the speaker is `rtspk`), and a Listener."""

from __future__ import annotations

import base64
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "session"))

from sessionhelpers import FAST, KEY, Recorder, config_for, speech, wait_until  # noqa: E402

from rtaudiod.audio import AudioConfig, AudioEngine  # noqa: E402
from rtaudiod.listen import ListenConfig, Listener  # noqa: E402
from rtaudiod.session import Session  # noqa: E402
from rtaudiod.sim import Simulator  # noqa: E402

__all__ = ["FAST", "KEY", "Stack", "make_stack", "speech", "wait_until"]


@dataclass
class Stack:
    sim: Simulator
    engine: AudioEngine
    session: Session
    listener: Listener
    events: Recorder
    pulse: Any
    players: list[Any] = field(default_factory=list)

    def say(self, text: str, wait: bool = True, pause_s: float = 0.0, then: str = "") -> bytes:
        """Play espeak-ng's `text` into the microphone sink (and, `pause_s` later in the same stream, `then`);
        returns `text` as 24 kHz mono (the session's audio)."""
        words48 = np.frombuffer(speech(text, 48000), np.int16)
        if then:
            words48 = np.concatenate([words48, np.zeros(int(48000 * pause_s), np.int16),
                                      np.frombuffer(speech(then, 48000), np.int16)])
        player = self.pulse.play(self.pulse.mic, np.repeat(words48[:, None], 2, axis=1))
        self.players.append(player)
        if wait:
            assert player.wait(30) == 0
        return speech(text, 24000)

    def received(self) -> bytes:
        """Every byte of audio the simulator received (its input_audio_buffer.append events)."""
        out = bytearray()
        for s in self.sim.sessions:
            for event in s.received_events:
                if event.get("type") == "input_audio_buffer.append":
                    out += base64.b64decode(event["audio"])
        return bytes(out)

    def listen_states(self) -> list[tuple[str, str]]:
        return [(e["state"], e["reason"]) for e in self.events.of("listen")]

    def close(self) -> None:
        for player in self.players:
            player.wait(30)
        self.listener.stop()
        self.session.stop()
        self.engine.close()
        self.sim.stop()


def make_stack(pulse: Any, listen: ListenConfig, turn_detection: dict[str, Any] | None = None,
               echo_cancel: str = "off", echo_engine: str = "webrtc", **sim_options: Any) -> Stack:
    options = {**FAST, "pace": 1.0, **sim_options}
    sim = Simulator(dialect="ga", api_key=KEY, **options).start()
    # No echo canceller by default: this microphone never hears the speaker (no loopback), so the canceller cannot
    # converge, and until it gives up (1 s of speaker time) the uplink is held while the speaker plays: the chime after
    # the wake word would cut the question's start (tests/echo covers the canceller, with a loopback, echo_cancel=auto).
    engine = AudioEngine(AudioConfig(backend="pyaudio", input_device="pulse", output_device="pulse",
                                     input_rate=48000, input_channels=2, output_rate=48000,
                                     output_channels=2, echo_cancel=echo_cancel,
                                     echo_engine=echo_engine)).start()
    events = Recorder()
    td = turn_detection or {"type": "server_vad", "silence_duration_ms": 500}
    session = Session(config_for(sim, turn_detection=td), engine, on_event=events)
    listener = Listener(session, listen).start()
    session.start()
    assert session.wait_ready(10), session.error
    time.sleep(0.3)  # the first frames after connecting are skipped: start from a steady microphone
    return Stack(sim, engine, session, listener, events, pulse)
