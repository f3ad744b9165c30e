"""Fixtures of the reliability tests: daemons and simulator processes, each stopped at the end of its test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from reliahelpers import KEY, Daemon
from simprocess import SimProcess


@pytest.fixture
def start_daemon(tmp_path) -> Iterator[Any]:
    """`start_daemon(config_path, env=None) -> Daemon` (not yet ready: call `.ready()`)."""
    started: list[Daemon] = []

    def start(config, env: dict[str, str] | None = None) -> Daemon:
        daemon = Daemon(tmp_path, config, env)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.stop()


@pytest.fixture
def sim_process() -> Iterator[Any]:
    """`sim_process(port=None, *flags) -> SimProcess` (started, GA, the tests' key; None: a free port)."""
    made: list[SimProcess] = []

    def make(port: int | None = None, *flags: str) -> SimProcess:
        sim = SimProcess("ga", port=port or 0, api_key=KEY, args=flags)
        made.append(sim)
        return sim

    yield make
    for sim in made:
        sim.kill()
