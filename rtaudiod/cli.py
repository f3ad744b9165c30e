"""`rtaudiod-cli` (`python -m rtaudiod.cli`): drive a running rtaudiod from a shell, on its control socket.

Every subcommand but `devices` connects with `rtaudiod.control.Client` (docs/control-protocol.md), does one
thing and exits with a code a script can test:

    0    done (also a device listing with nothing in it)
    1    the daemon refused: it answered with an error (its code and message on stderr), the service refused `set`,
         or `say` got no reply in time
    2    usage error: bad arguments, an empty `say`, an unreadable WAV or schema file, no directory for `listen`'s
         file, a tool command that does not exist (all found before connecting)
    3    no daemon: cannot connect to the socket (none there, refused, forbidden), or the connection was lost
    130  interrupted (Ctrl-C): how `events`, `listen` and `tool serve` normally end; files are complete

What is where in this file, top to bottom: the exit codes and the socket's default path; the pure helpers a unit
test calls directly (`parse_settings`, `read_wav`, `WavSink`, `format_event`, `format_status`); `Output` (human
lines or `--json`, one JSON object a line); one `cmd_*` function per subcommand, each taking the parsed arguments,
the output and a connected client; `build_parser` and `main`, which turn every expected failure into a one-line
message and an exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from rtaudiod.cli_status import long_form, scalar, summary
from rtaudiod.errors import ControlError

if TYPE_CHECKING:  # the control package is imported when a command connects: `devices` does not need it
    from rtaudiod.control import Client, Event

PROG = "rtaudiod-cli"

EXIT_OK = 0
EXIT_ERROR = 1  # the daemon said no
EXIT_USAGE = 2  # argparse's own code for bad arguments
EXIT_CONNECT = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it

SYSTEM_SOCKET = "/run/rtaudiod/control.sock"

#: Topics `events` shows when none are named: everything but the audio (`audio.output` is binary PCM, and `raw`
#: repeats every server frame, audio deltas included, as base64 text).
NOT_BY_DEFAULT = ("audio.output", "raw")
#: The protocol's topics, for when the daemon's greeting does not list them.
KNOWN_TOPICS = ("state", "vad", "transcript.user", "transcript.assistant", "text", "response", "function_call",
                "error", "raw", "audio.output", "listen", "wake", "tool", "announce")

AUDIO_INPUT_LIMITS = {"rate": (8000, 192000), "channels": (1, 8)}  # what `audio.input` accepts
SEND_CHUNK_S = 0.1  # `send-audio` sends 100 ms a message
#: How far `send-audio` runs ahead of real time: the daemon holds 10 s of injected audio and drops the rest, and
#: the uplink sends it in real time (or all at once at a push-to-talk `turn.end`).
SEND_AHEAD_S = 5.0
#: The client's own error codes (rtaudiod.control.CLIENT_CODES): the connection, not the daemon, failed: exit 3.
CONNECTION_CODES = ("connect_failed", "disconnected", "no_reply")
POLL_S = 0.25  # the longest a loop waits for an event before it looks at its deadline again


class CliError(Exception):
    """An expected failure: `main` prints `message` (no traceback) and exits with `code`."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def default_socket(environ: dict[str, str] | os._Environ[str] | None = None) -> str:
    """`$RTAUDIOD_SOCKET`, else `$XDG_RUNTIME_DIR/rtaudiod/control.sock` when that exists (a user unit's daemon, or
    `make run` as a user), else `${TMPDIR:-/tmp}/rtaudiod-UID/control.sock` when that exists (`make run` as a user
    with no runtime directory), else the system daemon's `/run/rtaudiod/control.sock`."""
    env = os.environ if environ is None else environ
    if env.get("RTAUDIOD_SOCKET"):
        return env["RTAUDIOD_SOCKET"]
    candidates = [os.path.join(env.get("TMPDIR") or "/tmp", f"rtaudiod-{os.getuid()}", "control.sock")]
    if env.get("XDG_RUNTIME_DIR"):
        candidates.insert(0, os.path.join(env["XDG_RUNTIME_DIR"], "rtaudiod", "control.sock"))
    return next((path for path in candidates if os.path.exists(path)), SYSTEM_SOCKET)


def command_line(socket: str | None = None, environ: dict[str, str] | os._Environ[str] | None = None) -> str:
    """How a person types rtaudiod-cli here to reach `socket`, for hints: `rtaudiod-cli` when the one on $PATH is
    this installation's (after `make install`), else the path of the one beside this Python (`.venv/bin/rtaudiod-cli`
    after `make run`, relative to the working directory when it is under it); `--socket` only when the default
    would not find `socket`."""
    env = os.environ if environ is None else environ
    beside = os.path.join(os.path.dirname(sys.executable), PROG)
    on_path = shutil.which(PROG, path=env.get("PATH"))
    if on_path and os.path.realpath(on_path) == os.path.realpath(beside):
        command = PROG
    elif os.path.exists(beside):
        relative = os.path.relpath(beside)
        command = relative if os.getcwd() != "/" and not relative.startswith("..") else beside
    else:
        command = f"{sys.executable} -m rtaudiod.cli"
    if socket and os.path.abspath(socket) != os.path.abspath(default_socket(env)):
        command += f" --socket {shlex.quote(socket)}"
    return command


