"""Audio devices that go away mid-session and come back: the PulseAudio null sinks the daemon plays to and captures
from are unloaded (a USB speaker and microphone pulled out) and loaded again. The daemon says so in its status and
events, keeps the session, reopens the devices when they return, no thread dies, and it does not spin meanwhile.

A private PulseAudio server (not the shared session one: these tests unload its sinks)."""

from __future__ import annotations

import time

import numpy as np
import pytest

import rtaudiod
from pulse_server import running_pulse_server
from reliahelpers import KEY, cpu_seconds, daemon_config, wait_until
from rtaudiod.audio import AudioConfig, AudioEngine
from rtaudiod.sim import Simulator

FAST = {"pace": 0, "response_latency": 0, "first_audio_latency": 0, "transcription_latency": 0}


@pytest.fixture(scope="module")
def pulse():
    with running_pulse_server() as server:
        yield server


@pytest.mark.parametrize("backend", ["pyaudio", "pulse"])
def test_the_engine_reopens_both_devices_when_they_come_back(pulse, backend):
    """PortAudio's streams, and the native pulse backend's (whose streams the server kills with the sink)."""
    if backend == "pulse" and rtaudiod.backend() != "c":
        pytest.skip("the pulse backend runs the C callbacks only")
    told: list[tuple[str, bool]] = []
    engine = AudioEngine(AudioConfig(backend=backend)).start()
    try:
        engine.on_device = lambda kind, lost, message: told.append((kind, lost))
        wait_until(lambda: engine.capture is not None and engine.capture.frames_in > 5, 10, "the microphone to run")
        pulse.unplug(pulse.speaker)
        pulse.unplug(pulse.mic)
        wait_until(lambda: set(engine.lost_devices) == {"input", "output"}, 10, "both devices reported lost")
        assert sorted(told) == [("input", True), ("output", True)]
        assert engine.status()["input"] is None and engine.status()["output"] is None
        assert engine.watch.alive
        time.sleep(2.5)  # at least one failed retry: the devices are still gone
        assert set(engine.lost_devices) == {"input", "output"} and engine.watch.alive
        pulse.plug(pulse.speaker)
        pulse.plug(pulse.mic)
        wait_until(lambda: not engine.lost_devices, 15, "both devices reopened")
        assert sorted(told) == [("input", False), ("input", True), ("output", False), ("output", True)]
        frames = engine.capture.frames_in
        wait_until(lambda: engine.capture.frames_in > frames + 5, 10, "the microphone to run again")
        # the speaker plays again: a tone written now is heard at the sink's monitor
        recording = pulse.record(pulse.speaker + ".monitor")
        t = np.arange(24000) / 24000
        engine.write((8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes())
        wait_until(lambda: engine.status()["playout"]["played_ms"] > 900, 10, "the tone to play")
        heard = recording.stop().samples
        assert np.abs(heard).max() > 4000, "nothing was heard after the speaker came back"
    finally:
        engine.close()
    assert not engine.watch.alive


def test_a_deliberate_stop_is_not_a_lost_device(pulse):
    engine = AudioEngine(AudioConfig()).start()
    try:
        engine.stop()
        time.sleep(1.5)  # three checks of the watch
        assert not engine.lost_devices and engine.input_stream is None and engine.output_stream is None
        engine.start()
        assert engine.input_stream.active and engine.output_stream.active
    finally:
        engine.close()


def test_the_daemon_keeps_its_session_while_the_devices_are_gone(tmp_path, start_daemon, pulse):
    with Simulator(dialect="ga", api_key=KEY, **FAST) as sim:
        daemon = start_daemon(daemon_config(tmp_path, sim.url, audio=""), env=pulse.env).ready()
        client = daemon.client()
        # audio.backend = "auto": the sound server natively where the C callbacks run, else PortAudio's pulse device
        assert client.status()["audio"]["backend"] == ("pulse" if rtaudiod.backend() == "c" else "pyaudio")
        client.subscribe("error", "state")
        pulse.unplug(pulse.speaker)
        pulse.unplug(pulse.mic)
        lost = {client.wait_for("error", timeout=10).data["code"] for _ in range(2)}
        assert lost == {"audio_output_lost", "audio_input_lost"}
        status = client.status()
        assert set(status["audio"]["lost_devices"]) == {"input", "output"}
        assert status["connected"] and status["state"] == "ready"
        # No busy loop while they are gone: the daemon's whole CPU over 4 s (its session and keepalive included).
        before, start = cpu_seconds(daemon.pid), time.monotonic()
        time.sleep(4)
        cpu = (cpu_seconds(daemon.pid) - before) / (time.monotonic() - start)
        assert cpu < 0.25, f"the daemon used {cpu:.0%} of a core while its devices were gone"
        # the session still answers (the reply has nowhere to play: it is dropped, not queued for later)
        client.subscribe("transcript.assistant")
        client.send_text("Anyone there")
        assert client.wait_for("transcript.assistant", lambda e: e.data.get("final"), timeout=15)
        pulse.plug(pulse.speaker)
        pulse.plug(pulse.mic)
        back = {client.wait_for("error", lambda e: e.data["code"].endswith("_back"), timeout=15).data["code"]
                for _ in range(2)}
        assert back == {"audio_output_back", "audio_input_back"}
        status = client.status()
        assert not status["audio"]["lost_devices"] and status["audio"]["devices_reopened"] == 2
        assert status["audio"]["output"]["active"] and status["audio"]["input"]["active"]
        assert status["counters"]["reconnects"] == 0  # the session was kept
        # and the reply of a new turn is heard at the speaker
        recording = pulse.record(pulse.speaker + ".monitor")
        client.send_text("Hello again")
        client.wait_for("transcript.assistant", lambda e: e.data.get("final"), timeout=15)
        wait_until(lambda: not client.status()["audio"]["playout"]["playing"], 15, "the reply to play out")
        heard = recording.stop().samples
        assert np.abs(heard).max() > 300, "the reply was not heard after the speaker came back"
        daemon.assert_healthy()
        print(f"\ndevices gone: the daemon used {cpu:.1%} of a core")
