"""G.711 (mu-law, A-law) of 16-bit little-endian PCM, and strict base64 (C core, or pure-Python twin).

All functions take any bytes-like object and return bytes. G.711 is bit-exact with audioop's
lin2ulaw/ulaw2lin/lin2alaw/alaw2lin at width 2. `b64decode` raises ValueError on anything that is not
padded base64 as binascii.a2b_base64(strict_mode=True) accepts it (no whitespace, no URL-safe alphabet, padding only at the end).
"""

from rtaudiod._backend import load

_impl = load("codecs")
ulaw_encode = _impl.ulaw_encode
ulaw_decode = _impl.ulaw_decode
alaw_encode = _impl.alaw_encode
alaw_decode = _impl.alaw_decode
b64encode = _impl.b64encode
b64decode = _impl.b64decode

__all__ = ["ulaw_encode", "ulaw_decode", "alaw_encode", "alaw_decode", "b64encode", "b64decode"]