# ===================================================================================================== settings
def parse_value(text: str) -> Any:
    """A `set` value: JSON when it parses (`0.7`, `true`, `null`, `{"type": "none"}`, `"quoted"`), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_settings(assignments: list[str]) -> dict[str, Any]:
    """`["voice=marin", "turn_detection.type=none"]` -> `{"voice": "marin", "turn_detection": {"type": "none"}}`."""
    settings: dict[str, Any] = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        parts = key.split(".")
        if not sep or not all(p.strip() for p in parts):
            raise CliError(f"set: {assignment!r} is not KEY=VALUE (a nested key is written a.b=VALUE)")
        node = settings
        for depth, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise CliError(f"set: {'.'.join(parts[:depth + 1])} is given a value and sub-keys at once")
            node = child
        if parts[-1] in node:
            raise CliError(f"set: {key} is given twice, or as a value and with sub-keys")
        node[parts[-1]] = parse_value(value)
    return settings


# ========================================================================================================== WAV
_WAVE_PCM, _WAVE_FLOAT, _WAVE_ALAW, _WAVE_ULAW, _WAVE_EXTENSIBLE = 1, 3, 6, 7, 0xFFFE


@dataclass(frozen=True)
class Wav:
    """Interleaved signed 16-bit little-endian PCM, whatever the file held."""

    pcm: bytes
    rate: int
    channels: int

    @property
    def frames(self) -> int:
        return len(self.pcm) // (2 * self.channels)

    @property
    def seconds(self) -> float:
        return self.frames / self.rate


def read_wav(path: str) -> Wav:
    """Any WAV (`-`: standard input) as 16-bit PCM: integer PCM of 8, 16, 24 or 32 bits, 32/64-bit float,
    G.711 µ-law/A-law, plain or WAVE_FORMAT_EXTENSIBLE, RIFF or RF64; a streamed file whose sizes were never
    filled in (a pipe from sox) is read to its end. Raises CliError saying what is wrong with the file."""
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as e:
        raise CliError(f"cannot read {path}: {e.strerror or e}") from None
    name = "standard input" if path == "-" else path
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RF64") or data[8:12] != b"WAVE":
        raise CliError(f"{name} is not a WAV file (no RIFF/WAVE header)")
    fmt: tuple[int, int, int, int, int] | None = None
    body: bytes | None = None
    big_data_size: int | None = None  # RF64: the data size lives in the ds64 chunk
    pos = 12
    while pos + 8 <= len(data) and body is None:
        chunk_id, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        start = pos + 8
        if chunk_id == b"ds64" and size >= 16:
            big_data_size = int.from_bytes(data[start + 8:start + 16], "little")
        elif chunk_id == b"fmt ":
            fmt = _parse_fmt(data[start:start + size], name)
        elif chunk_id == b"data":
            if size == 0xFFFFFFFF and big_data_size is not None:
                size = big_data_size
            end = len(data) if size in (0, 0xFFFFFFFF) else min(len(data), start + size)
            body = data[start:end]
        pos = start + size + (size & 1)
    if fmt is None:
        raise CliError(f"{name}: no fmt chunk before the audio: not a usable WAV file")
    if body is None:
        raise CliError(f"{name}: no data chunk: the WAV holds no audio")
    tag, channels, rate, block_align, bits = fmt
    body = body[: len(body) - len(body) % block_align]
    return Wav(_to_pcm16(body, tag, bits, block_align // channels, name), rate, channels)


def _parse_fmt(fmt: bytes, name: str) -> tuple[int, int, int, int, int]:
    if len(fmt) < 16:
        raise CliError(f"{name}: the fmt chunk is {len(fmt)} bytes, under the 16 every WAV has")
    tag = int.from_bytes(fmt[0:2], "little")
    channels = int.from_bytes(fmt[2:4], "little")
    rate = int.from_bytes(fmt[4:8], "little")
    block_align = int.from_bytes(fmt[12:14], "little")
    bits = int.from_bytes(fmt[14:16], "little")
    if tag == _WAVE_EXTENSIBLE and len(fmt) >= 26:
        tag = int.from_bytes(fmt[24:26], "little")  # the first two bytes of the SubFormat GUID are the tag
    if channels < 1 or rate < 1 or block_align < channels or block_align % channels:
        raise CliError(f"{name}: a broken fmt chunk ({channels} channels, {rate} Hz, {block_align}-byte frames)")
    return tag, channels, rate, block_align, bits


def _to_pcm16(body: bytes, tag: int, bits: int, width: int, name: str) -> bytes:
    import numpy as np  # here, not at the top: the daemon imports this module (command_line) and never needs numpy

    if tag == _WAVE_PCM and width == 1:
        return ((np.frombuffer(body, np.uint8).astype(np.int16) - 128) << 8).astype("<i2").tobytes()
    if tag == _WAVE_PCM and width == 2:
        return body
    if tag == _WAVE_PCM and width == 3:  # keep the top two bytes of each little-endian 24-bit sample
        return np.frombuffer(body, np.uint8).reshape(-1, 3)[:, 1:].tobytes()
    if tag == _WAVE_PCM and width == 4:
        return (np.frombuffer(body, "<i4") >> 16).astype("<i2").tobytes()
    if tag == _WAVE_FLOAT and width in (4, 8):
        samples = np.frombuffer(body, "<f4" if width == 4 else "<f8")
        return np.clip(np.rint(samples * 32767.0), -32768, 32767).astype("<i2").tobytes()
    if tag in (_WAVE_ULAW, _WAVE_ALAW) and width == 1:
        from rtaudiod.codecs import alaw_decode, ulaw_decode

        return (ulaw_decode if tag == _WAVE_ULAW else alaw_decode)(body)
    raise CliError(f"{name}: WAV format tag {tag:#x} with {bits}-bit samples is not supported (integer PCM, float, "
                   f"µ-law and A-law are; convert it: sox IN.wav -b 16 OUT.wav)")


def fit_for_input(wav: Wav) -> Wav:
    """The WAV within what `audio.input` accepts (8–192 kHz, 1–8 channels): more channels are mixed down to mono,
    a rate outside the range is resampled to its nearest end. Usually returns `wav` itself."""
    import numpy as np  # see _to_pcm16

    pcm, rate, channels = wav.pcm, wav.rate, wav.channels
    lo_ch, hi_ch = AUDIO_INPUT_LIMITS["channels"]
    if channels > hi_ch:
        mixed = np.frombuffer(pcm, "<i2").reshape(-1, channels).astype(np.int32).mean(axis=1)
        pcm, channels = np.rint(mixed).astype("<i2").tobytes(), 1
    lo, hi = AUDIO_INPUT_LIMITS["rate"]
    if not lo <= rate <= hi:
        import soxr

        target = min(max(rate, lo), hi)
        samples = np.frombuffer(pcm, "<i2").reshape(-1, channels)
        pcm, rate = soxr.resample(samples, rate, target).astype("<i2").tobytes(), target
    return wav if (pcm, rate, channels) == (wav.pcm, wav.rate, wav.channels) else Wav(pcm, rate, channels)


class WavSink:
    """A 16-bit PCM WAV written as the audio arrives; `close()` (also on Ctrl-C) leaves a complete file."""

    def __init__(self, path: str, rate: int, channels: int = 1) -> None:
        self.path, self.rate, self.channels = path, rate, channels
        try:  # opened here, not by wave.open: a Wave_write whose open failed complains again from its __del__
            self._file = open(path, "wb")  # noqa: SIM115 (closed by close())
        except OSError as e:
            raise CliError(f"cannot write {path}: {e.strerror or e}") from None
        self._wave = wave.open(self._file, "wb")
        self._wave.setnchannels(channels)
        self._wave.setsampwidth(2)
        self._wave.setframerate(rate)
        self.frames = 0

    def write(self, pcm: bytes) -> None:
        self._wave.writeframes(pcm)
        self.frames += len(pcm) // (2 * self.channels)

    @property
    def seconds(self) -> float:
        return self.frames / self.rate

    def close(self) -> None:
        self._wave.close()  # writes the final sizes; a file it was handed, it leaves open
        self._file.close()


# ======================================================================================================= output
def format_event(name: str, fields: dict[str, Any], now: float | None = None) -> str:
    """One human line: `12:00:01.234 state state=speaking previous=thinking`."""
    stamp = datetime.datetime.fromtimestamp(time.time() if now is None else now).strftime("%H:%M:%S.%f")[:-3]
    parts = [stamp, name] + [f"{k}={scalar(v)}" for k, v in fields.items() if k not in ("event", "payload_length")]
    return " ".join(parts)


def format_status(status: dict[str, Any], verbose: bool = False) -> str:
    """`rtaudiod-cli status`: the dozen-line summary, or with `verbose` every field (rtaudiod/cli_status.py)."""
    return long_form(status) if verbose else summary(status)


class Output:
    """Where results go: human lines, or with `--json` one JSON object a line (flushed at once, for pipes). Whole
    lines from any thread (`tool serve` answers calls on several)."""

    def __init__(self, json_mode: bool, out: IO[str] | None = None, err: IO[str] | None = None) -> None:
        self.json = json_mode
        self.out = sys.stdout if out is None else out
        self.err = sys.stderr if err is None else err
        self._lock = threading.Lock()

    def emit(self, obj: Any, human: str | None = None) -> None:
        """`obj` as a JSON line with `--json`; else `human` (nothing when None)."""
        line = json.dumps(obj, ensure_ascii=False) if self.json else human
        if line is not None:
            self._write(self.out, line)

    def note(self, message: str) -> None:
        """Progress and warnings: on stderr, so stdout stays the result."""
        self._write(self.err, f"{PROG}: {message}")

    def _write(self, stream: IO[str], line: str) -> None:
        with self._lock:
            stream.write(line + "\n")
            stream.flush()


# ===================================================================================================== events
def _event_fields(event: Event) -> dict[str, Any]:
    """The fields of a control event (the client has taken its name, `event`, out of them)."""
    return dict(event.data)


def _events_until(client: Client, deadline: float | None) -> Iterator[Event]:
    """Events as they come, until `deadline` (monotonic; None: forever). Wakes every POLL_S to check it."""
    while True:
        wait = POLL_S if deadline is None else min(POLL_S, deadline - time.monotonic())
        if wait <= 0:
            return
        event = client.next_event(timeout=wait)
        if event is not None:
            yield event
        elif client.closed:
            raise CliError("the daemon closed the connection (stopped, or it dropped this client)", EXIT_CONNECT)


def _kind(fields: dict[str, Any]) -> str | None:
    """What happened, in a `response` or `vad` event (`created`, `done`, `speech_started`, ...)."""
    kind = fields.get("kind")
    return kind if isinstance(kind, str) else None


# =================================================================================================== commands
def cmd_status(args: argparse.Namespace, out: Output, client: Client) -> int:
    status = client.status()
    out.emit(status, format_status(status, args.verbose))
    return EXIT_OK


def cmd_say(args: argparse.Namespace, out: Output, client: Client) -> int:
    return _send_and_follow(args, out, client, lambda respond: client.send_text(args.text, respond=respond))


def cmd_image(args: argparse.Namespace, out: Output, client: Client) -> int:
    return _send_and_follow(args, out, client, lambda respond: client.send_image(
        args.image, text=args.text, respond=respond, detail=args.detail))


def _send_and_follow(args: argparse.Namespace, out: Output, client: Client, send: Callable[[bool], Any]) -> int:
    """Send the user's message (`send(respond)`), then, unless told not to, wait for the reply and print it."""
    respond = not args.no_respond
    if args.no_wait or not respond:
        send(respond)
        out.emit({"sent": True, "respond": respond})
        return EXIT_OK
    # Subscribed before sending, so no event of the reply can be missed.
    client.subscribe("response", "transcript.assistant", "text", "function_call", "error")
    send(True)
    reply = _await_reply(client, time.monotonic() + args.reply_timeout)
    if reply["status"] == "timeout":
        raise CliError(f"no reply within {args.reply_timeout:g} s (see `{PROG} status`; --reply-timeout)", EXIT_ERROR)
    if reply["status"] == "error":
        error = reply["error"]
        raise CliError(f"the reply failed: {error.get('message')} ({error.get('code')})", EXIT_ERROR)
    out.emit(reply, reply["transcript"])
    if reply["status"] not in ("completed", None):
        out.note(f"the reply ended {reply['status']}")
    return EXIT_OK


