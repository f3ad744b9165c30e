"""rtaudiod-cli against a running daemon in miniature (`stack`: rtaudiod-sim, a session, the control server on a
Unix socket under tmp_path). A few cases run the CLI as a real process (`python -m rtaudiod.cli`), the rest call
`main(argv)` with captured output; every subcommand's happy path and its errors."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from controlhelpers import REAL_TIME, Stack, make_stack, wait_until
from rtaudiod import cli

SPOKEN = "Turn on the kitchen lights."
WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


# ===================================================================================================== helpers
def run(capsys: pytest.CaptureFixture[str], stack: Stack, *argv: str) -> tuple[int, str, str]:
    """`main(["--socket", stack.path, *argv])` in this process: (exit code, stdout, stderr)."""
    code = cli.main(["--socket", stack.path, *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def spawn(path: str, *argv: str, **kwargs: Any) -> subprocess.Popen[str]:
    """The CLI as a real process."""
    return subprocess.Popen([sys.executable, "-m", "rtaudiod.cli", "--socket", path, *argv], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def finish(proc: subprocess.Popen[str], timeout: float = 20) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def interrupt(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    """Ctrl-C, as a terminal sends it."""
    proc.send_signal(signal.SIGINT)
    return finish(proc, 10)


def espeak_wav(path: Path, text: str, rate: int, channels: int) -> Path:
    """Real speech (espeak-ng) as a 16-bit WAV at `rate` with `channels` (sox), TESTING.md's recipe."""
    speech = subprocess.run(["espeak-ng", "--stdout", text], check=True, capture_output=True, timeout=30).stdout
    subprocess.run(["sox", "-t", "wav", "-", "-r", str(rate), "-c", str(channels), "-b", "16", str(path)],
                   input=speech, check=True, capture_output=True, timeout=30)
    return path


def correlation(ref: bytes, got: bytes) -> float:
    """Peak normalised cross-correlation of `ref` inside `got` (both mono PCM16)."""
    a = np.frombuffer(ref, "<i2").astype(np.float64)
    b = np.frombuffer(got, "<i2").astype(np.float64)
    b = np.concatenate([b, np.zeros(max(0, len(a) - len(b)))])
    n = 1 << (len(a) + len(b)).bit_length()
    corr = np.fft.irfft(np.fft.rfft(b, n) * np.conj(np.fft.rfft(a, n)), n)[: len(b) - len(a) + 1]
    lag = int(np.argmax(corr))
    seg = b[lag: lag + len(a)]
    return float(corr[lag] / (np.linalg.norm(a) * np.linalg.norm(seg) + 1e-9))


def committed(stack: Stack) -> list[bytes]:
    return [audio for s in stack.sim.sessions for audio in s.committed_audio.values()]


@pytest.fixture
def speech_48k(tmp_path: Path) -> Path:
    """The spoken sentence as a 48 kHz stereo WAV, the commonest device format: the daemon resamples it."""
    return espeak_wav(tmp_path / "speech48.wav", SPOKEN, 48000, 2)


@pytest.fixture
def speech_24k(tmp_path: Path) -> bytes:
    """The same sentence as the session hears it (24 kHz mono), the reference for the correlation."""
    with wave.open(str(espeak_wav(tmp_path / "speech24.wav", SPOKEN, 24000, 1))) as w:
        return w.readframes(w.getnframes())


@pytest.fixture
def weather_schema(tmp_path: Path) -> Path:
    path = tmp_path / "weather.json"
    path.write_text(json.dumps(WEATHER_SCHEMA))
    return path


@pytest.fixture
def real_time_stack(tmp_path: Path) -> Iterator[Stack]:
    """The simulator at the service's pace and latencies: a reply lasts long enough to be cancelled."""
    with make_stack(tmp_path / "rt.sock", sim_kwargs=REAL_TIME) as s:
        yield s


# ================================================================================================ connecting
def test_no_socket_is_exit_3_saying_what_to_check(tmp_path: Path) -> None:
    code, out, err = finish(spawn(str(tmp_path / "missing.sock"), "status"))
    assert (code, out) == (cli.EXIT_CONNECT, "")
    assert "no such socket" in err and "is rtaudiod running" in err and "--socket" in err and "Traceback" not in err


