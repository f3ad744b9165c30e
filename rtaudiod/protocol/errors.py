"""The one exception of the protocol layer (defined with the package's other errors in rtaudiod/errors.py)."""

from rtaudiod.errors import ProtocolError

__all__ = ["ProtocolError"]
