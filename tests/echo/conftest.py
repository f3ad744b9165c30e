"""Echo tests: the private PulseAudio server (tests/pulse_server.py), and `canceller` for the C-only tests."""

import os
import sys

import pytest

import rtaudiod

sys.path.insert(0, os.path.dirname(__file__))  # echopaths

from pulse_server import pulse_server  # noqa: E402,F401 - the session fixture

SLOW = os.environ.get("RTAUDIOD_SLOW", "") not in ("", "0")


@pytest.fixture
def c_canceller():
    """The C canceller's class. The canceller has no pure-Python twin (rtaudiod/_py/echo.py says why), so the
    RTAUDIOD_NO_EXT=1 run skips these tests and checks that `internal` is refused instead (test_echo_config.py)."""
    if rtaudiod.backend() != "c":
        pytest.skip("the echo canceller is C only; the pure-Python build refuses audio.echo_cancel = internal")
    from rtaudiod._ext._echo import EchoCanceller

    return EchoCanceller
