"""Fixtures for the rtaudiod-cli tests: `stack`, a daemon in miniature on a Unix socket under tmp_path (the control
tests' own: tests/control/controlhelpers.py), and the private PulseAudio server (tests/pulse_server.py) for
`devices`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_CONTROL_TESTS = str(Path(__file__).resolve().parent.parent / "control")
if _CONTROL_TESTS not in sys.path:
    sys.path.insert(0, _CONTROL_TESTS)

from controlhelpers import Stack, make_stack  # noqa: E402
from pulse_server import pulse_server  # noqa: E402

__all__ = ["pulse_server"]  # re-exported as a fixture (and so not an unused import)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with make_stack(tmp_path / "control.sock") as s:
        yield s


@pytest.fixture
def ptt_stack(tmp_path: Path) -> Iterator[Stack]:
    """The stack with push-to-talk turns (turn_detection none): audio goes up only inside a turn."""
    with make_stack(tmp_path / "control.sock", turn_detection={"type": "none"}) as s:
        yield s
