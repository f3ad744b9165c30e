"""The output stream's role for the sound server (PulseAudio / PipeWire's pulse server `media.role`).

A sound server with role-based ducking (PulseAudio's `module-role-ducking`) lowers the `music` and `video` streams
while a `phone` stream plays; `module-role-cork` (loaded by PulseAudio's stock default.pa) pauses them. PortAudio
reaches the server through ALSA's pulse plugin, which has no setting for it, but the plugin's PulseAudio client
takes `PULSE_PROP` from the environment when it connects (at the stream's open) and its stream inherits the
client's properties: measured here, the playout stream's sink input showed `media.role = "phone"`, and a `music`
stream on the same sink came out 20 dB lower (module-role-ducking volume=-20dB) while it ran, and back when it was
stopped (corked) or closed. So the variable is set only around opening the output stream (the microphone's stream
gets no role: a `phone` capture stream makes PulseAudio's filter heuristics load its own echo canceller), and the
engine stops the output stream while there is nothing to play (engine.py), or the server would duck for as long as
the daemon runs.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterator

__all__ = ["ROLE", "media_role_env"]

#: A role as the sound servers name them: `phone`, `announce`, `a11y`, `event`, ...
ROLE = re.compile(r"[a-z][a-z0-9_-]{0,31}\Z")
_ENV_LOCK = threading.Lock()  # one open at a time changes the environment


@contextlib.contextmanager
def media_role_env(role: str | None) -> Iterator[None]:
    """`PULSE_PROP` with `media.role=<role>` added (to what the user set) while the block runs; nothing for None."""
    if role is None:
        yield
        return
    with _ENV_LOCK:
        before = os.environ.get("PULSE_PROP")
        os.environ["PULSE_PROP"] = f"{before} media.role={role}" if before else f"media.role={role}"
        try:
            yield
        finally:
            if before is None:
                del os.environ["PULSE_PROP"]
            else:
                os.environ["PULSE_PROP"] = before
