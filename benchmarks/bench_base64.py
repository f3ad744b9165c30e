"""Strict base64: rtaudiod vs binascii (the standard library's C code) vs pybase64 (SIMD).

Encode takes raw bytes; decode takes the base64 text as bytes and rejects anything invalid
(binascii strict_mode=True, pybase64 validate=True), as rtaudiod.b64decode does.
"""

import binascii

import pybase64
import pytest

from benchmarks.conftest import SIZES, cases, pcm, timed
from rtaudiod import codecs

# op -> contender -> (function, keyword arguments); binascii is the baseline.
CONTENDERS = {
    "b64encode": {
        "rtaudiod": (codecs.b64encode, {}),
        "binascii": (binascii.b2a_base64, {"newline": False}),
        "pybase64": (pybase64.b64encode, {}),
    },
    "b64decode": {
        "rtaudiod": (codecs.b64decode, {}),
        "binascii": (binascii.a2b_base64, {"strict_mode": True}),
        "pybase64": (pybase64.b64decode, {"validate": True}),
    },
}
TARGET_1MIB = 3.0  # issue 2: >= 3x binascii both ways on 1 MiB


@pytest.mark.parametrize("contender", ["rtaudiod", "binascii", "pybase64"])
@pytest.mark.parametrize("op,size", cases(CONTENDERS))
def test_base64(benchmark, op, size, contender):
    raw = pcm(SIZES[size])
    text = binascii.b2a_base64(raw, newline=False)
    assert codecs.b64encode(raw) == text and codecs.b64decode(text) == raw  # rtaudiod against the oracle
    data, expected = (raw, text) if op == "b64encode" else (text, raw)
    fn, kwargs = CONTENDERS[op][contender]
    is_baseline = contender == "binascii"
    target = TARGET_1MIB if is_baseline and size == "1MiB" else None
    timed(benchmark, fn, data, kwargs=kwargs, contender=contender, expected=expected, baseline=is_baseline,
          target=target)
