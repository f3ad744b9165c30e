"""Fixtures for the control tests (and the CLI's): `stack` is a whole daemon in miniature over a real Unix socket
under tmp_path -- rtaudiod-sim, a null-backend engine with a paced silent microphone, a ready Session, a started
ControlServer, and a connected Client (see controlhelpers.Stack). `make_stack` builds others (dialect, format,
server limits, simulator timing)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from controlhelpers import Stack, make_stack as _make_stack


@pytest.fixture
def stack(tmp_path) -> Iterator[Stack]:
    with _make_stack(tmp_path / "control.sock") as s:
        yield s


@pytest.fixture
def make_stack(tmp_path) -> Iterator[Any]:
    """`make_stack(dialect="ga", fmt="pcm16", sim_kwargs=None, server_kwargs=None, path=None, **session_config)`."""
    with ExitStack() as stacks:
        count = 0

        def factory(path: Any = None, **kwargs: Any) -> Stack:
            nonlocal count
            count += 1
            return stacks.enter_context(_make_stack(path or tmp_path / f"control{count}.sock", **kwargs))

        yield factory