def read_image(path: str) -> bytes:
    """A JPEG or PNG file's bytes, checked as the daemon will check them (type by its first bytes, size)."""
    from rtaudiod.session.images import image_data_url

    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise CliError(f"image: cannot read {path}: {e.strerror or e}") from None
    try:
        image_data_url(data)
    except ValueError as e:
        raise CliError(f"image: {path}: {e}") from None
    return data


def _await_reply(client: Client, deadline: float) -> dict[str, Any]:
    """Follow the reply to the text just sent: the first response created from now on, and the ones that follow
    it when it ended in function calls (the daemon asks for the next response once they are answered).

    Returns `{"transcript", "response_ids", "calls", "status", "error"}`; status is the last response's
    (`completed`, `cancelled`, `interrupted`, ...), `timeout`, or `error` (a fatal error event)."""
    mine: str | None = None
    ids: list[str] = []
    finals: dict[str, list[str]] = {}
    deltas: dict[str, list[str]] = {}
    calls: list[dict[str, Any]] = []
    calls_in_response = 0
    for event in _events_until(client, deadline):
        fields = _event_fields(event)
        rid = fields.get("response_id")
        if event.name == "response":
            kind = _kind(fields)
            if kind == "created" and mine is None and "announce_id" not in fields:  # an announcement is no reply
                mine, calls_in_response = rid, 0
                ids.append(rid)
            elif kind in ("done", "interrupted") and rid == mine and mine is not None:
                status = fields.get("status") or ("interrupted" if kind == "interrupted" else None)
                if kind == "done" and calls_in_response and status == "completed":
                    mine = None  # the calls' outputs go back; the next response continues this reply
                    continue
                return _reply(ids, finals, deltas, calls, status, None)
        elif event.name in ("transcript.assistant", "text") and rid is not None and rid == mine:
            if fields.get("final"):
                finals.setdefault(rid, []).append(fields.get("text") or "")
            elif fields.get("delta"):
                deltas.setdefault(rid, []).append(fields["delta"])
        elif event.name == "function_call" and mine is not None and "arguments" in fields:
            calls_in_response += 1
            calls.append({k: fields.get(k) for k in ("call_id", "name", "arguments")})
        elif event.name == "error" and fields.get("fatal"):
            return _reply(ids, finals, deltas, calls, "error", fields)
    return _reply(ids, finals, deltas, calls, "timeout", None)


