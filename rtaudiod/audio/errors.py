"""The audio engine's one exception type."""


class AudioDeviceError(RuntimeError):
    """A device is missing, busy or cannot run the requested format.

    The message names the device asked for and the devices that exist, so the CLI and the daemon can
    print it as-is (no traceback needed to act on it).
    """
