"""Audio test fixtures: the private PulseAudio server (tests/pulse_server.py) and engines closed at teardown."""

import pytest

from pulse_server import pulse_server  # noqa: F401 - the session fixture


@pytest.fixture
def engines():
    """make(config) → a started AudioEngine, closed at teardown."""
    from rtaudiod.audio import AudioEngine

    made = []

    def make(config, start=True):
        engine = AudioEngine(config)
        made.append(engine)
        return engine.start() if start else engine

    yield make
    for engine in made:
        engine.close()
