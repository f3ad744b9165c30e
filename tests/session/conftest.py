"""Fixtures for the session tests: a real simulator on 127.0.0.1, a real engine, a real Session between them.

Every test ends with two strict checks against the `openai` package's models: each event the simulator sent, and
each event the session sent (as the simulator received it), so a session that builds a wrong event fails here even
when the simulator happened to accept it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rtaudiod._backend import NO_EXT
from rtaudiod.session import Session
from rtaudiod.sim import Simulator
from sessionhelpers import FAST, KEY, Mic, Recorder, check_conformance, config_for, null_engine

# Both dialects on the C extension; GA only on the twins (RTAUDIOD_NO_EXT=1). The dialect table at the wire edge
# is the same Python in both builds, and the twins build is there for the twins (ring, codecs, framing, audio
# path), which each dialect drives alike; its beta half cost CI about four minutes (.ci/run must stay under 30).
DIALECTS = ["ga"] if NO_EXT else ["ga", "beta"]


@pytest.fixture(params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_sim() -> Iterator[Any]:
    sims: list[Simulator] = []

    def factory(dialect: str = "ga", **kwargs: Any) -> Simulator:
        kwargs.setdefault("api_key", KEY)
        for name, value in FAST.items():
            kwargs.setdefault(name, value)
        sim = Simulator(dialect=dialect, **kwargs).start()
        sims.append(sim)
        return sim

    yield factory
    for sim in sims:
        sim.stop()
    for sim in sims:
        check_conformance(sim)


@pytest.fixture
def make_session() -> Iterator[Any]:
    """`make_session(sim, fmt="pcm16", engine_kwargs=None, start=True, **config)` -> (session, engine, mic, recorder)."""
    made: list[tuple[Session, Any, Mic]] = []

    def factory(sim: Simulator, fmt: str = "pcm16", engine_kwargs: dict[str, Any] | None = None,
                start: bool = True, **overrides: Any) -> tuple[Session, Any, Mic, Recorder]:
        engine = null_engine(fmt, **(engine_kwargs or {}))
        mic = Mic(engine)
        recorder = Recorder()
        session = Session(config_for(sim, audio_format=fmt, **overrides), engine, on_event=recorder)
        made.append((session, engine, mic))
        if start:
            session.start()
            assert session.wait_ready(10), f"session not ready: {session.state} {session.error}"
        return session, engine, mic, recorder

    yield factory
    for session, engine, mic in made:
        session.stop()
        mic.close()
        engine.close()
