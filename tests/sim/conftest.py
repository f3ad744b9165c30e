"""Fixtures for the simulator tests: a real server on 127.0.0.1 port 0, a real WebSocket client, and a conformance
check of every server event the simulator sent during the test (strict, against the `openai` package's models)."""

from collections.abc import Iterator
from typing import Any

import pytest

from rtaudiod.sim import Simulator
from simhelpers import KEY, Client, check_conformance, headers_for


@pytest.fixture
def make_sim() -> Iterator[Any]:
    """Start simulators (default: fast pacing); stop them and check conformance of all they sent."""
    sims: list[Simulator] = []

    def factory(dialect: str = "ga", **kwargs: Any) -> Simulator:
        kwargs.setdefault("api_key", KEY)
        kwargs.setdefault("pace", 0)
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
    """`connect(dialect, **sim_kwargs)` → (sim, client past `session.created`)."""
    clients: list[Client] = []

    def factory(dialect: str = "ga", query: str = "", **kwargs: Any) -> tuple[Simulator, Client]:
        sim = make_sim(dialect, **kwargs)
        client = Client(sim.url + query, headers_for(dialect))
        clients.append(client)
        assert client.recv()["type"] == "session.created"
        return sim, client

    yield factory
    for client in clients:
        client.close()
