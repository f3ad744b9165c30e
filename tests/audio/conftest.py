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


@pytest.fixture(params=["c", "py"])
def audio_impl(request):
    """Both implementations of the device callbacks: the C processors (rtaudiod._ext._audio, run by PortAudio's or
    the pacer's thread) and their Python twins (capture.py, playout.py). `ledger()` makes the PlayoutLedger each
    playout needs (the C one's consumer side is C)."""
    from types import SimpleNamespace

    import rtaudiod
    from rtaudiod.audio.ledger import PlayoutLedger

    if request.param == "c":
        if rtaudiod.backend() != "c":
            pytest.skip("C extension not in use (RTAUDIOD_NO_EXT=1 run tests the twins only)")
        from rtaudiod._ext import _audio

        return SimpleNamespace(name="c", Playout=_audio.Playout, Capture=_audio.Capture,
                               ledger=lambda: PlayoutLedger(core=_audio.LedgerCore()), Duplex=_audio.Duplex)
    from rtaudiod.audio.capture import Capture
    from rtaudiod.audio.playout import Playout

    return SimpleNamespace(name="py", Playout=Playout, Capture=Capture, ledger=PlayoutLedger, Duplex=None)
