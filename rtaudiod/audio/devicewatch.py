"""DeviceWatch: notices a device that went away (a USB speaker or microphone unplugged, a sound server's sink
unloaded) and reopens it when it comes back.

PortAudio stops a stream whose device failed (measured on PulseAudio: unloading the null sink made both streams
inactive at once, and they stayed inactive after the sink returned), and says nothing else. So one thread looks at
the engine's streams every `check_s` seconds; a stream that is open but no longer active is closed and reported
lost, and reopened every `retry_s` seconds until it opens again. It sleeps in between (no busy loop while a device
is gone), and it never touches a stream the engine stopped on purpose (stop() sets it to None; an output paused
while idle is `output_paused`). The same thread pauses that idle output (`engine.pause_when_idle`).

Reports go to `on_change(kind, lost, message)` ("input" / "output"; lost True or False) on the watch thread, and
`engine.lost_devices` holds what is gone now (kind -> the reason), for status.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rtaudiod.audio.errors import AudioDeviceError

if TYPE_CHECKING:
    from rtaudiod.audio.engine import AudioEngine

log = logging.getLogger("rtaudiod.audio")

DeviceListener = Callable[[str, bool, str], None]


class DeviceWatch:
    def __init__(self, engine: AudioEngine, check_s: float = 0.5, retry_s: float = 2.0) -> None:
        self.engine = engine
        self.check_s, self.retry_s = check_s, retry_s
        self.reopened = 0  # devices brought back
        self._next_try: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rtaudiod-audio-watch", daemon=True)

    def start(self) -> DeviceWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(5)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.wait(self.check_s):
            try:
                self.engine.pause_when_idle()  # the output stream of a device with a media role (engine.py)
            except Exception:
                log.exception("audio device watch: pausing the idle output failed")
            for kind in ("output", "input"):
                try:
                    self._check(kind)
                except Exception:  # a bug here must not end the watch: the next check tries again
                    log.exception("audio device watch: checking the %s failed", kind)

    def _check(self, kind: str) -> None:
        engine = self.engine
        lost = engine.lost_devices
        if kind not in lost:
            stream = getattr(engine, f"{kind}_stream")
            if stream is None or stream.active or (kind == "output" and engine.output_paused):
                return
            reason = f"the {kind} device {stream.device.name!r} stopped (unplugged, or its sound server lost it)"
            if not engine.drop_stream(kind, stream, reason):
                return  # the engine stopped or replaced it meanwhile
            self._next_try[kind] = time.monotonic() + self.retry_s
            log.warning("%s; retrying every %g s", reason, self.retry_s)
            self._tell(kind, True, reason)
        elif time.monotonic() >= self._next_try.get(kind, 0.0):
            self._next_try[kind] = time.monotonic() + self.retry_s
            try:
                if not engine.reopen_stream(kind):
                    return  # stopped meanwhile
            except AudioDeviceError as e:
                lost[kind] = f"{lost[kind].split(';')[0]}; reopening failed: {str(e).splitlines()[0]}"
                return
            self.reopened += 1
            message = f"the {kind} device is back: reopened"
            log.warning("%s", message)
            self._tell(kind, False, message)

    def _tell(self, kind: str, lost: bool, message: str) -> None:
        listener = self.engine.on_device
        if listener is not None:
            try:
                listener(kind, lost, message)
            except Exception:
                log.exception("an audio device listener failed")
