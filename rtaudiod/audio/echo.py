"""Which echo canceller runs, and the one line the daemon logs to say why (`audio.echo_cancel`, docs/echo.md).

    auto      the sound server's echo-cancelled source when the configured microphone is one; else the internal
              canceller (csrc/rta_echo.c, in the capture callback) when the daemon plays to the speaker and records
              the microphone itself; else none
    internal  the internal canceller (refused in the pure-Python build: it is C only)
    system    the sound server's canceller: the microphone configured is its echo-cancelled source
    off       no canceller (today's behaviour; half_duplex is the other fallback)

`choose()` is a pure function of what the caller found; `probe_sound_server()` asks a PulseAudio or PipeWire server
(pactl) which of its sources are echo-cancelled and which one a `pulse`/`default` device records from.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

EchoCancelMode = Literal["auto", "internal", "system", "off"]
ECHO_CANCEL_MODES: tuple[str, ...] = ("auto", "internal", "system", "off")

# The PortAudio/ALSA device names that reach the sound server's default (or PULSE_SOURCE) source.
SOUND_SERVER_DEVICES = ("pulse", "default", "pipewire")


def internal_available() -> bool:
    """The internal canceller is C: present when the C extension is in use and was built with it."""
    from rtaudiod import _backend

    if _backend.backend() != "c":
        return False
    try:
        from rtaudiod._ext import _echo  # noqa: F401
    except ImportError:
        return False
    return True


INTERNAL_REFUSED = ('audio.echo_cancel = "internal" needs the C extension, and this build runs the pure-Python '
                    'twins (RTAUDIOD_NO_EXT=1, or the extension did not build): the canceller is C only. '
                    'Use "auto", "system" or "off" (or half_duplex = true)')


@dataclass(frozen=True)
class SoundServer:
    """What a sound server offers: its echo-cancelled sources, and the source a `pulse`/`default` device records
    from (PULSE_SOURCE when set, else the server's default). Empty when there is no server."""

    echo_sources: frozenset[str] = field(default_factory=frozenset)
    default_source: str | None = None


@dataclass(frozen=True)
class EchoChoice:
    """The canceller that runs ("internal", "system" or "off") and why, in one line for the log and `status`."""

    canceller: Literal["internal", "system", "off"]
    reason: str


def names_sound_server(device: int | str | None) -> bool:
    """The device is the sound server's default sink or source (under PortAudio's ALSA plugin and natively)."""
    return device is None or (isinstance(device, str) and device.lower() in SOUND_SERVER_DEVICES)


def _system_source(input_device: int | str | None, server: SoundServer) -> str | None:
    """The echo-cancelled source the configured microphone records from, if it is one."""
    if not server.echo_sources:
        return None
    if isinstance(input_device, str):
        named = [s for s in server.echo_sources if input_device.lower() in s.lower()]
        if named:
            return sorted(named)[0]
    if names_sound_server(input_device) and server.default_source in server.echo_sources:
        return server.default_source
    return None


def choose(mode: str, *, backend: str, capture: bool, playout: bool, input_device: int | str | None,
           server: SoundServer, internal: bool | Callable[[], bool], half_duplex: bool = False,
           engine: str = "webrtc", realtime: bool = True) -> EchoChoice:
    """The canceller for `mode` given the configured devices, the sound server and whether the C canceller exists
    (`internal`, or a function asked only when the answer matters: it loads the canceller's library, ~1.4 MB resident
    a daemon with `echo_cancel = "off"` or on the null backend never needs).

    Raises ValueError for `internal` where it cannot run (the pure-Python build), with the message to show."""
    if mode not in ECHO_CANCEL_MODES:
        raise ValueError(f"audio.echo_cancel must be one of {', '.join(map(repr, ECHO_CANCEL_MODES))}, got {mode!r}")
    if mode == "off":
        return EchoChoice("off", 'echo cancellation off (audio.echo_cancel = "off")'
                          + ("; half_duplex gates the microphone while the speaker plays" if half_duplex else ""))

    def has_internal() -> bool:
        return internal if isinstance(internal, bool) else internal()

    if mode == "internal" and not has_internal():
        raise ValueError(INTERNAL_REFUSED)
    system_source = _system_source(input_device, server)
    if mode == "system":
        if system_source:
            return EchoChoice("system", f"the sound server cancels the echo: the microphone is its echo-cancelled "
                              f"source {system_source!r}")
        found = ", ".join(sorted(server.echo_sources)) or "none found"
        return EchoChoice("system", 'audio.echo_cancel = "system": trusting the sound server to cancel the echo '
                          f"(echo-cancelled sources: {found}; the microphone configured is {input_device!r})")
    if mode == "internal":
        return EchoChoice("internal", f'the internal canceller ({engine}; audio.echo_cancel = "internal")'
                          + (f", although the microphone is already the sound server's echo-cancelled source "
                             f"{system_source!r}" if system_source else ""))
    # auto
    if system_source:
        return EchoChoice("system", f"the sound server cancels the echo: the microphone is its echo-cancelled "
                          f"source {system_source!r}")
    if backend == "null" or not capture or not playout:
        what = "the null backend captures silence" if backend == "null" else (
            "capture is off" if not capture else "playout is off")
        return EchoChoice("off", f"no echo to cancel: {what}")
    if not realtime:
        return EchoChoice("off", "no echo to cancel: the wav backend runs faster than real time (audio.realtime = "
                          "false), so its microphone is not paced with its speaker")
    if half_duplex:
        return EchoChoice("off", "half_duplex is on: the microphone is gated while the speaker plays "
                          '(set audio.echo_cancel = "internal" to cancel as well)')
    if not has_internal():
        return EchoChoice("off", "no echo canceller: this build runs the pure-Python twins (the canceller is C) "
                          "and the microphone is not a sound server's echo-cancelled source; consider half_duplex")
    return EchoChoice("internal", f"the internal canceller ({engine}): the daemon plays to the speaker and records "
                      "the microphone itself, and the microphone is not a sound server's echo-cancelled source")


def probe_sound_server(env: dict[str, str] | None = None, timeout: float = 2.0) -> SoundServer:
    """Ask the sound server (pactl: PulseAudio, or PipeWire's pulse server) for its echo-cancelled sources and the
    source a `pulse`/`default` device records from. An empty SoundServer when there is no pactl or no server."""
    env = dict(os.environ if env is None else env)
    pactl = shutil.which("pactl", path=env.get("PATH"))
    if not pactl:
        return SoundServer()
    try:
        sources = subprocess.run([pactl, "list", "short", "sources"], env=env, capture_output=True, text=True,
                                 timeout=timeout)
        default = subprocess.run([pactl, "get-default-source"], env=env, capture_output=True, text=True,
                                 timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return SoundServer()
    if sources.returncode != 0:
        return SoundServer()
    return SoundServer(echo_sources=frozenset(echo_sources(sources.stdout)),
                       default_source=env.get("PULSE_SOURCE") or default.stdout.strip() or None)


def echo_sources(pactl_short_sources: str) -> list[str]:
    """The echo-cancelled sources in `pactl list short sources` output (index, name, driver, format, state):
    PulseAudio's module-echo-cancel names its driver, PipeWire's echo-cancel its source."""
    found = []
    for line in pactl_short_sources.splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or parts[1].endswith(".monitor"):  # a monitor hears the speaker, not the room
            continue
        if "echo-cancel" in parts[2] or "echo-cancel" in parts[1] or "echo_cancel" in parts[1]:
            found.append(parts[1])
    return found
