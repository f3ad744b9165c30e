"""The workloads: what the microphone says, in which format, and for how long.

The microphone source is a WAV file at the session rate (mono, 16-bit), written once per run and read by every
contender: rtaudiod through its wav backend, the peers through their paced microphone thread. It is espeak-ng
speech, looped with silences: long enough that each reply plays to its end (duplex), or short enough that the next
utterance interrupts each reply (barge-in every turn); or silence only (wake-word mode, nobody speaking).
"""

from __future__ import annotations

import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

UTTERANCE = "What is the weather like in the mountains today?"
LEAD_IN_S = 1.0  # silence before the first utterance (the session settles)
#: A sound card's format, the PulseAudio test server's sinks' (tests/pulse_server.py) and the null speaker's.
DEVICE_RATE, DEVICE_CHANNELS = 48000, 2


@dataclass(frozen=True)
class Workload:
    name: str
    fmt: str  # the wire format: pcm16 (24 kHz) or g711_ulaw (8 kHz)
    gap_s: float | None  # silence after each utterance; None: no speech at all
    listen_mode: str = "always"  # rtaudiod's [listen] mode

    @property
    def rate(self) -> int:
        return 24000 if self.fmt == "pcm16" else 8000


# The sim's reply to ~2.5 s of speech ("Simulator heard 2.5 seconds of audio.") plays ~2 s, starting ~1.3 s after
# the speech ends (500 ms VAD silence, 0.5 s to the first audio): 4.5 s of silence lets it finish; with 2.0 s the next
# utterance starts ~0.7 s into the reply.
WORKLOADS = {w.name: w for w in (
    Workload("duplex", "pcm16", 4.5),
    Workload("barge_in", "pcm16", 2.0),
    Workload("ulaw", "g711_ulaw", 4.5),
    Workload("wake_word", "pcm16", None, listen_mode="wake_word"),
)}


def speech(text: str, rate: int) -> bytes:
    """espeak-ng speech through sox, 16-bit mono at `rate` (TESTING.md's recipe)."""
    if not (shutil.which("espeak-ng") and shutil.which("sox")):
        raise RuntimeError("espeak-ng and sox are required (scripts/install-system-deps)")
    wav = subprocess.run(["espeak-ng", "--stdout", text], check=True, capture_output=True, timeout=30).stdout
    return subprocess.run(["sox", "-t", "wav", "-", "-t", "raw", "-r", str(rate), "-c", "1", "-b", "16",
                           "-e", "signed-integer", "-"], input=wav, check=True, capture_output=True,
                          timeout=30).stdout


def write_mic(workload: Workload, seconds: float, path: Path) -> dict:
    """The microphone's WAV for `seconds` of session; returns what it holds (utterances, speech seconds)."""
    rate = workload.rate
    total = int(seconds * rate) * 2
    pcm = bytearray(int(LEAD_IN_S * rate) * 2)
    utterances = 0
    if workload.gap_s is not None:
        turn = speech(UTTERANCE, rate) + bytes(int(workload.gap_s * rate) * 2)
        while len(pcm) < total:
            pcm += turn
            utterances += 1
    pcm = bytes(pcm[:total]).ljust(total, b"\0")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return {"path": str(path), "rate": rate, "seconds": seconds, "utterances": utterances}


def read_mic(path: str) -> tuple[bytes, int]:
    """(PCM16 mono, rate) of a microphone WAV."""
    with wave.open(path, "rb") as w:
        return w.readframes(w.getnframes()), w.getframerate()


def as_sound_card(path: str, rate: int = DEVICE_RATE, channels: int = DEVICE_CHANNELS) -> bytes:
    """A microphone WAV's speech as a sound card delivers it: interleaved PCM16 at `rate` with `channels` (sample
    and channel repeat, no filter: the server VAD only needs speech energy, and every row gets the same bytes)."""
    import numpy as np  # the harness's process, never a contender's

    pcm, mic_rate = read_mic(path)
    up = np.repeat(np.frombuffer(pcm, "<i2"), rate // mic_rate)
    return np.repeat(up[:, None], channels, axis=1).astype("<i2").tobytes()


def write_sound_card_mic(path: str, out: Path) -> str:
    """The microphone WAV at the sound card's format (as_sound_card), for the null row that compares with the
    PulseAudio rows: the same device formats both ways, so the rows differ by the way to the device only."""
    with wave.open(str(out), "wb") as w:
        w.setnchannels(DEVICE_CHANNELS)
        w.setsampwidth(2)
        w.setframerate(DEVICE_RATE)
        w.writeframes(as_sound_card(path))
    return str(out)
