"""rtaudiod-cli without a daemon: argument parsing and usage errors, WAV reading in every sample format sox writes,
`set`'s KEY=VALUE parsing, the output formats, the tool runner's command handling, and `devices` on a real
(private) PulseAudio server."""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rtaudiod import cli
from rtaudiod.codecs import alaw_decode, ulaw_decode

RATE = 16000


def tone(seconds: float = 0.5, rate: int = RATE, channels: int = 1) -> np.ndarray:
    """A two-tone test signal, int16, shape (frames, channels), each channel a little different."""
    t = np.arange(int(seconds * rate)) / rate
    cols = [0.4 * np.sin(2 * np.pi * (440 + 110 * c) * t) + 0.2 * np.sin(2 * np.pi * 1234 * t) for c in range(channels)]
    return np.rint(np.stack(cols, axis=1) * 32767).astype("<i2")


def write_wav16(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(samples.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return path


def sox(src: Path, dst: Path, *args: str) -> Path:
    subprocess.run(["sox", str(src), *args, str(dst)], check=True, capture_output=True, timeout=30)
    return dst


# ========================================================================================================== WAV
@pytest.fixture
def source(tmp_path: Path) -> tuple[Path, np.ndarray]:
    samples = tone(channels=2)
    return write_wav16(tmp_path / "src.wav", samples), samples


def test_read_wav_16_bit_is_exact(source: tuple[Path, np.ndarray]) -> None:
    path, samples = source
    wav = cli.read_wav(str(path))
    assert (wav.rate, wav.channels, wav.frames) == (RATE, 2, len(samples))
    assert wav.pcm == samples.tobytes()


@pytest.mark.parametrize("args", [["-b", "24"], ["-b", "32"], ["-t", "wavpcm", "-b", "24"]],
                         ids=["24-bit-extensible", "32-bit-extensible", "24-bit-plain"])
def test_read_wav_wider_integers_keep_the_16_bits(tmp_path: Path, source: tuple[Path, np.ndarray],
                                                   args: list[str]) -> None:
    path, samples = source
    wav = cli.read_wav(str(sox(path, tmp_path / "wide.wav", *args)))
    assert (wav.rate, wav.channels) == (RATE, 2)
    assert wav.pcm == samples.tobytes()  # widening shifts left: the top 16 bits are the original


def test_read_wav_8_bit_unsigned(tmp_path: Path, source: tuple[Path, np.ndarray]) -> None:
    path, samples = source
    wav = cli.read_wav(str(sox(path, tmp_path / "u8.wav", "-b", "8", "-e", "unsigned-integer", "-D")))
    got = np.frombuffer(wav.pcm, "<i2").reshape(-1, 2)
    assert np.max(np.abs(got.astype(int) - samples.astype(int))) <= 256  # one 8-bit step


@pytest.mark.parametrize("bits", ["32", "64"])
def test_read_wav_float(tmp_path: Path, source: tuple[Path, np.ndarray], bits: str) -> None:
    path, samples = source
    wav = cli.read_wav(str(sox(path, tmp_path / "f.wav", "-e", "floating-point", "-b", bits)))
    got = np.frombuffer(wav.pcm, "<i2").reshape(-1, 2)
    assert np.max(np.abs(got.astype(int) - samples.astype(int))) <= 1  # x/32768 back as x*32767


@pytest.mark.parametrize("law", ["u-law", "a-law"])
def test_read_wav_g711(tmp_path: Path, source: tuple[Path, np.ndarray], law: str) -> None:
    path, samples = source
    wav = cli.read_wav(str(sox(path, tmp_path / "g711.wav", "-e", law, "-D")))
    decode = ulaw_decode if law == "u-law" else alaw_decode
    grid = np.unique(np.frombuffer(decode(bytes(range(256))), "<i2").astype(int))  # every value a code decodes to
    got = np.frombuffer(wav.pcm, "<i2").astype(int)
    original = samples.reshape(-1).astype(int)
    assert len(got) == len(original) and np.all(np.isin(got, grid))
    # sox rounds to the nearest code where G.711 truncates: the code read back is the original's, or next to it
    k = np.searchsorted(grid, got)
    below, above = grid[np.maximum(k - 1, 0)], grid[np.minimum(k + 1, len(grid) - 1)]
    assert np.all((below <= original) & (original <= above))


def test_read_wav_streamed_from_a_pipe(source: tuple[Path, np.ndarray], monkeypatch: pytest.MonkeyPatch) -> None:
    """sox writing to a pipe cannot seek back to fill in the sizes: the data is read to its end."""
    path, samples = source
    piped = subprocess.run(["sox", str(path), "-t", "wav", "-"], check=True, capture_output=True).stdout
    assert int.from_bytes(piped[40:44], "little") in (0, 0xFFFFFFFF) or len(piped) - 44 == samples.nbytes

    class Stdin:
        buffer = __import__("io").BytesIO(piped)
    monkeypatch.setattr(sys, "stdin", Stdin)
    wav = cli.read_wav("-")
    assert wav.pcm == samples.tobytes()


@pytest.mark.parametrize("content,complaint", [
    (b"", "not a WAV"), (b"RIFF\x00\x00\x00\x00WAVEjunk", "no fmt chunk"), (b"OggS" + bytes(40), "not a WAV"),
])
def test_read_wav_refuses_what_is_not_a_wav(tmp_path: Path, content: bytes, complaint: str) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(cli.CliError, match=complaint):
        cli.read_wav(str(path))


def test_read_wav_missing_file(tmp_path: Path) -> None:
    with pytest.raises(cli.CliError, match="cannot read .*No such file"):
        cli.read_wav(str(tmp_path / "nope.wav"))


def test_fit_for_input_mixes_down_and_resamples() -> None:
    many = cli.Wav(tone(0.2, 48000, 10).tobytes(), 48000, 10)
    mixed = cli.fit_for_input(many)
    assert (mixed.rate, mixed.channels, mixed.frames) == (48000, 1, many.frames)
    slow = cli.Wav(tone(0.5, 4000, 1).tobytes(), 4000, 1)
    up = cli.fit_for_input(slow)
    assert (up.rate, up.channels) == (8000, 1) and abs(up.frames - 2 * slow.frames) <= 2
    fine = cli.Wav(tone(0.1).tobytes(), RATE, 1)
    assert cli.fit_for_input(fine) is fine


def test_wav_sink_writes_a_complete_file(tmp_path: Path) -> None:
    samples = tone(0.3, 24000, 1)
    sink = cli.WavSink(str(tmp_path / "out.wav"), 24000)
    for chunk in np.array_split(samples, 7):
        sink.write(chunk.tobytes())
    sink.close()
    assert sink.frames == len(samples)
    with wave.open(str(tmp_path / "out.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (24000, 1, 2)
        assert w.readframes(w.getnframes()) == samples.tobytes()


# ===================================================================================================== settings
def test_parse_settings_json_values_strings_and_nesting() -> None:
    got = cli.parse_settings(["voice=marin", "temperature=0.7", "turn_detection.type=none",
                              "turn_detection.silence_duration_ms=300", "tools=[]", 'instructions="42"',
                              "max_output_tokens=inf", "tool_choice=null", "greeting=a=b"])
    assert got == {"voice": "marin", "temperature": 0.7, "turn_detection": {"type": "none", "silence_duration_ms": 300},
                   "tools": [], "instructions": "42", "max_output_tokens": "inf", "tool_choice": None,
                   "greeting": "a=b"}


@pytest.mark.parametrize("assignments,complaint", [
    (["voice"], "not KEY=VALUE"), (["=x"], "not KEY=VALUE"), (["a..b=1"], "not KEY=VALUE"),
    (["voice=a", "voice=b"], "twice"), (["turn_detection=1", "turn_detection.type=none"], "sub-keys"),
    (["turn_detection.type=none", "turn_detection=1"], "twice"),
])
def test_parse_settings_errors(assignments: list[str], complaint: str) -> None:
    with pytest.raises(cli.CliError, match=complaint):
        cli.parse_settings(assignments)


# ==================================================================================================== socket path
def test_default_socket(tmp_path: Path) -> None:
    assert cli.default_socket({"RTAUDIOD_SOCKET": "/x.sock", "XDG_RUNTIME_DIR": str(tmp_path)}) == "/x.sock"
    assert cli.default_socket({"XDG_RUNTIME_DIR": str(tmp_path)}) == cli.SYSTEM_SOCKET  # not there: not used
    user = tmp_path / "rtaudiod" / "control.sock"
    user.parent.mkdir()
    user.touch()
    assert cli.default_socket({"XDG_RUNTIME_DIR": str(tmp_path)}) == str(user)
    assert cli.default_socket({}) == cli.SYSTEM_SOCKET


# ======================================================================================================= output
def test_format_event_is_one_greppable_line() -> None:
    line = cli.format_event("transcript.assistant", {"item_id": "item_1", "delta": "Hello there", "final": False},
                            now=0)
    assert line.endswith('transcript.assistant item_id=item_1 delta="Hello there" final=false')
    assert "\n" not in cli.format_event("text", {"text": "two\nlines"}, now=0)


STATUS = {
    "state": "ready", "connected": True, "session_id": "sess_1", "connected_for_s": 75.2,
    "settings": {"base_url": "wss://api.openai.com/v1/realtime", "model": "gpt-realtime", "dialect": "ga",
                 "turn_detection": "server_vad", "voice": "marin", "tools": ["get_time"]},
    "tools": ["get_time"], "last_error": None,
    "counters": {"frames_sent": 3750, "bad_events": 0, "stray_events": 2, "reconnects": 1, "renewals": 0,
                 "unknown_events": {"response.new_thing": 4}, "server_errors": {},
                 "reply_latency": {"count": 3, "p50_ms": 612.4, "p99_ms": 901.0, "max_ms": 901.0},
                 "uplink_latency": {"count": 0}},
    "unknown_events": {"response.new_thing": 4},
    "audio": {"backend": "pyaudio", "latency_mode": "balanced", "session_rate": 24000, "muted": True,
              "input": {"device": "USB Mic", "rate": 48000, "channels": 1, "xruns": 0},
              "output": {"device": "USB Speaker", "rate": 48000, "channels": 2, "xruns": 1},
              "lost_devices": {"output": "unplugged"},
              "capture": {"rms_dbfs": -42.5, "peak_dbfs": -30.1, "overruns": 0},
              "playout": {"playing": False, "rms_dbfs": -120.0, "peak_dbfs": -120.0, "underruns": 3, "drained": 2,
                          "played_ms": 5400.0, "prebuffer_ms": 100}},
    "control": {"clients": 1, "accepted": 4, "requests": 9, "refused": 0,
                "connections": [{"id": 4, "pid": 10, "uid": 0, "topics": ["state"]}]},
    "listen": {"mode": "wake_word", "state": "gated", "open": False, "wake_word": "okay_nabu", "wakes": 2,
               "microphone": {"always": {"sent_s": 1.0, "withheld_s": 0.0},
                              "wake_word": {"sent_s": 12.5, "withheld_s": 60.0}}},
}


def test_status_summary_says_each_thing_once_and_lists_the_problems() -> None:
    text = cli.format_status(STATUS)
    lines = text.splitlines()
    assert lines[0] == "rtaudiod: ready, connected for 1 min 15 s (session sess_1)"
    assert len(lines) == 11 + 4, text  # the headline, a line a topic, the footer; the problems one a line
    line = {ln.split(":")[0]: ln for ln in lines[1:] if not ln.startswith(" ")}
    assert "ga dialect, gpt-realtime at wss://api.openai.com/v1/realtime, server_vad turns, voice marin, " \
           "1 reconnect" in line["link"] and "this machine" not in line["link"]
    assert line["listening"].endswith("wake_word (gated, microphone closed, okay_nabu, 2 wakes); "
                                      "microphone sent 13.5 s, withheld 60.0 s; MUTED")
    assert 'microphone "USB Mic" 48000 Hz x1; speaker "USB Speaker" 48000 Hz x2' in line["audio"]
    assert line["levels"].endswith("microphone -42.5 dBFS rms, -30.1 peak; speaker silent")
    assert "5.40 s played, 2 replies played to the end, 3 underruns" in line["playout"]
    assert line["latency"].endswith("turn end to reply 612 / 901 ms (p50 / p99)")  # no uplink: none measured
    assert line["counters"].endswith("frames_sent 3,750")  # not zero, not a problem, not shown elsewhere
    assert "1 client (4 since start), subscribed to state, 9 requests" in line["control"]
    problems = text[text.index("problems:"):]
    for expected in ("output device lost (unplugged)", "2 server events for no known response",
                     "3 playout underruns", "1 device xruns", "unknown server events: response.new_thing 4"):
        assert expected in problems, problems
    assert "bad_events" not in text and "refused" not in text  # zero: not shown


def test_status_summary_of_a_healthy_daemon_says_no_problems() -> None:
    healthy = {**STATUS, "counters": {"frames_sent": 10, "stray_events": 0}, "unknown_events": {},
               "audio": {**STATUS["audio"], "lost_devices": {}, "output": {"device": "USB Speaker", "xruns": 0},
                         "playout": {**STATUS["audio"]["playout"], "underruns": 0}}}
    assert cli.format_status(healthy).splitlines()[-2] == "problems:  none"
    failed = cli.format_status({"state": "failed", "last_error": {"code": "invalid_api_key", "message": "bad key"}})
    assert failed.splitlines()[1:3] == ["problems:  the session is failed", "           last error: bad key"]


def test_status_summary_says_why_auto_chose_the_backend() -> None:
    reason = "the sound server natively: it answers, and the devices are its defaults"
    auto = {**STATUS["audio"], "backend": "pulse", "backend_choice": {"auto": True, "reason": reason}}
    assert "audio:     pulse backend (auto: the sound server natively: it answers," in cli.format_status(
        {**STATUS, "audio": auto})
    named = {**STATUS["audio"], "backend_choice": {"auto": False, "reason": 'audio.backend = "pyaudio"'}}
    assert "audio:     pyaudio backend, balanced latency;" in cli.format_status({**STATUS, "audio": named})


def test_status_long_form_shows_every_field_once() -> None:
    text = cli.format_status(STATUS, verbose=True)
    assert text.splitlines()[0] == "rtaudiod: ready (sess_1, ga, gpt-realtime)"
    assert text.count("unknown_events:") == 1 and text.count("tools:") == 1  # the top-level copies go
    for expected in ("counters:", "  frames_sent:", "    p50_ms:", "    count:", "listen:", "      sent_s:",
                     "  connections:", "    - id 4, pid 10, uid 0, topics state", "settings:", "  dialect:"):
        assert expected in text, expected


# ================================================================================================ usage errors
def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["turn", "sideways"], ["say"], ["set"], ["--timeout", "0", "status"],
                                  ["events", "--count", "0"], ["tool", "serve", "x"]])
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = run_main(capsys, *argv)
    assert code == cli.EXIT_USAGE and "usage:" in err and "Traceback" not in err


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "--help")
    assert code == 0
    for line in ("0    done", "1    the daemon answered with an error", "2    usage error", "3    cannot connect",
                 "130  interrupted"):
        assert line in out
    code, out, _ = run_main(capsys, "tool", "serve", "--help")
    assert code == 0 and "arguments (JSON) on stdin" in out


def test_local_mistakes_are_usage_errors_before_connecting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad file or command is exit 2 even when no daemon runs (not 3: the socket is not the problem)."""
    nowhere = str(tmp_path / "none.sock")
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "ok.json").write_text('{"type": "object", "properties": {}}')
    cases = [
        (["send-audio", str(tmp_path / "missing.wav")], "cannot read"),
        (["set", "voice"], "not KEY=VALUE"),
        (["tool", "serve", "t", "--schema", str(tmp_path / "bad.json"), "--", "true"], "is not JSON"),
        (["tool", "serve", "t", "--schema", str(tmp_path / "ok.json"), "--", "no-such-command-xyz"], "not an executable"),
        (["tool", "serve", "t", "--schema", str(tmp_path / "ok.json"), "--"], "no COMMAND"),
    ]
    for argv, complaint in cases:
        code, out, err = run_main(capsys, "--socket", nowhere, *argv)
        assert (code, out) == (cli.EXIT_USAGE, ""), (argv, err)
        assert complaint in err and err.startswith("rtaudiod-cli: ") and "Traceback" not in err


def test_global_options_after_the_subcommand() -> None:
    args = cli.build_parser().parse_args(["status", "--json", "--socket", "/s", "--timeout", "3"])
    assert (args.json, args.socket, args.timeout) == (True, "/s", 3.0)
    args = cli.build_parser().parse_args(["--json", "--socket", "/s", "status"])
    assert (args.json, args.socket, args.timeout) == (True, "/s", 10.0)


def test_load_tool_schema_takes_parameters_or_a_whole_definition(tmp_path: Path) -> None:
    params = {"type": "object", "properties": {"city": {"type": "string"}}}
    (tmp_path / "p.json").write_text(json.dumps(params))
    (tmp_path / "d.json").write_text(json.dumps({"name": "w", "description": "Weather", "parameters": params}))
    assert cli.load_tool_schema(str(tmp_path / "p.json")) == (params, None)
    assert cli.load_tool_schema(str(tmp_path / "d.json")) == (params, "Weather")


# ================================================================================================= tool runner
class NoClient:
    def tool_result(self, call_id: str, output: str) -> dict[str, Any]:
        raise AssertionError("run() does not answer")


def runner(command: list[str], timeout: float = 10.0) -> cli.ToolRunner:
    return cli.ToolRunner(NoClient(), cli.Output(False), command, timeout)  # type: ignore[arg-type]


def test_tool_runner_passes_arguments_on_stdin_and_returns_stdout() -> None:
    code = ("import json, os, sys; a = json.load(sys.stdin); "
            "print(json.dumps({'city': a['city'], 'tool': os.environ['RTAUDIOD_TOOL_NAME'], "
            "'call': os.environ['RTAUDIOD_CALL_ID']}))")
    output, ok = runner([sys.executable, "-c", code]).run(
        {"call_id": "call_1", "name": "get_weather", "arguments": '{"city": "Oslo"}'})
    assert ok and json.loads(output) == {"city": "Oslo", "tool": "get_weather", "call": "call_1"}


def test_tool_runner_failure_and_timeout_are_error_outputs() -> None:
    output, ok = runner([sys.executable, "-c", "import sys; sys.stderr.write('no key'); sys.exit(4)"]).run(
        {"call_id": "c", "name": "t", "arguments": "{}"})
    assert not ok and json.loads(output) == {"error": "the tool's command exited with status 4", "stderr": "no key"}
    output, ok = runner([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.2).run(
        {"call_id": "c", "name": "t", "arguments": "{}"})
    assert not ok and "timed out after 0.2 s" in json.loads(output)["error"]


# ===================================================================================================== devices
@pytest.mark.usefixtures("pulse_server")
def test_devices_lists_the_sound_servers_devices(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, "devices")
    assert code == 0 and out.splitlines()[0].split() == ["index", "in", "out", "rate", "name"]
    assert any("pulse" in line for line in out.splitlines()[1:]), out
    code, out, err = run_main(capsys, "devices", "--json")
    devices = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and any(d["name"] == "pulse" and d["max_output_channels"] > 0 for d in devices)
    assert "ALSA lib" not in err  # PortAudio's probing noise stays hidden


def test_the_console_script_is_main() -> None:
    import importlib
    import tomllib

    scripts = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, function = scripts["rtaudiod-cli"].partition(":")
    assert getattr(importlib.import_module(module), function) is cli.main
    code = subprocess.run([sys.executable, "-m", "rtaudiod.cli", "--help"], capture_output=True, text=True, timeout=30)
    assert code.returncode == 0 and code.stdout.startswith("usage: rtaudiod-cli ")
