"""Listening modes and the local wake word: the microphone reaches the service only when it should.

    listener = Listener(session, ListenConfig(mode="wake_word")).start()
    listener.set_mode("always")     # live; the next microphone frame obeys it
    listener.status()               # mode, state, wakes, audio sent and withheld per mode
    listener.stop()
"""

from .config import BUILTIN_WAKE_WORDS, MODES, ListenConfig
from .detector import WakeWordError, WakeWordUnavailable
from .listener import Listener

__all__ = ["BUILTIN_WAKE_WORDS", "MODES", "ListenConfig", "Listener", "WakeWordError", "WakeWordUnavailable"]