def _reply(ids: list[str], finals: dict[str, list[str]], deltas: dict[str, list[str]],
           calls: list[dict[str, Any]], status: str | None, error: dict[str, Any] | None) -> dict[str, Any]:
    parts = [" ".join(finals[r]) if r in finals else "".join(deltas.get(r, [])) for r in ids]
    return {"transcript": " ".join(p for p in parts if p), "response_ids": ids, "calls": calls,
            "status": status, "error": error}


def cmd_announce(args: argparse.Namespace, out: Output, client: Client) -> int:
    """Say TEXT on the device (out of band); unless --no-wait, follow it until it has played or was cut."""
    if args.no_wait:
        announce_id = client.announce(args.text, now=args.now, listen=args.listen)
        out.emit({"announce_id": announce_id, "event": "queued"}, f"queued: {announce_id}")
        return EXIT_OK
    client.subscribe("announce")  # before it is sent: none of its events can be missed
    announce_id = client.announce(args.text, now=args.now, listen=args.listen)
    for event in _events_until(client, time.monotonic() + args.reply_timeout):
        fields = _event_fields(event)
        if event.name == "announce" and fields.get("announce_id") == announce_id \
                and _kind(fields) in ("done", "interrupted"):
            result = {"announce_id": announce_id, "event": _kind(fields), "response_id": fields.get("response_id"),
                      "reason": fields.get("reason")}
            out.emit(result, "announced" if result["event"] == "done" else f"interrupted ({result['reason']})")
            return EXIT_OK
    raise CliError(f"the announcement did not end within {args.reply_timeout:g} s (see `{PROG} status`; "
                   "--reply-timeout)",
                   EXIT_ERROR)


def cmd_approve(args: argparse.Namespace, out: Output, client: Client) -> int:
    approve = not args.deny
    client.approve_mcp(args.request_id, approve, args.reason)
    out.emit({"approval_request_id": args.request_id, "approve": approve},
             f"{'approved' if approve else 'declined'}: {args.request_id}")
    return EXIT_OK


def cmd_turn(args: argparse.Namespace, out: Output, client: Client) -> int:
    if args.action == "start":
        client.turn_start()
        out.emit({"turn": "started"}, "turn started: speak, then `turn end`")
    elif args.action == "end":
        committed = client.turn_end(respond=not args.no_respond)
        out.emit({"turn": "ended", "committed": committed},
                 "turn committed" if committed else "turn too short (under 100 ms of audio): cleared, not committed")
    else:
        client.turn_cancel()
        out.emit({"turn": "cancelled"}, "turn cancelled")
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace, out: Output, client: Client) -> int:
    cancelled = client.cancel()
    out.emit({"cancelled": cancelled}, "reply cancelled" if cancelled else "nothing to cancel")
    return EXIT_OK


def cmd_mute(args: argparse.Namespace, out: Output, client: Client) -> int:
    muted = client.mute() if args.command == "mute" else client.unmute()
    out.emit({"muted": muted}, "microphone muted" if muted else "microphone live")
    return EXIT_OK


def cmd_stop(args: argparse.Namespace, out: Output, client: Client) -> int:
    client.stop_playback()
    out.emit({"stopped": True}, "playback stopped")
    return EXIT_OK


def cmd_mode(args: argparse.Namespace, out: Output, client: Client) -> int:
    result = client.request("listen.mode", **({"mode": args.mode} if args.mode else {}))
    out.emit(result, f"listening mode: {result['mode']} ({result['state']})")
    return EXIT_OK


def cmd_events(args: argparse.Namespace, out: Output, client: Client) -> int:
    topics = args.topics or [t for t in _daemon_topics(client) if t not in NOT_BY_DEFAULT]
    snapshot = client.subscribe(*topics)
    out.emit({"event": "snapshot", **snapshot}, format_event("snapshot", snapshot))
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    count = 0
    for event in _events_until(client, deadline):
        fields = _event_fields(event)
        out.emit({"event": event.name, **fields}, format_event(event.name, fields))
        count += 1
        if args.count is not None and count >= args.count:
            break
    return EXIT_OK


