"""Choose between the C extension (rtaudiod._ext) and the pure-Python twins (rtaudiod._py).

RTAUDIOD_NO_EXT=1 forces the twins. Without it the extension is used when it was built; a missing
extension falls back to the twins and `backend()` says so (the daemon logs it at start-up).
"""

import importlib
import os
from types import ModuleType

NO_EXT = os.environ.get("RTAUDIOD_NO_EXT", "") not in ("", "0")

try:
    if NO_EXT:
        raise ImportError("RTAUDIOD_NO_EXT is set")
    from rtaudiod._ext import _codecs, _framing, _ring  # noqa: F401

    _BACKEND = "c"
except ImportError:
    _BACKEND = "python"


def backend() -> str:
    """'c' when the C extension is in use, 'python' when the pure-Python twins are."""
    return _BACKEND


def load_c(name: str) -> ModuleType | None:
    """The C-only module `name` ('audio': the real-time audio path) when the extension is in use, else None (the
    caller runs its Python twins instead)."""
    if _BACKEND == "c":
        return importlib.import_module(f"rtaudiod._ext._{name}")
    return None


def load(name: str) -> ModuleType:
    """The implementation module `name` ('ring', 'codecs', 'framing') of the active backend."""
    if _BACKEND == "c":
        return importlib.import_module(f"rtaudiod._ext._{name}")
    return importlib.import_module(f"rtaudiod._py.{name}")
