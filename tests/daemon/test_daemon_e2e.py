"""The daemon as systemd runs it: a subprocess under a test NOTIFY_SOCKET, on rtaudiod-sim (in this process, so the
test sees what reached the "service"), the headless audio backend, its control socket under tmp_path."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import rtaudiod

from pulse_server import pulse_server  # noqa: F401 - the session fixture
from rtaudiod.control import Client
from rtaudiod.errors import ControlError
from rtaudiod.sim import Simulator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "session"))  # speech() and xcorr()

KEY = "sk-daemon-e2e-0123456789"
FAST = {"pace": 0, "response_latency": 0, "first_audio_latency": 0, "transcription_latency": 0}


class Notify:
    """The service manager's end of NOTIFY_SOCKET: every datagram the daemon sends, in order."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages: list[str] = []

    def wait(self, line: str, timeout: float) -> float:
        """Seconds until a datagram holding `line` arrived."""
        start = time.monotonic()
        while True:
            if any(line in m.splitlines() for m in self.messages):
                return time.monotonic() - start
            left = timeout - (time.monotonic() - start)
            if left <= 0:
                raise AssertionError(f"no {line!r} from the daemon in {timeout} s; got {self.messages}")
            self.sock.settimeout(left)
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                pass

    def close(self) -> None:
        self.sock.close()


def write_config(path: Path, sim: Simulator, voice: str = "alloy", extra: str = "") -> None:
    path.write_text(f"""
[session]
base_url = "{sim.url}"
model = "gpt-realtime"
voice = "{voice}"
instructions = "Be brief."
{extra}
[audio]
backend = "null"
[control]
socket = "{path.parent / 'control.sock'}"
""")


