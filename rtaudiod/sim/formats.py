"""Audio formats of the Realtime API, seen from the server side.

The simulator converts with the standard library's G.711 (`audioop`, or `audioop-lts` on Python 3.13+) and never
with rtaudiod's own codecs: it is the independent party the client is tested against.
"""

import warnings

with warnings.catch_warnings():
    # audioop is deprecated on 3.11-3.12; it is still the reference G.711 and the simulator needs no more.
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

#: Sample rate of each internal format name (the beta wire names; the GA dialect maps its format objects to these).
RATES = {"pcm16": 24000, "g711_ulaw": 8000, "g711_alaw": 8000}
#: Bytes per sample on the wire.
WIDTHS = {"pcm16": 2, "g711_ulaw": 1, "g711_alaw": 1}


def bytes_per_ms(fmt: str) -> float:
    """Wire bytes of one millisecond of audio in `fmt` (48 for pcm16, 8 for G.711)."""
    return RATES[fmt] * WIDTHS[fmt] / 1000


def duration_ms(data_len: int, fmt: str) -> float:
    """Duration of `data_len` wire bytes in `fmt`, in milliseconds."""
    return data_len / bytes_per_ms(fmt)


def to_linear16(data: bytes, fmt: str) -> bytes:
    """Decode wire audio to 16-bit signed little-endian samples at the format's own rate."""
    if fmt == "g711_ulaw":
        return audioop.ulaw2lin(data, 2)
    if fmt == "g711_alaw":
        return audioop.alaw2lin(data, 2)
    return data[: len(data) - len(data) % 2]


def from_linear16(pcm: bytes, fmt: str) -> bytes:
    """Encode 16-bit samples (already at the format's rate) to wire audio."""
    if fmt == "g711_ulaw":
        return audioop.lin2ulaw(pcm, 2)
    if fmt == "g711_alaw":
        return audioop.lin2alaw(pcm, 2)
    return pcm


def rms(pcm: bytes) -> int:
    """Root mean square of 16-bit samples (0..32767)."""
    return audioop.rms(pcm, 2) if pcm else 0
