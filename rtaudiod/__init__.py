"""rtaudiod: a voice-agent audio daemon for embedded Linux."""

from rtaudiod._backend import backend

__all__ = ["backend", "__version__"]
__version__ = "0.1.0"
