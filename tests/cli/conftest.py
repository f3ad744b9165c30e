"""Fixtures for the rtaudiod-cli tests: the private PulseAudio server (tests/pulse_server.py) for `devices`."""

from pulse_server import pulse_server

__all__ = ["pulse_server"]  # re-exported as a fixture (and so not an unused import)
