"""Pure-Python twin of rtaudiod._ext._codecs: G.711 and strict base64, same API, same errors.

This is the readable reference and the test oracle. The G.711 scalar functions are the Sun/ITU
reference algorithm (as in csrc/rta_g711.c and CPython's audioop); the bulk functions index numpy
tables built from them once at import, so the tables cannot disagree with the reference. base64
validation spells out the strict grammar; the bit shuffling itself is binascii's.
"""

import binascii
import re

import numpy as np

# ---- G.711 reference (one sample at a time) --------------------------------------------------------

SIGN_BIT = 0x80  # Sign bit for an A-law byte.
QUANT_MASK = 0xF  # Quantization field mask.
SEG_SHIFT = 4  # Left shift for segment number.
SEG_MASK = 0x70  # Segment field mask.
BIAS = 0x84  # Bias for linear code (mu-law adds 33 in 14-bit terms).
CLIP = 8159  # Largest 14-bit magnitude mu-law encodes before it saturates.

# Upper ends of the 8 segments, in the 13-bit (A-law) and 14-bit (mu-law) magnitude ranges.
SEG_AEND = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)
SEG_UEND = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)


def _segment(val: int, ends: tuple[int, ...]) -> int:
    """The first segment whose upper end is >= val; len(ends) when val is beyond them all."""
    for seg, end in enumerate(ends):
        if val <= end:
            return seg
    return len(ends)


def ulaw_from_linear14(pcm_val: int) -> int:
    """A 14-bit two's complement sample (a 16-bit sample >> 2) to its mu-law code.

    The biased magnitude's leading 1 gives the segment (7 minus the leading zeros), the next four
    bits are the quantization interval, the rest is dropped; the code word is sent complemented.
    """
    if pcm_val < 0:  # mu-law inverts all bits; the sign goes into the mask
        pcm_val = -pcm_val
        mask = 0x7F
    else:
        mask = 0xFF
    pcm_val = min(pcm_val, CLIP) + (BIAS >> 2)  # clip the magnitude, then bias it
    seg = _segment(pcm_val, SEG_UEND)
    if seg >= 8:  # out of range: the maximum value
        return 0x7F ^ mask
    return ((seg << 4) | ((pcm_val >> (seg + 1)) & 0xF)) ^ mask


def alaw_from_linear13(pcm_val: int) -> int:
    """A 13-bit two's complement sample (a 16-bit sample >> 3) to its A-law code.

    Segment and quantization bits as for mu-law but without a bias; negative values are
    one's-complemented, and A-law transmits with the even bits inverted (the 0x55 mask).
    """
    if pcm_val >= 0:
        mask = 0xD5  # sign (7th) bit = 1
    else:
        mask = 0x55  # sign bit = 0
        pcm_val = -pcm_val - 1
    seg = _segment(pcm_val, SEG_AEND)
    if seg >= 8:  # out of range: the maximum value
        return 0x7F ^ mask
    aval = seg << SEG_SHIFT
    aval |= (pcm_val >> (1 if seg < 2 else seg)) & QUANT_MASK
    return aval ^ mask


def ulaw_to_linear16(uval: int) -> int:
    """A mu-law code to a 16-bit sample. Two codes decode to zero: 0xFF (+0) and 0x7F (-0)."""
    uval = ~uval & 0xFF  # complement to obtain the normal u-law value
    # Extract and bias the quantization bits, shift up by the segment number, subtract the bias.
    t = (((uval & QUANT_MASK) << 3) + BIAS) << ((uval & SEG_MASK) >> SEG_SHIFT)
    return BIAS - t if uval & SIGN_BIT else t - BIAS


def alaw_to_linear16(a_val: int) -> int:
    """An A-law code to a 16-bit sample."""
    a_val ^= 0x55
    t = (a_val & QUANT_MASK) << 4
    seg = (a_val & SEG_MASK) >> SEG_SHIFT
    if seg == 0:
        t += 8
    else:
        t = (t + 0x108) << (seg - 1)
    return t if a_val & SIGN_BIT else -t


def _signed(pattern: int, bits: int) -> int:
    """The two's complement value of an unsigned `bits`-wide bit pattern."""
    return pattern - (1 << bits) if pattern >> (bits - 1) else pattern


