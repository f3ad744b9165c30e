"""No echo canceller in the pure-Python build, on purpose.

Every other accelerated function has a readable twin here. The echo canceller does not: it is libwebrtc-audio-
processing's or libspeexdsp's adaptive filter, run by csrc/rta_echo.c inside the C capture callback, and a Python
port would be neither a faithful oracle (a different filter) nor usable in real time. Its oracle is the harness
instead: echo paths built from known parts (tests/echo/echopaths.py), where the echo and the person are known
separately and the figures (ERLE, double talk) are measured against them.

So the twins build runs with `audio.echo_cancel = "off"` (or the sound server's canceller, "system"), `auto` says why
in its log line, and `internal` is refused at configuration time (rtaudiod/audio/echo.py). This class is the same
refusal for code that asks the twins for a canceller directly.
"""

from rtaudiod.audio.echo import INTERNAL_REFUSED

ENGINES: tuple[str, ...] = ()
DEFAULT_ENGINE = None


class EchoCanceller:
    """Refuses to exist: see the module docstring."""

    def __init__(self, rate: int, engine: str | None = None, **options: object) -> None:
        raise RuntimeError(INTERNAL_REFUSED)
