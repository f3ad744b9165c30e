"""Level figures without numpy (the engine's status reads them; the daemon's import path stays light)."""

import math

FULL_SCALE = 32768.0
# An edge quieter than this (-40 dBFS) does not click when cut, so it is left alone (keeps quiet audio,
# such as the start and end of speech, bit-exact through the engine). csrc/rta_audio.c has the same figure.
EDGE_QUIET = 328


def dbfs(value: float) -> float:
    """Linear amplitude (0..32768) to dBFS; silence is -120."""
    return 20.0 * math.log10(value / FULL_SCALE) if value > 0 else -120.0
