"""Fixtures for the simulator tests: a real server on 127.0.0.1 port 0, a real WebSocket client, and a conformance
check of every server event the simulator sent during the test (strict, against the `openai` package's models)."""

from collections.abc import Iterator
from typing import Any

import pytest

from rtaudiod.sim import Simulator
from simhelpers import FAST, KEY, MODELS, Client, check_conformance, headers_for


@pytest.fixture
def make_sim() -> Iterator[Any]:
    """Start simulators; stop them and check conformance of all they sent.

    Unless a test says otherwise they run `FAST` (no pacing, no latency): most tests check shapes and sequences.
    Tests of races pass `**REAL_TIME` (real-time pace, the service's latencies)."""
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


@pytest.fixture(params=["beta", "ga"])
def dialect(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def connect(make_sim: Any) -> Iterator[Any]:
    """`connect(dialect, **sim_kwargs)` → (sim, client past `session.created`); `query` defaults to the model."""
    clients: list[Client] = []

    def factory(dialect: str = "ga", query: str | None = None, **kwargs: Any) -> tuple[Simulator, Client]:
        sim = make_sim(dialect, **kwargs)
        client = Client(sim.url + (f"?model={MODELS[dialect]}" if query is None else query), headers_for(dialect))
        clients.append(client)
        assert client.recv()["type"] == "session.created"
        return sim, client

    yield factory
    for client in clients:
        client.close()
