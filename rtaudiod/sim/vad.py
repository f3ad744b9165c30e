"""Server VAD: an energy detector over 10 ms frames of the input stream, driven by the session's `turn_detection`.

How `threshold` (0.0-1.0, default 0.5) maps to energy: a frame is speech when its RMS level is at least
`-60 + 50 * threshold` dBFS (0.0 → -60 dBFS, 0.5 → -35 dBFS, 0.8 → -20 dBFS, 1.0 → -10 dBFS). Higher threshold,
louder speech needed, as the service documents.

Times are milliseconds of the whole input stream of the session (every byte appended, committed or cleared), like
the service's `audio_start_ms` / `audio_end_ms`:
- speech starts at the first speech frame; `audio_start_ms` reaches back `prefix_padding_ms` before it (never before
  the end of the previous turn);
- speech stops once `silence_duration_ms` of non-speech frames have followed it; `audio_end_ms` is the end of that
  silence (the service's figure "includes the silence duration").
"""

import math

from . import formats

FRAME_MS = 10


def threshold_dbfs(threshold: float) -> float:
    """The frame level, in dBFS, at and above which a frame counts as speech."""
    return -60.0 + 50.0 * threshold


def frame_dbfs(pcm: bytes) -> float:
    """RMS level of a frame of 16-bit samples in dB relative to full scale (-inf for digital silence)."""
    level = formats.rms(pcm)
    return 20.0 * math.log10(level / 32768.0) if level > 0 else float("-inf")


class Vad:
    """Incremental detector: `feed()` bytes of any size, get back the turn boundaries they complete."""

    def __init__(self, fmt: str, threshold: float = 0.5, prefix_padding_ms: int = 300,
                 silence_duration_ms: int = 500, origin_ms: int = 0) -> None:
        self.fmt = fmt
        self.level_db = threshold_dbfs(threshold)
        self.prefix_padding_ms = prefix_padding_ms
        self.silence_duration_ms = silence_duration_ms
        self._frame_bytes = int(formats.bytes_per_ms(fmt) * FRAME_MS)
        self._pending = b""
        self._origin_ms = origin_ms  # stream time at which this detector started listening
        self._frames = 0             # whole frames consumed since then
        self.speaking = False
        self._silent_frames = 0
        self._floor_ms = origin_ms   # a turn never reaches back before the end of the previous one

    @property
    def position_ms(self) -> int:
        """Stream time up to which audio has been examined."""
        return self._origin_ms + self._frames * FRAME_MS

    def reset(self, at_ms: int) -> None:
        """Forget a turn in progress (the client committed or cleared the buffer at `at_ms`)."""
        self.speaking = False
        self._silent_frames = 0
        self._floor_ms = max(self._floor_ms, at_ms)

    def feed(self, data: bytes) -> list[tuple[str, int]]:
        """Examine appended wire audio; returns `("started", audio_start_ms)` / `("stopped", audio_end_ms)` events."""
        events: list[tuple[str, int]] = []
        buf = self._pending + data
        usable = len(buf) - len(buf) % self._frame_bytes
        for offset in range(0, usable, self._frame_bytes):
            pcm = formats.to_linear16(buf[offset:offset + self._frame_bytes], self.fmt)
            is_speech = frame_dbfs(pcm) >= self.level_db
            start_ms = self.position_ms
            self._frames += 1
            if not self.speaking:
                if is_speech:
                    self.speaking = True
                    self._silent_frames = 0
                    events.append(("started", max(self._floor_ms, start_ms - self.prefix_padding_ms)))
                continue
            self._silent_frames = 0 if is_speech else self._silent_frames + 1
            if self._silent_frames * FRAME_MS >= self.silence_duration_ms:
                end_ms = self.position_ms
                self.speaking = False
                self._silent_frames = 0
                self._floor_ms = end_ms
                events.append(("stopped", end_ms))
        self._pending = buf[usable:]
        return events