def _daemon_topics(client: Client) -> list[str]:
    topics = client.hello.get("topics")
    return list(topics) if isinstance(topics, list) and topics else list(KNOWN_TOPICS)


def cmd_listen(args: argparse.Namespace, out: Output, client: Client) -> int:
    audio = client.hello.get("audio") if isinstance(client.hello.get("audio"), dict) else {}
    rate = int(audio.get("rate") or 24000)  # the session rate, as the greeting says
    topics = ["audio.output"] + (["response"] if args.replies is not None else [])
    client.subscribe(*topics)
    sink = WavSink(args.output, rate)
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    replies = skipped = dropped = 0
    try:
        out.note(f"recording the assistant to {args.output} ({rate} Hz mono); Ctrl-C to stop")
        for event in _events_until(client, deadline):
            fields = _event_fields(event)
            if event.name == "audio.output":
                if int(fields.get("rate", rate)) != rate or int(fields.get("channels", 1)) != 1:
                    skipped += 1
                    continue
                sink.write(bytes(event.payload or b""))
            elif event.name == "overflow":
                dropped += int(fields.get("dropped_frames", 0))
                out.note(f"the daemon dropped {fields.get('dropped_frames')} audio frame(s): this side read too slowly")
            elif event.name == "response" and _kind(fields) in ("done", "interrupted"):
                replies += 1
                if replies >= args.replies:
                    break
    finally:
        sink.close()
        dropped += client.dropped_events  # this side's own event queue overflowed (it stopped reading)
        summary = {"path": args.output, "rate": rate, "channels": 1, "frames": sink.frames,
                   "seconds": round(sink.seconds, 3), "replies": replies, "dropped_frames": dropped}
        if skipped:
            summary["skipped_frames"] = skipped
        out.emit(summary, None)
        out.note(f"wrote {sink.seconds:.2f} s to {args.output}")
    return EXIT_OK


def cmd_send_audio(args: argparse.Namespace, out: Output, client: Client) -> int:
    wav = fit_for_input(args.wav)
    if args.turn:
        client.turn_start()
    chunk = max(1, int(wav.rate * SEND_CHUNK_S)) * 2 * wav.channels
    started = time.monotonic()
    frames = dropped = sent = 0
    for offset in range(0, len(wav.pcm), chunk):
        piece = wav.pcm[offset:offset + chunk]
        ahead = sent / wav.rate - (time.monotonic() - started)
        if ahead > SEND_AHEAD_S:
            time.sleep(ahead - SEND_AHEAD_S)
        # `end` on the last piece: the daemon's resampler lets its tail out
        result = client.send_audio(piece, wav.rate, wav.channels, end=offset + chunk >= len(wav.pcm))
        sent += len(piece) // (2 * wav.channels)
        frames += int(result.get("frames", 0))
        dropped += int(result.get("dropped", 0))
    if dropped:
        out.note(f"the daemon dropped {dropped} frame(s): more than it holds was waiting to go up")
    summary: dict[str, Any] = {"path": args.input, "rate": wav.rate, "channels": wav.channels,
                               "seconds": round(wav.seconds, 3), "frames_injected": frames, "frames_dropped": dropped}
    if args.turn:
        summary["committed"] = client.turn_end(respond=not args.no_respond)
    human = f"sent {wav.seconds:.2f} s ({wav.rate} Hz, {wav.channels} channel(s))"
    if args.turn:
        human += "; turn committed" if summary["committed"] else "; turn too short: not committed"
    out.emit(summary, human)
    return EXIT_OK


def cmd_set(args: argparse.Namespace, out: Output, client: Client) -> int:
    settings = parse_settings(args.assignments)
    if args.no_wait:
        client.update(**settings)
        out.emit({"updated": settings, "confirmed": None}, "sent " + ", ".join(_flat_keys(settings)))
        return EXIT_OK
    # The daemon checks the settings and sends them; the service may still refuse them (a voice cannot change once
    # the model has spoken), and says so only later: wait for its answer.
    client.subscribe("raw", "error")
    client.update(**settings)
    refusal, confirmed = _await_settings(client, time.monotonic() + args.timeout)
    if refusal is not None:
        raise CliError(f"the service refused the settings, the previous ones stay: {refusal.get('message')} "
                       f"({refusal.get('code')})", EXIT_ERROR)
    if not confirmed:
        out.note(f"sent, but the service did not confirm within {args.timeout:g} s (--timeout)")
    out.emit({"updated": settings, "confirmed": confirmed},
             ("updated " if confirmed else "sent ") + ", ".join(_flat_keys(settings)))
    return EXIT_OK


def _await_settings(client: Client, deadline: float) -> tuple[dict[str, Any] | None, bool]:
    """(the refusal, confirmed): the service's first answer to a settings change, a `session.updated` frame or an
    `error` naming a settings event. The answer is the next one in the service's order, which is ours unless
    another client changed settings (or registered a tool) in the same instant."""
    for event in _events_until(client, deadline):
        fields = _event_fields(event)
        if event.name == "error" and "settings" in str(fields.get("event_id") or ""):
            return fields, False
        if event.name == "raw" and "session.updated" in str(fields.get("frame", "")):
            try:
                if json.loads(fields["frame"]).get("type") == "session.updated":
                    return None, True
            except (ValueError, AttributeError):
                continue
    return None, False


