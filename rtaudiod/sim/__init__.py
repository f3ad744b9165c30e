"""rtaudiod-sim: a faithful local Realtime server (beta and GA dialects) for tests, demos and offline development.

Independent of the client on purpose: nothing here imports `rtaudiod.protocol` or rtaudiod's codecs.
"""

from .server import Simulator
from .session import Options, SimSession

__all__ = ["Options", "SimSession", "Simulator"]
