"""The reference to beat: PulseAudio's module-echo-cancel (webrtc) on a real-time echo path (TESTING.md, "An echo
path"), and rtaudiod's engines on the very same recording.

A private PulseAudio (tests/pulse_server.py: null sinks rtspk, the speaker, and rtmic, the room, 48 kHz) with
  module-echo-cancel aec_method=webrtc source_master=rtmic.monitor sink_master=rtspk   (rt_aec_sink, rt_aec_src)
  module-loopback source=rtspk.monitor sink=rtmic latency_msec=DELAY, its volume at -10 dB  (the echo path)
The reply is played into rt_aec_sink (so the canceller sees it as the far end) and the person into rtmic from 16 s.
Recorded at once: rtspk.monitor (the reference as played), rtmic.monitor (the microphone), rt_aec_src (cancelled).
The person's part of the microphone is the known voice found in it by cross-correlation, the echo the rest (the path
has no noise), so echopaths' figures apply unchanged. The sound server's output is aligned to the microphone by the
person's voice in both (its own latency is therefore not measured). Takes the scene's length in real time.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "echo"))
import echopaths as ep  # noqa: E402
import pulse_server  # noqa: E402

RATE = pulse_server.RATE


def _lag(a: np.ndarray, b: np.ndarray, max_lag: int) -> int:
    """The lag L (|L| <= max_lag) maximising sum a[t] b[t - L]: b delayed by L matches a."""
    n = 1 << (a.size + b.size).bit_length()
    c = np.fft.irfft(np.fft.rfft(a.astype(np.float64), n) * np.conj(np.fft.rfft(b.astype(np.float64), n)), n)
    lags = np.r_[np.arange(0, max_lag + 1), np.arange(-max_lag, 0)]
    return int(lags[np.argmax(c[lags])])


def _shift(x: np.ndarray, lag: int, size: int) -> np.ndarray:
    """x delayed by lag samples (advanced when negative), cut or padded to size."""
    out = np.zeros(size)
    src = x[max(0, -lag):]
    dst = max(0, lag)
    n = max(0, min(size - dst, src.size))
    out[dst:dst + n] = src[:n]
    return out


def pulse_run(seconds: float = 25.0, delay_ms: int = 120, person_at_s: float = 16.0) -> tuple[ep.Scene, np.ndarray]:
    """(the scene as the sound server made it, module-echo-cancel's output aligned to its microphone)."""
    reply = np.round(ep.reply(RATE, seconds)).astype("<i2")
    voice = ep.espeak(ep.PERSON_TEXT, RATE, ep.PERSON_VOICE).astype(np.float64)
    voice = np.round(voice * (8000.0 / np.max(np.abs(voice)))).astype("<i2")
    mono = ["--rate=48000", "--channels=1", "--format=s16le", "--raw"]
    with pulse_server.running_pulse_server() as server:
        server.pactl("load-module", "module-echo-cancel", "aec_method=webrtc", "source_master=rtmic.monitor",
                     "sink_master=rtspk", "source_name=rt_aec_src", "sink_name=rt_aec_sink", "rate=48000", "channels=1",
                     # the canceller alone: no gain control (it would rescale the output the ERLE is measured on)
                     "aec_args=\"analog_gain_control=0 digital_gain_control=0 extended_filter=1\"")
        loop = server.pactl("load-module", "module-loopback", "source=rtspk.monitor", "sink=rtmic",
                            f"latency_msec={delay_ms}").strip()
        # the loopback's sink input (its "Owner Module") at -10 dB: the echo path's attenuation
        for block in server.pactl("list", "sink-inputs").split("Sink Input #")[1:]:
            if f"Owner Module: {loop}\n" in block:
                server.pactl("set-sink-input-volume", block.split("\n", 1)[0].strip(), "-10dB")
        recs = {name: server.record(name) for name in ("rtspk.monitor", "rtmic.monitor", "rt_aec_src")}
        time.sleep(0.5)
        player = subprocess.Popen(["pacat", "--playback", "-d", "rt_aec_sink", "--latency-msec=200", *mono],
                                  stdin=subprocess.PIPE, stderr=subprocess.DEVNULL, env=server.env)

        def person() -> None:
            time.sleep(person_at_s)
            p = subprocess.Popen(["pacat", "--playback", "-d", "rtmic", "--latency-msec=200", *mono],
                                 stdin=subprocess.PIPE, stderr=subprocess.DEVNULL, env=server.env)
            p.communicate(voice.tobytes(), timeout=60)

        talker = threading.Thread(target=person, daemon=True)
        talker.start()
        player.communicate(reply.tobytes(), timeout=seconds + 30)
        talker.join(60)
        time.sleep(0.5)
        got = {name: rec.stop().samples.mean(axis=1) for name, rec in recs.items()}
    ref, mic, out = got["rtspk.monitor"], got["rtmic.monitor"], got["rt_aec_src"]
    # Everything on the microphone's time line: the reference by the echo (before the person), the person's voice
    # and the canceller's output by the voice.
    start = _lag(mic[: int(person_at_s * RATE) + RATE], ref[: int(person_at_s * RATE)], RATE // 2) - int(
        delay_ms * RATE / 1000)
    size = mic.size
    ref = _shift(ref, start, size)
    at = _lag(mic[int((person_at_s - 1) * RATE):], voice, 3 * RATE) + int((person_at_s - 1) * RATE)
    person = _shift(voice.astype(np.float64), at, size)
    out = _shift(out, _lag(mic[at:at + voice.size], out[at:at + voice.size], RATE // 2), size)
    echo = mic - person
    scene = ep.Scene("pulse loopback", RATE, np.clip(np.round(ref), -32768, 32767).astype("<i2"),
                     np.clip(np.round(mic), -32768, 32767).astype("<i2"), echo, person,
                     (at, min(size, at + voice.size)), float(delay_ms))
    return scene, np.clip(np.round(out), -32768, 32767).astype("<i2")