# Encode tables are indexed by a sample's top 14 (mu-law) or 13 (A-law) bits read as unsigned, which
# is what a little-endian uint16 view shifted right gives; decode tables hold little-endian int16.
_ULAW_ENCODE = np.array([ulaw_from_linear14(_signed(i, 14)) for i in range(1 << 14)], dtype=np.uint8)
_ALAW_ENCODE = np.array([alaw_from_linear13(_signed(i, 13)) for i in range(1 << 13)], dtype=np.uint8)
_ULAW_DECODE = np.array([ulaw_to_linear16(c) for c in range(256)], dtype="<i2")
_ALAW_DECODE = np.array([alaw_to_linear16(c) for c in range(256)], dtype="<i2")


# ---- bulk ------------------------------------------------------------------------------------------


def _byte_view(obj) -> memoryview:
    """A flat byte view of any C-contiguous bytes-like object, refusing the same inputs as the C
    wrappers' PyBUF_SIMPLE request: TypeError for non-buffers (str included), BufferError when
    not C-contiguous."""
    view = memoryview(obj)
    if not view.c_contiguous:
        raise BufferError("memoryview: underlying buffer is not C-contiguous")
    return view.cast("B")


def _encode(pcm, table: np.ndarray, shift: int) -> bytes:
    view = _byte_view(pcm)
    if len(view) % 2:
        raise ValueError(f"16-bit PCM must have an even number of bytes, got {len(view)}")
    return table[np.frombuffer(view, dtype="<u2") >> shift].tobytes()


def _decode(data, table: np.ndarray) -> bytes:
    return table[np.frombuffer(_byte_view(data), dtype=np.uint8)].tobytes()


def ulaw_encode(pcm) -> bytes:
    """16-bit little-endian PCM -> G.711 mu-law, one byte a sample (audioop.lin2ulaw(pcm, 2))."""
    return _encode(pcm, _ULAW_ENCODE, 2)


def alaw_encode(pcm) -> bytes:
    """16-bit little-endian PCM -> G.711 A-law, one byte a sample (audioop.lin2alaw(pcm, 2))."""
    return _encode(pcm, _ALAW_ENCODE, 3)


def ulaw_decode(data) -> bytes:
    """G.711 mu-law -> 16-bit little-endian PCM (audioop.ulaw2lin(data, 2))."""
    return _decode(data, _ULAW_DECODE)


def alaw_decode(data) -> bytes:
    """G.711 A-law -> 16-bit little-endian PCM (audioop.alaw2lin(data, 2))."""
    return _decode(data, _ALAW_DECODE)


# ---- base64 ----------------------------------------------------------------------------------------

_OUTSIDE_ALPHABET = re.compile(rb"[^A-Za-z0-9+/]")


def b64encode(data) -> bytes:
    """Standard base64 with padding."""
    return binascii.b2a_base64(_byte_view(data), newline=False)


def _first_error(chars: bytes) -> str | None:
    """Why `chars` is not strict base64, naming the first offending character as the C core does;
    None when it is.

    Strict base64: a length that is a multiple of 4, only A-Z a-z 0-9 + /, and '=' only as one or two
    padding characters at the very end. Unused trailing bits before the padding are ignored."""
    if len(chars) % 4:
        # A stray character (a newline, a space) says more than the length.
        bad = re.search(rb"[^A-Za-z0-9+/=]", chars)
        if bad:
            return f"character outside the base64 alphabet: {chr(chars[bad.start()])!r} at offset {bad.start()}"
        return f"length {len(chars)} is not a multiple of 4"
    padding = 2 if chars.endswith(b"==") else 1 if chars.endswith(b"=") else 0
    bad = _OUTSIDE_ALPHABET.search(chars, 0, len(chars) - padding)
    if bad is None:
        return None
    if chars[bad.start()] == ord("="):
        return f"'=' padding before the end: '=' at offset {bad.start()}"
    return f"character outside the base64 alphabet: {chr(chars[bad.start()])!r} at offset {bad.start()}"


def b64decode(data) -> bytes:
    """Strict base64 (what binascii.a2b_base64(strict_mode=True) accepts) -> bytes; ValueError otherwise.

    `data` is any bytes-like object or an ASCII str."""
    if isinstance(data, str):
        if not data.isascii():
            raise ValueError("invalid base64: string argument should contain only ASCII characters")
        chars = data.encode("ascii")
    else:
        chars = _byte_view(data).tobytes()
    error = _first_error(chars)
    if error is not None:
        raise ValueError(f"invalid base64: {error}")
    return binascii.a2b_base64(chars, strict_mode=True)