def test_a_socket_nobody_listens_on_is_exit_3(tmp_path: Path) -> None:
    path = str(tmp_path / "stale.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)  # a socket file left behind: bound, never listening (a crashed daemon's)
    stale.close()
    code, out, err = finish(spawn(path, "status"))
    assert code == cli.EXIT_CONNECT and "connection refused" in err and "no daemon listens" in err


def test_the_socket_comes_from_the_environment(stack: Stack) -> None:
    env = dict(os.environ, RTAUDIOD_SOCKET=stack.path)
    proc = subprocess.run([sys.executable, "-m", "rtaudiod.cli", "status", "--json"], env=env, capture_output=True,
                          text=True, timeout=20)
    assert proc.returncode == 0 and json.loads(proc.stdout)["state"] in ("ready", "listening")


def test_a_daemon_that_goes_away_is_exit_3(stack: Stack) -> None:
    proc = spawn(stack.path, "events", "state")
    assert proc.stdout is not None and "snapshot" in proc.stdout.readline()
    stack.server.stop()
    code, out, err = finish(proc)
    assert code == cli.EXIT_CONNECT and "the daemon closed the connection" in err


# ======================================================================================================= status
def test_status_summary_verbose_and_json(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    """The summary is a screenful's corner, one line a topic; --verbose shows every field once; --json all of it."""
    assert run(capsys, stack, "say", "Hello there")[0] == 0
    code, out, err = run(capsys, stack, "status")
    session_id = stack.session.status()["session_id"]
    lines = out.splitlines()
    assert code == 0 and err == "" and len(lines) <= 16, out
    assert lines[0].startswith(f"rtaudiod: {stack.session.state.value}, connected for ") and session_id in lines[0]
    labels = [line.split(":")[0] for line in lines[1:-1] if not line.startswith(" ")]
    assert labels == ["link", "audio", "levels", "playout", "latency", "counters", "control", "problems"], out
    assert "ga dialect, gpt-realtime at ws://127.0.0.1:" in out and "(this machine)" in out
    assert "audio_deltas" in out and "bad_events" not in out  # counters: only those not zero
    assert "turn end to reply " in out and "(p50 / p99)" in out  # the reply was measured
    code, out, err = run(capsys, stack, "status", "--verbose")
    assert code == 0 and out.count("unknown_events:") == 1  # once, under counters (the daemon repeats it on top)
    assert "connections:" in out and '{"' not in out  # the connections as records, not raw JSON
    top = [line.split(":")[0] for line in out.splitlines()[1:] if line and not line.startswith(" ")]
    assert len(top) == len(set(top)) and {"settings", "counters", "audio", "control"} <= set(top)
    code, out, err = run(capsys, stack, "status", "--json")
    status = json.loads(out)
    assert code == 0 and len(out.splitlines()) == 1
    assert status["session_id"] == session_id and status["audio"]["session_rate"] == 24000
    assert "unknown_events" in status and "unknown_events" in status["counters"]  # --json keeps everything
    assert "sk-" not in out  # never the key


# ========================================================================================================== say
def test_say_prints_the_reply_as_a_real_process(stack: Stack) -> None:
    code, out, err = finish(spawn(stack.path, "say", SPOKEN))
    assert (code, out, err) == (0, "Simulator heard: Turn on the kitchen lights.\n", "")


def test_say_json_no_wait_and_no_respond(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, stack, "say", "--json", "Hello there")
    reply = json.loads(out)
    assert code == 0 and reply["transcript"] == "Simulator heard: Hello there." and reply["status"] == "completed"
    assert len(reply["response_ids"]) == 1 and reply["calls"] == []

    code, out, _ = run(capsys, stack, "say", "--no-wait", "Second")
    assert (code, out) == (0, "")
    stack.recorder.wait("transcript.assistant", lambda d: d.get("text") == "Simulator heard: Second.")
    wait_until(lambda: len([d for d in stack.recorder.of("response") if d["event"] == "done"]) == 2, 5,
               "the second reply to end")

    responses = len(stack.recorder.of("response"))
    code, out, _ = run(capsys, stack, "say", "--no-respond", "Just so you know")
    assert (code, out) == (0, "")
    wait_until(lambda: any(e["type"] == "conversation.item.create" and "Just so you know" in json.dumps(e)
                           for e in stack.sim.sessions[-1].received_events), 5, "the text item")
    code, _, _ = run(capsys, stack, "status")  # a round trip: no response was asked for meanwhile
    assert len(stack.recorder.of("response")) == responses


def test_say_nothing_is_a_usage_error(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    """An empty text is the caller's mistake (exit 2), found before asking the daemon, which sends nothing."""
    sent = stack.session.status()["counters"]["events_sent"]
    for text in ("", "  "):
        code, out, err = run(capsys, stack, "say", text)
        assert (code, out, err) == (cli.EXIT_USAGE, "", "rtaudiod-cli: say: TEXT is empty: there is nothing to say\n")
    assert stack.session.status()["counters"]["events_sent"] == sent


def test_what_the_daemon_refuses_is_exit_1(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, stack, "mode", "wake_word")  # this daemon in miniature has no listener
    assert (code, out) == (cli.EXIT_ERROR, "") and err.startswith("rtaudiod-cli: error from the daemon ("), err


# ============================================================================================ turns and audio
def test_push_to_talk_turn_with_send_audio(ptt_stack: Stack, speech_48k: Path, speech_24k: bytes,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    stack = ptt_stack
    code, out, _ = run(capsys, stack, "turn", "end")
    assert code == cli.EXIT_ERROR  # no turn open
    code, out, _ = run(capsys, stack, "turn", "start")
    assert (code, out) == (0, "turn started: speak, then `turn end`\n")
    code, out, _ = run(capsys, stack, "send-audio", str(speech_48k))
    assert code == 0 and out.startswith("sent ") and "(48000 Hz, 2 channel(s))" in out
    code, out, _ = run(capsys, stack, "turn", "end", "--json", "--no-respond")
    assert (code, json.loads(out)) == (0, {"turn": "ended", "committed": True})
    audio = wait_until(lambda: committed(stack), 5, "the committed turn")[-1]
    assert correlation(speech_24k, audio) > 0.9  # 48 kHz stereo in, resampled by the daemon, heard by the model


def test_send_audio_in_one_turn_as_a_real_process(ptt_stack: Stack, speech_48k: Path, speech_24k: bytes) -> None:
    code, out, err = finish(spawn(ptt_stack.path, "send-audio", "--turn", "--json", str(speech_48k)))
    result = json.loads(out)
    assert code == 0 and result["committed"] is True and result["frames_dropped"] == 0
    assert (result["rate"], result["channels"]) == (48000, 2)
    assert abs(result["frames_injected"] - round(result["seconds"] * 24000)) <= 24  # all of it, at 24 kHz
    audio = wait_until(lambda: committed(ptt_stack), 5, "the committed turn")[-1]
    assert correlation(speech_24k, audio) > 0.9
    reply = ptt_stack.recorder.wait("transcript.assistant", lambda d: d.get("final"))
    assert reply["text"] == f"Simulator heard {len(audio) / 48000:.1f} seconds of audio."  # all of it


def test_turn_cancel(ptt_stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, ptt_stack, "turn", "cancel")[0] == cli.EXIT_ERROR
    assert run(capsys, ptt_stack, "turn", "start")[0] == 0
    assert run(capsys, ptt_stack, "turn", "cancel") == (0, "turn cancelled\n", "")
    assert not ptt_stack.session.status()["conversation"]["turn_open"]


def test_send_audio_refuses_a_file_that_is_not_a_wav(stack: Stack, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    code, out, err = run(capsys, stack, "send-audio", str(tmp_path / "notes.txt"))
    assert code == cli.EXIT_USAGE and "is not a WAV file" in err


# ======================================================================================== cancel, mute, stop
def test_cancel_a_reply_in_progress(real_time_stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    stack = real_time_stack
    assert run(capsys, stack, "cancel") == (0, "nothing to cancel\n", "")
    assert run(capsys, stack, "say", "--no-wait", "Tell me a long story")[0] == 0
    stack.recorder.wait("response", lambda d: d.get("event") == "created")
    assert run(capsys, stack, "cancel", "--json") == (0, '{"cancelled": true}\n', "")
    done = stack.recorder.wait("response", lambda d: d.get("event") in ("done", "interrupted"))
    assert done.get("status") in (None, "cancelled")


def test_mute_unmute_stop(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, stack, "mute") == (0, "microphone muted\n", "")
    assert stack.engine.muted
    assert run(capsys, stack, "unmute", "--json") == (0, '{"muted": false}\n', "")
    assert not stack.engine.muted
    assert run(capsys, stack, "stop") == (0, "playback stopped\n", "")


# ========================================================================================================== set
def test_set_changes_settings_and_reports_refusals(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, stack, "set", "voice=cedar", "temperature=0.7", "turn_detection.type=semantic_vad")
    assert (code, out, err) == (0, "updated voice, temperature, turn_detection.type\n", "")
    settings = stack.session.status()["settings"]
    assert (settings["voice"], settings["turn_detection"]) == ("cedar", "semantic_vad")
    sent = [e["session"] for e in stack.sim.sessions[-1].received_events if e["type"] == "session.update"][-1]
    assert sent["audio"]["output"]["voice"] == "cedar" and sent["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"

    # the daemon refuses a bad value itself; the service refuses a voice change once the model has spoken
    code, out, err = run(capsys, stack, "set", "voice=nonesuch")
    assert code == cli.EXIT_ERROR and "(bad_args)" in err and "nonesuch" in err
    assert run(capsys, stack, "say", "Hello")[0] == 0
    code, out, err = run(capsys, stack, "set", "voice=marin")
    assert code == cli.EXIT_ERROR and "refused the settings" in err and "(cannot_update_voice)" in err
    assert stack.session.status()["settings"]["voice"] == "cedar"


# ======================================================================================================= events
def test_events_prints_one_line_each_until_ctrl_c(stack: Stack) -> None:
    proc = spawn(stack.path, "events", "--json")
    assert proc.stdout is not None
    snapshot = json.loads(proc.stdout.readline())
    assert snapshot["event"] == "snapshot" and snapshot["state"] == stack.session.state.value
    stack.client.send_text("Count the lines")
    seen = []
    while not any(e["event"] == "transcript.assistant" and e.get("final") for e in seen):
        seen.append(json.loads(proc.stdout.readline()))
    code, _, err = interrupt(proc)
    assert code == cli.EXIT_INTERRUPTED and "Traceback" not in err
    names = {e["event"] for e in seen}
    assert {"state", "response", "transcript.assistant"} <= names and not names & {"audio.output", "raw"}
    assert any(e["event"] == "response" and e["kind"] == "created" for e in seen)
    final = next(e for e in seen if e["event"] == "transcript.assistant" and e.get("final"))
    assert final["text"] == "Simulator heard: Count the lines."


def test_events_of_named_topics_human_lines(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    proc = spawn(stack.path, "events", "state", "--count", "1", "--seconds", "20")
    assert proc.stdout is not None and " snapshot state=" in proc.stdout.readline()
    stack.client.send_text("One more")  # the reply changes the state
    code, out, err = finish(proc)
    assert (code, err) == (0, "") and len(out.splitlines()) == 1
    assert " state state=" in out and " previous=" in out
    code, out, err = run(capsys, stack, "events", "nonsense")
    assert code == cli.EXIT_ERROR and "(bad_args)" in err and "no topic 'nonsense'" in err


# ======================================================================================================= listen
def test_listen_writes_what_the_simulator_sent(stack: Stack, tmp_path: Path) -> None:
    out_wav = tmp_path / "reply.wav"
    proc = spawn(stack.path, "listen", str(out_wav), "--replies", "1", "--json")
    assert proc.stderr is not None and "recording the assistant" in proc.stderr.readline()
    stack.client.send_text("Record this")
    code, out, err = finish(proc)
    summary = json.loads(out)
    assert code == 0 and summary["replies"] == 1 and summary["dropped_frames"] == 0
    item = stack.recorder.wait("transcript.assistant", lambda d: d.get("final"))["item_id"]
    with wave.open(str(out_wav)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (24000, 1, 2)
        recorded = w.readframes(w.getnframes())
    assert recorded == stack.sent_audio(item) and len(recorded) > 24000  # every sample, in order


def test_listen_ctrl_c_leaves_a_complete_wav(stack: Stack, tmp_path: Path) -> None:
    out_wav = tmp_path / "part.wav"
    proc = spawn(stack.path, "listen", str(out_wav))
    assert proc.stderr is not None and "recording" in proc.stderr.readline()
    code, _, err = interrupt(proc)
    assert code == cli.EXIT_INTERRUPTED and "wrote 0.00 s" in err
    with wave.open(str(out_wav)) as w:
        assert (w.getframerate(), w.getnframes()) == (24000, 0)


# ========================================================================================================= tools
def test_a_tool_served_by_the_cli_completes_a_function_call(stack: Stack, weather_schema: Path) -> None:
    code = ("import json, sys; args = json.load(sys.stdin); "
            "print(json.dumps({'city': args['city'][-5:-1], 'temp_c': 21}))")
    server = spawn(stack.path, "tool", "serve", "get_weather", "--schema", str(weather_schema),
                   "--description", "The weather in a city", "--", sys.executable, "-c", code)
    assert server.stderr is not None and "serving the tool get_weather" in server.stderr.readline()
    said = subprocess.run([sys.executable, "-m", "rtaudiod.cli", "--socket", stack.path, "say",
                           "What is the get_weather in Oslo?"], capture_output=True, text=True, timeout=30)
    assert said.returncode == 0, said.stderr
    assert said.stdout == 'The get_weather tool returned {"city": "Oslo", "temp_c": 21}.\n'
    outputs = [e["item"] for e in stack.sim.sessions[-1].received_events
               if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output"]
    assert [json.loads(o["output"]) for o in outputs] == [{"city": "Oslo", "temp_c": 21}]
    tools = [e["session"].get("tools") for e in stack.sim.sessions[-1].received_events if e["type"] == "session.update"]
    assert {"type": "function", "name": "get_weather", "description": "The weather in a city",
            "parameters": WEATHER_SCHEMA} in tools[-1]
    code, out, err = interrupt(server)
    assert code == cli.EXIT_INTERRUPTED and "get_weather call_" in err and ": ok in " in err
    wait_until(lambda: "get_weather" not in stack.session.tools.names(), 5, "the tool withdrawn")


def test_a_failing_tool_command_answers_with_an_error(stack: Stack, weather_schema: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    server = spawn(stack.path, "tool", "serve", "get_weather", "--schema", str(weather_schema), "--json", "--",
                   sys.executable, "-c", "import sys; sys.stderr.write('no network'); sys.exit(3)")
    assert server.stderr is not None and "serving" in server.stderr.readline()
    code, out, _ = run(capsys, stack, "say", "--json", "get_weather for Paris")
    reply = json.loads(out)
    assert code == 0 and [c["name"] for c in reply["calls"]] == ["get_weather"]
    assert reply["transcript"].startswith('The get_weather tool returned {"error": "the tool\'s command exited with '
                                          'status 3", "stderr": "no network"}')
    # a second client cannot take the name
    code, _, err = run(capsys, stack, "tool", "serve", "get_weather", "--schema", str(weather_schema), "--", "true")
    assert code == cli.EXIT_ERROR and "(tool_taken)" in err
    code, out, _ = interrupt(server)
    call = json.loads(out.splitlines()[0])
    assert code == cli.EXIT_INTERRUPTED and (call["name"], call["ok"], call["answered"]) == ("get_weather", False, True)


class OneLineServer:
    """A Unix socket that answers every connection with `greeting` (maybe nothing) and hangs up after `hold` s:
    what a daemon that refuses this peer does (one `forbidden` error line, then close), or a socket that is not
    rtaudiod's (silence)."""

    def __init__(self, path: str, greeting: bytes, hold: float = 0.0) -> None:
        import threading

        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen()
        self.greeting, self.hold = greeting, hold
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        import time

        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.sendall(self.greeting)
            time.sleep(self.hold)

    def close(self) -> None:
        self.sock.close()
        self.thread.join(5)


def test_a_refused_user_is_exit_3_saying_what_to_change(tmp_path: Path) -> None:
    forbidden = b'{"id": null, "error": {"code": "forbidden", "message": "uid 1000 (gid 1000) may not use this socket"}}\n'
    server = OneLineServer(str(tmp_path / "strict.sock"), forbidden)
    try:
        code, out, err = finish(spawn(str(tmp_path / "strict.sock"), "status"))
    finally:
        server.close()
    assert code == cli.EXIT_CONNECT and "the daemon refused this user" in err and "allowed_uids" in err


def test_a_socket_that_never_greets_is_exit_3(tmp_path: Path) -> None:
    server = OneLineServer(str(tmp_path / "mute.sock"), b"", hold=3.0)
    try:
        code, out, err = finish(spawn(str(tmp_path / "mute.sock"), "--timeout", "0.5", "status"))
    finally:
        server.close()
    assert code == cli.EXIT_CONNECT and "no greeting within 0.5 s" in err
