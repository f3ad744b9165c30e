"""The audio engine's one exception type (defined with the package's other errors in rtaudiod/errors.py)."""

from rtaudiod.errors import AudioDeviceError

__all__ = ["AudioDeviceError"]