def _flat_keys(settings: dict[str, Any], prefix: str = "") -> Iterator[str]:
    for key, value in settings.items():
        if isinstance(value, dict) and value:
            yield from _flat_keys(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def load_tool_schema(path: str) -> tuple[dict[str, Any], str | None]:
    """A `--schema` file: a JSON Schema of the arguments, or a whole tool definition (`{"name", "description",
    "parameters"}`). Returns (parameters, description from the file)."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise CliError(f"cannot read the schema {path}: {e.strerror or e}") from None
    try:
        schema = json.loads(text)
    except ValueError as e:
        raise CliError(f"the schema {path} is not JSON: {e}") from None
    if not isinstance(schema, dict):
        raise CliError(f"the schema {path} is not a JSON object")
    if isinstance(schema.get("parameters"), dict):  # a tool definition
        description = schema.get("description")
        return schema["parameters"], description if isinstance(description, str) else None
    return schema, None


class ToolRunner:
    """Answers each `tool.call` by running the command, in a thread per call so a slow one delays no other."""

    def __init__(self, client: Client, out: Output, command: list[str], timeout: float) -> None:
        self.client, self.out, self.command, self.timeout = client, out, command, timeout
        self._children: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()

    def start(self, call: dict[str, Any]) -> None:
        threading.Thread(target=self._serve, args=(call,), name=f"{PROG}-call", daemon=True).start()

    def run(self, call: dict[str, Any]) -> tuple[str, bool]:
        """(output, ok) of the command for one call: its stdout, or a JSON error saying what went wrong."""
        env = dict(os.environ, RTAUDIOD_TOOL_NAME=str(call.get("name")), RTAUDIOD_CALL_ID=str(call.get("call_id")))
        try:
            child = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, start_new_session=True)
        except OSError as e:
            return json.dumps({"error": f"cannot run {self.command[0]}: {e.strerror or e}"}), False
        with self._lock:
            self._children.add(child)
        try:
            arguments = call.get("arguments")
            stdin = (arguments if isinstance(arguments, str) else json.dumps(arguments)).encode()
            try:
                stdout, stderr = child.communicate(stdin, timeout=self.timeout)
            except subprocess.TimeoutExpired:
                _kill(child)
                child.communicate()
                return json.dumps({"error": f"the tool's command timed out after {self.timeout:g} s"}), False
        finally:
            with self._lock:
                self._children.discard(child)
        if child.returncode != 0:
            detail = stderr.decode(errors="replace").strip()[-500:]
            return json.dumps({"error": f"the tool's command exited with status {child.returncode}",
                               "stderr": detail}), False
        return stdout.decode(errors="replace").rstrip("\n"), True

    def _serve(self, call: dict[str, Any]) -> None:
        began = time.monotonic()
        output, ok = self.run(call)
        seconds = round(time.monotonic() - began, 3)
        try:
            self.client.tool_result(call["call_id"], output)
            answered = True
        except ControlError as e:
            if e.code in CONNECTION_CODES:
                return  # the connection went: the main loop reports it
            answered = False  # unknown_call: the daemon's tool timeout answered it first
            self.out.note(f"{call.get('name')} {call.get('call_id')}: the answer came too late ({e.code}: {e})")
        self.out.emit({"call_id": call.get("call_id"), "name": call.get("name"), "arguments": call.get("arguments"),
                       "output": output, "ok": ok, "answered": answered, "seconds": seconds}, None)
        if not self.out.json:
            self.out.note(f"{call.get('name')} {call.get('call_id')}: {'ok' if ok else 'failed'} in {seconds:g} s")

    def stop(self) -> None:
        with self._lock:
            children = list(self._children)
        for child in children:
            _kill(child)


def _kill(child: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)  # its own session: the command's children go too
    except ProcessLookupError:
        pass


def cmd_tool(args: argparse.Namespace, out: Output, client: Client) -> int:
    parameters, file_description = args.tool_schema
    client.register_tool(args.name, description=args.description or file_description, parameters=parameters)
    runner = ToolRunner(client, out, args.tool_command, args.call_timeout)
    out.note(f"serving the tool {args.name} with {shlex.join(args.tool_command)}; Ctrl-C to stop")
    try:
        for event in _events_until(client, None):
            fields = _event_fields(event)
            if event.name == "tool.call" and fields.get("name") == args.name:
                runner.start(fields)
    finally:
        runner.stop()
    return EXIT_OK


def cmd_devices(args: argparse.Namespace, out: Output) -> int:
    from rtaudiod.audio import list_devices

    devices = list_devices()
    if not devices:  # a listing of nothing is still a listing: exit 0 (`python -m rtaudiod.audio` is this too)
        out.note("no audio devices (is a sound server running, or a card present?); without one the daemon runs on "
                 "the null backend")
        return EXIT_OK
    if not out.json:
        out.emit(None, f"{'index':>5}  {'in':>3}  {'out':>3}  {'rate':>6}  name")
    for d in devices:
        out.emit({"index": d.index, "name": d.name, "host_api": d.host_api, "max_input_channels": d.max_input_channels,
                  "max_output_channels": d.max_output_channels, "default_rate": d.default_rate},
                 f"{d.index:>5}  {d.max_input_channels:>3}  {d.max_output_channels:>3}  {d.default_rate:>6}  "
                 f"{d.name}" + (f" ({d.host_api})" if d.host_api else ""))
    if not out.json:
        out.emit(None, '\nchoose with audio.input_device / audio.output_device = an index or a part of the name ("USB")')
    return EXIT_OK


# ====================================================================================================== parser
EPILOG = f"""\
exit codes:
  {EXIT_OK}    done
  {EXIT_ERROR}    the daemon answered with an error (its code and message on stderr), or `say` got no reply in time
  {EXIT_USAGE}    usage error (bad arguments, an empty say, an unreadable WAV or schema file, no such directory)
  {EXIT_CONNECT}    cannot connect to the socket (missing, refused, forbidden), or the connection was lost
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C); files written so far are complete