@pytest.fixture
def daemon(tmp_path):
    """`daemon(config_text_writer) -> (proc, notify)`; every daemon started is stopped at the end."""
    started: list[tuple[subprocess.Popen, Notify]] = []

    def start(config: Path, env_extra: dict[str, str] | None = None):
        notify = Notify(tmp_path / f"notify{len(started)}")
        env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "CREDENTIALS_DIRECTORY")}
        env.update({"NOTIFY_SOCKET": notify.path, "OPENAI_API_KEY": KEY, "JOURNAL_STREAM": "8:1"},
                   **(env_extra or {}))
        proc = subprocess.Popen([sys.executable, "-m", "rtaudiod", "--config", str(config)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started.append((proc, notify))
        return proc, notify

    yield start
    for proc, notify in started:
        if proc.poll() is None:
            proc.kill()
        _, err = proc.communicate(timeout=10)
        notify.close()
        print(f"--- daemon {proc.pid} stderr (exit {proc.returncode}) ---\n{err}")  # shown when the test fails


@pytest.fixture
def sim():
    with Simulator(dialect="ga", api_key=KEY, **FAST) as s:
        yield s


def test_ready_serves_reloads_and_stops_cleanly(tmp_path, daemon, sim):
    config = tmp_path / "rtaudiod.toml"
    write_config(config, sim)
    proc, notify = daemon(config)
    seconds = notify.wait("READY=1", 15)
    print(f"start-up to READY=1: {seconds:.2f} s (connect included)")
    ready = next(m for m in notify.messages if "READY=1" in m)
    assert "STATUS=ready" in ready and "control.sock" in ready
    sock = tmp_path / "control.sock"
    assert (sock.stat().st_mode & 0o777) == 0o660
    with Client(str(sock)) as client:
        client.subscribe("transcript.assistant")
        client.send_text("Hello daemon")
        said = client.wait_for("transcript.assistant", lambda e: e.data.get("final"), timeout=15)
        assert said.data["text"] == "Simulator heard: Hello daemon."
        status = client.status()
        assert KEY not in str(status)
    # SIGHUP with a changed voice reaches the service as a session.update (and nothing else changes)
    write_config(config, sim, voice="cedar")
    proc.send_signal(signal.SIGHUP)
    s = sim.sessions[0]
    deadline = time.monotonic() + 10
    while not [e for e in s.received_events if e["type"] == "session.update"
               and e["session"].get("audio", {}).get("output", {}).get("voice") == "cedar"]:
        assert time.monotonic() < deadline, "the reloaded voice never reached the service"
        time.sleep(0.05)
    # SIGTERM: exit 0 within 5 s, the socket file gone, the session closed politely
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(5) == 0
    assert not sock.exists()
    notify.wait("STOPPING=1", 1)
    _, err = proc.communicate()
    assert KEY not in err and KEY[3:12] not in err
    assert "<6>rtaudiod.daemon: ready" in err  # journald priorities under JOURNAL_STREAM


def test_a_broken_config_exits_78_with_one_line_naming_the_key(tmp_path, daemon, sim):
    config = tmp_path / "rtaudiod.toml"
    write_config(config, sim, extra="reconnect_attempts = \"many\"")
    proc, notify = daemon(config)
    assert proc.wait(15) == 78
    _, err = proc.communicate()
    assert err.strip().count("\n") == 0, err
    assert "session.reconnect_attempts" in err and "'many'" in err
    assert not notify.messages


def test_a_refused_key_exits_78_without_restarting_for_ever(tmp_path, daemon, sim):
    config = tmp_path / "rtaudiod.toml"
    write_config(config, sim)
    proc, notify = daemon(config, {"OPENAI_API_KEY": "sk-not-the-right-one-000"})
    assert proc.wait(15) == 78
    _, err = proc.communicate()
    assert "check api_key" in err and "sk-not-the" not in err
    assert len(sim.sessions) + len(sim.rejected) == 1


def test_without_a_key_it_talks_to_the_local_simulator(tmp_path, daemon):
    config = tmp_path / "rtaudiod.toml"
    config.write_text(f'[audio]\nbackend = "null"\n[control]\nsocket = "{tmp_path / "control.sock"}"\n')
    proc, notify = daemon(config, {"OPENAI_API_KEY": ""})
    notify.wait("READY=1", 15)
    assert "simulator" in next(m for m in notify.messages if "READY=1" in m)
    with Client(str(tmp_path / "control.sock")) as client:
        client.subscribe("transcript.assistant")
        client.send_text("Are you there")
        said = client.wait_for("transcript.assistant", lambda e: e.data.get("final"), timeout=20)
        assert said.data["text"] == "Simulator heard: Are you there."
    proc.send_signal(signal.SIGINT)
    assert proc.wait(5) == 0
    _, err = proc.communicate()
    assert "rtaudiod-sim" in err and "the local simulator" in err


def test_on_a_sound_server_the_reply_plays_and_the_microphone_reaches_the_service(tmp_path, daemon, pulse_server):
    """The daemon on real devices, its default audio.backend = "auto": a PulseAudio with null sinks (speaker `rtspk`,
    recorded from its monitor; microphone `rtmic`, into which the test plays real speech), natively where the C
    callbacks run, through PortAudio in the twins build."""
    import numpy as np

    from sessionhelpers import speech, xcorr

    with Simulator(dialect="ga", api_key=KEY, **FAST) as sim:
        config = tmp_path / "rtaudiod.toml"
        config.write_text(f'[session]\nbase_url = "{sim.url}"\n[session.turn_detection]\ntype = "none"\n'
                          f'[control]\nsocket = "{tmp_path / "control.sock"}"\n')
        proc, notify = daemon(config)
        notify.wait("READY=1", 20)
        with Client(str(tmp_path / "control.sock")) as client:
            backend = "pulse" if rtaudiod.backend() == "c" else "pyaudio"
            assert client.status()["audio"]["backend"] == backend
            # the reply is heard at the speaker
            recording = pulse_server.record(pulse_server.speaker + ".monitor")
            client.subscribe("transcript.assistant", "state")
            client.send_text("Hello speaker")
            said = client.wait_for("transcript.assistant", lambda e: e.data.get("final"), timeout=15)
            client.wait_for("state", lambda e: e.data["state"] == "ready", timeout=15)
            heard = recording.stop().samples.astype(np.float64)
            loud = np.flatnonzero(np.abs(heard).max(axis=1) > 300)
            assert len(loud), "nothing was heard at the speaker"
            heard_ms = (loud[-1] - loud[0]) / 48
            sent_ms = sim.sessions[0].audio_sent_ms[said.data["item_id"]]
            assert 0.8 * sent_ms < heard_ms <= sent_ms, (heard_ms, sent_ms)  # the reply, from its first to last sound
            # push-to-talk: real speech played into the microphone reaches the service
            words = speech("Turn on the kitchen lights.", 48000)
            stereo = np.repeat(np.frombuffer(words, np.int16)[:, None], 2, axis=1)
            client.turn_start()
            assert pulse_server.play(pulse_server.mic, stereo).wait(15) == 0
            time.sleep(0.3)
            assert client.turn_end() is True
            committed = None
            deadline = time.monotonic() + 5
            while committed is None and time.monotonic() < deadline:
                committed = next(iter(sim.sessions[0].committed_audio.values()), None)
                time.sleep(0.05)
            # the default, echo_cancel = "auto": the daemon plays and records itself, so its own canceller runs (this
            # microphone never hears the speaker: it does not converge); with the speaker silent it leaves the voice
            # untouched (docs/echo.md, "Nothing to cancel"); the pure-Python build has none and says why
            _, corr = xcorr(speech("Turn on the kitchen lights.", 24000), committed)
            assert corr > 0.9, corr
            echo = client.status()["audio"]["echo"]
            if rtaudiod.backend() == "c":
                assert echo["canceller"] == "internal" and echo["engine"] == "webrtc" and echo["converged"] is False
            else:
                assert echo["canceller"] == "off" and "pure-Python" in echo["reason"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
        _, err = proc.communicate()
        said = "internal (the internal canceller (webrtc): the daemon plays" if rtaudiod.backend() == "c" else \
            "off (no echo canceller: this build runs the pure-Python twins"
        assert f"rtaudiod.daemon: echo canceller: {said}" in err
        why = "the sound server natively: it answers" if backend == "pulse" else "PortAudio: this build runs the pure"
        assert f"rtaudiod.daemon: audio backend: {backend} ({why}" in err


def test_listening_modes_from_the_config_and_the_control_socket(tmp_path, daemon, sim):
    """`[listen] mode = "wake_word"`: the null backend's microphone (silence) stays on the device; `rtaudiod-cli mode
    always` opens it at once, a `listen` subscriber is told, and `status` books the audio to each mode."""
    import base64

    def received() -> int:
        return sum(len(base64.b64decode(e["audio"])) for s in sim.sessions for e in s.received_events
                   if e.get("type") == "input_audio_buffer.append")

    config = tmp_path / "rtaudiod.toml"
    write_config(config, sim, extra='[listen]\nmode = "wake_word"\npreroll_ms = 500\n')
    proc, notify = daemon(config)
    notify.wait("READY=1", 20)
    sock = str(tmp_path / "control.sock")
    with Client(sock) as client:
        listen = client.status()["listen"]
        assert (listen["mode"], listen["state"], listen["preroll_ms"]) == ("wake_word", "gated", 500)
        assert listen["detector"]["word"] == "Okay Nabu"
        time.sleep(1.0)
        assert received() == 0  # a second of microphone audio, none of it sent
        assert client.subscribe("listen")["listen"]["mode"] == "wake_word"
        cli = subprocess.run([sys.executable, "-m", "rtaudiod.cli", "--socket", sock, "mode", "always"],
                             capture_output=True, text=True, timeout=20)
        assert cli.returncode == 0 and cli.stdout.strip() == "listening mode: always (streaming)", cli
        event = client.wait_for("listen", lambda e: e.data["mode"] == "always", timeout=5)
        assert (event.data["state"], event.data["open"], event.data["reason"]) == ("streaming", True, "requested")
        deadline = time.monotonic() + 5
        while received() < 48000 and time.monotonic() < deadline:  # a second of 24 kHz PCM16
            time.sleep(0.05)
        assert received() >= 48000
        mic = client.status()["listen"]["microphone"]
        assert mic["always"]["sent_s"] > 0.5 and mic["wake_word"]["withheld_s"] > 0.5 and \
            mic["wake_word"]["sent_s"] == 0
        with pytest.raises(ControlError, match="mode") as refused:
            client.request("listen.mode", mode="sometimes")
        assert refused.value.code == "bad_args"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(5) == 0


def test_a_reload_changes_the_ga_session_fields_live(tmp_path, daemon, sim):
    """SIGHUP with new GA model fields: they reach the running session as a session.update (no reconnect)."""
    config = tmp_path / "rtaudiod.toml"
    write_config(config, sim, extra='speed = 1.0\nreasoning_effort = "low"')
    proc, notify = daemon(config)
    notify.wait("READY=1", 15)
    write_config(config, sim, extra='speed = 1.25\nreasoning_effort = "high"\ntruncation = { retention_ratio = 0.6 }\n'
                 'prompt = { id = "pmpt_789", variables = { room = "kitchen" } }')
    proc.send_signal(signal.SIGHUP)
    s = sim.sessions[0]

    def reloaded():
        return next((e["session"] for e in s.received_events if e["type"] == "session.update"
                     and e["session"].get("reasoning") == {"effort": "high"}), None)

    deadline = time.monotonic() + 10
    while (update := reloaded()) is None:
        assert time.monotonic() < deadline, "the reloaded fields never reached the service"
        time.sleep(0.05)
    assert update["audio"]["output"]["speed"] == 1.25
    assert update["truncation"] == {"type": "retention_ratio", "retention_ratio": 0.6}
    assert update["prompt"] == {"id": "pmpt_789", "variables": {"room": "kitchen"}}
    assert len(sim.sessions) == 1 and not [e for e in s.sent_events if e["type"] == "error"]