socket: --socket, else $RTAUDIOD_SOCKET, else $XDG_RUNTIME_DIR/rtaudiod/control.sock if it exists,
else {SYSTEM_SOCKET}. The protocol: docs/control-protocol.md.
"""


def _reply_options(p: argparse.ArgumentParser, what: str) -> None:
    """The options of a command that sends something as the user and waits for the reply (say, image)."""
    p.add_argument("--no-wait", action="store_true", help="send and exit; do not wait for the reply")
    p.add_argument("--no-respond", action="store_true", help=f"add the {what} to the conversation without a reply")
    p.add_argument("--reply-timeout", type=_positive, default=60.0, metavar="S",
                   help="give up on the reply after S seconds (default 60)")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not above 0")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is under 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    # The global options are accepted before the subcommand and after it (`rtaudiod-cli status --json`): the
    # subcommands' copies default to SUPPRESS, so they override the top level's only when given.
    common = argparse.ArgumentParser(add_help=False)
    _add_globals(common, argparse.SUPPRESS)
    top = argparse.ArgumentParser(
        prog=PROG, description="Drive a running rtaudiod on its control socket.", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_globals(top, None)
    sub = top.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, help_text: str, **kwargs: Any) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, description=help_text, parents=[common], epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)

    p = add("status", "a summary of the daemon's state, link, listening mode, devices, levels, latency, the "
                      "counters that are not zero and the problems (--verbose: every field; --json: all of it)")
    p.add_argument("--verbose", "-v", action="store_true", help="every field, section by section")

    p = add("say", "send TEXT as the user; wait for the reply and print the assistant's transcript")
    p.add_argument("text", metavar="TEXT")
    _reply_options(p, "text")

    p = add("image", "send a JPEG or PNG image as the user, with TEXT about it (GA dialect); wait for the reply and "
                     "print the assistant's transcript")
    p.add_argument("file", metavar="FILE")
    p.add_argument("text", metavar="TEXT", nargs="?")
    p.add_argument("--detail", choices=("auto", "low", "high"), help="how closely the model looks (default: auto)")
    _reply_options(p, "image")

    p = add("announce", "say TEXT on the device in the session's voice, out of the conversation (never in its "
                        "history); wait until it has played")
    p.add_argument("text", metavar="TEXT")
    p.add_argument("--now", action="store_true", help="interrupt the reply in progress (default: wait for it)")
    p.add_argument("--listen", action="store_true", help="then open the microphone for an answer for the follow-up "
                                                         "window, in every listening mode (push_to_talk: no button, "
                                                         "the service's VAD ends the answer)")
    p.add_argument("--no-wait", action="store_true", help="queue it and exit")
    p.add_argument("--reply-timeout", type=_positive, default=60.0, metavar="S",
                   help="give up waiting after S seconds (default 60)")

    p = add("approve", "answer an MCP tool's approval request (its id from `events tool`): run the call, or --deny")
    p.add_argument("request_id", metavar="ID")
    p.add_argument("--deny", action="store_true", help="decline the call instead")
    p.add_argument("--reason", metavar="TEXT", help="why, for the model")

    p = add("turn", "push-to-talk: start a turn, end it (commit and reply) or cancel it")
    p.add_argument("action", choices=("start", "end", "cancel"))
    p.add_argument("--no-respond", action="store_true", help="end: commit without asking for a reply")

    add("cancel", "cancel the reply in progress (what was not heard is truncated)")
    add("mute", "mute the microphone")
    add("unmute", "unmute the microphone")
    add("stop", "stop playback now (playback.stop)")

    p = add("mode", "show the listening mode, or switch it: always (stream), wake_word (only after the wake word), "
                    "push_to_talk (only between turn start and end)")
    p.add_argument("mode", nargs="?", choices=("always", "wake_word", "push_to_talk"))

    p = add("events", "print events as they happen, one a line, until Ctrl-C (default: every topic but "
                      "audio.output and raw)")
    p.add_argument("topics", nargs="*", metavar="TOPIC")
    p.add_argument("--count", type=_count, metavar="N", help="exit after N events")
    p.add_argument("--seconds", type=_positive, metavar="S", help="exit after S seconds")

    p = add("listen", "record the assistant's audio to a WAV (session rate, mono) until Ctrl-C")
    p.add_argument("output", metavar="OUT.wav")
    p.add_argument("--seconds", type=_positive, metavar="S", help="stop after S seconds")
    p.add_argument("--replies", type=_count, metavar="N", help="stop after N replies have ended")

    p = add("send-audio", "send a WAV (any rate, channels, sample format; - for stdin) as microphone input")
    p.add_argument("input", metavar="IN.wav")
    p.add_argument("--turn", action="store_true", help="wrap it in a push-to-talk turn (start, audio, end)")
    p.add_argument("--no-respond", action="store_true", help="with --turn: commit without asking for a reply")

    p = add("set", "update session settings: KEY=VALUE... (values are JSON when they parse, else strings; "
                   "a nested key as turn_detection.type=none sets that group to just what is given)")
    p.add_argument("assignments", nargs="+", metavar="KEY=VALUE")
    p.add_argument("--no-wait", action="store_true",
                   help="do not wait for the service to accept them (it may refuse what the daemon let through)")

    p = add("tool", "serve a tool the model can call")
    tool_sub = p.add_subparsers(dest="tool_action", metavar="ACTION", required=True)
    serve = tool_sub.add_parser(
        "serve", parents=[common], epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        usage=f"{PROG} tool serve [-h] [options] NAME --schema FILE -- COMMAND [ARGS...]",
        help="register NAME and answer each call by running COMMAND (arguments JSON on stdin, its stdout "
             "the output) until Ctrl-C",
        description="Register the tool NAME and answer each of the model's calls of it by running COMMAND with "
                    "the call's arguments (JSON) on stdin; its stdout is the output. A non-zero exit or a "
                    "timeout answers with an error output. $RTAUDIOD_TOOL_NAME and $RTAUDIOD_CALL_ID are set. "
                    f"Example: {PROG} tool serve get_time --schema time.json -- date +%H:%M")
    serve.add_argument("name", metavar="NAME")
    serve.add_argument("--schema", required=True, metavar="FILE",
                       help="JSON Schema of the arguments, or a tool definition with 'parameters'")
    serve.add_argument("--description", metavar="D", help="what the tool does, for the model")
    serve.add_argument("--call-timeout", type=_positive, default=10.0, metavar="S",
                       help="kill COMMAND after S seconds and answer with an error (default 10)")
    # COMMAND [ARGS...] is what follows the first `--`: `main` cuts it off before argparse sees it (argparse's
    # REMAINDER would swallow the options written after NAME).

    add("devices", "list the audio devices (no daemon needed)")
    return top


def _add_globals(parser: argparse.ArgumentParser, default: Any) -> None:
    def d(value: Any) -> Any:
        return value if default is None else default
    parser.add_argument("--socket", metavar="PATH", default=d(None),
                        help="the control socket (default: $RTAUDIOD_SOCKET, $XDG_RUNTIME_DIR/rtaudiod/control.sock, "
                             f"{SYSTEM_SOCKET})")
    parser.add_argument("--json", action="store_true", default=d(False),
                        help="machine-readable output: one JSON object a line")
    parser.add_argument("--timeout", type=_positive, default=d(10.0), metavar="S",
                        help="seconds to wait to connect and for each answer (default 10)")


COMMANDS: dict[str, Callable[[argparse.Namespace, Output, Client], int]] = {
    "status": cmd_status, "say": cmd_say, "image": cmd_image, "announce": cmd_announce, "approve": cmd_approve, "turn": cmd_turn, "cancel": cmd_cancel, "mute": cmd_mute,
    "unmute": cmd_mute, "stop": cmd_stop, "mode": cmd_mode, "events": cmd_events, "listen": cmd_listen,
    "send-audio": cmd_send_audio, "set": cmd_set, "tool": cmd_tool,
}


def _check_local(args: argparse.Namespace) -> None:
    """What can be checked before connecting: a usage error should not depend on the daemon running."""
    if args.command == "tool":
        command = args.tool_command
        if not command:
            raise CliError(f"tool serve: no COMMAND (write it after --: {PROG} tool serve NAME --schema FILE -- CMD)")
        if shutil.which(command[0]) is None:
            raise CliError(f"tool serve: {command[0]!r} is not an executable (not found on $PATH)")
        args.tool_schema = load_tool_schema(args.schema)
    elif args.command == "set":
        parse_settings(args.assignments)
    elif args.command == "send-audio":
        args.wav = read_wav(args.input)
    elif args.command == "image":
        args.image = read_image(args.file)
        if args.text is not None and not args.text.strip():
            raise CliError("image: TEXT is empty: leave it out, or say what to ask about the image")
    elif args.command == "say" and not args.text.strip():
        raise CliError("say: TEXT is empty: there is nothing to say")
    elif args.command == "listen":
        folder = os.path.dirname(os.path.abspath(args.output))
        if not os.path.isdir(folder):
            raise CliError(f"cannot write {args.output}: no directory {folder}")


def connect(path: str, timeout: float) -> Client:
    """A connected client, or CliError(EXIT_CONNECT) with what to check."""
    from rtaudiod.control import Client

    hint = ("is rtaudiod running? Check --socket or $RTAUDIOD_SOCKET "
            f"(default {SYSTEM_SOCKET}, or $XDG_RUNTIME_DIR/rtaudiod/control.sock for a user unit)")
    try:
        return Client(path, timeout=timeout)
    except ControlError as e:
        cause = e.__cause__
        if isinstance(cause, FileNotFoundError):
            why = f"no such socket; {hint}"
        elif isinstance(cause, ConnectionRefusedError):
            why = ("connection refused: the socket file is there but no daemon listens on it (rtaudiod stopped or "
                   "crashed: `systemctl status rtaudiod`)")
        elif isinstance(cause, PermissionError):
            why = (f"permission denied: the socket is mode 0660, so run as a member of its group (`ls -l {path}`) "
                   "or add your user to that group")
        elif isinstance(cause, OSError):
            why = f"{cause.strerror or cause}; {hint}"
        elif e.code == "forbidden":
            why = (f"the daemon refused this user (uid {os.getuid()}): {e}; add the uid or one of its groups to "
                   "allowed_uids / allowed_gids in rtaudiod's config")
        elif e.code == "no_reply":
            why = f"no greeting within {timeout:g} s (is it an rtaudiod socket? --timeout)"
        elif e.code == "disconnected":
            why = "the daemon closed the connection before its greeting"
        else:
            why = f"{e} ({e.code})"
        raise CliError(f"cannot connect to {path}: {why}", EXIT_CONNECT) from None


def _parse(argv: list[str]) -> argparse.Namespace:
    """`tool serve`'s COMMAND is everything after the first `--`; any other command sees argv whole (where `--`
    keeps its usual meaning: `say -- -5 degrees`)."""
    parser = build_parser()
    cut = argv.index("--") if "--" in argv else -1
    if cut >= 0 and "tool" in argv[:cut] and "serve" in argv[argv.index("tool"):cut]:
        args, extra = parser.parse_known_args(argv[:cut])
        if args.command == "tool" and not extra:
            args.tool_command = argv[cut + 1:]
            return args
    args = parser.parse_args(argv)
    if args.command == "tool":
        args.tool_command = []
    return args


def main(argv: list[str] | None = None) -> int:
    """Parse, run one subcommand, return its exit code. Expected failures print one line on stderr."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = _parse(argv)
    except SystemExit as e:  # --help (0) or a usage error (2), already printed by argparse
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    out = Output(args.json)
    client = None
    try:
        if args.command == "devices":
            return cmd_devices(args, out)
        _check_local(args)
        path = args.socket or default_socket()
        client = connect(path, args.timeout)
        return COMMANDS[args.command](args, out, client)
    except CliError as e:
        out.note(str(e))
        return e.code
    except ControlError as e:
        if e.code == "no_reply":
            out.note(f"the daemon did not answer: {e} (--timeout)")
            return EXIT_CONNECT
        if e.code in CONNECTION_CODES:  # the client's own: the connection ended
            out.note(f"lost the connection to the daemon: {e}")
            return EXIT_CONNECT
        out.note(f"error from the daemon ({e.code}): {e}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `rtaudiod-cli events | head`: the reader left, which is not a failure
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    finally:
        if client is not None:
            with _no_interrupt():  # a second Ctrl-C while closing must not end in a traceback
                client.close()


@contextlib.contextmanager
def _no_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    sys.exit(main())
