"""G.711 mu-law and A-law of 16-bit PCM: rtaudiod vs audioop vs a numpy table lookup.

The numpy tables (64K entries to encode, 256 to decode) are built from audioop once, so all three
contenders give bit-identical output; each returns bytes, as rtaudiod does.
"""

import audioop

import numpy as np
import pytest

from benchmarks.conftest import SIZES, cases, pcm, timed
from rtaudiod import codecs

ALL_INT16 = np.arange(1 << 16, dtype="<u2").tobytes()  # every 16-bit pattern, in unsigned order
ALL_CODES = bytes(range(256))


def _numpy_pair(lin2code, code2lin):
    enc_table = np.frombuffer(lin2code(ALL_INT16, 2), dtype=np.uint8)
    dec_table = np.frombuffer(code2lin(ALL_CODES, 2), dtype="<i2")

    def encode(data):
        return enc_table[np.frombuffer(data, dtype="<u2")].tobytes()

    def decode(data):
        return dec_table[np.frombuffer(data, dtype=np.uint8)].tobytes()

    return encode, decode


np_ulaw_encode, np_ulaw_decode = _numpy_pair(audioop.lin2ulaw, audioop.ulaw2lin)
np_alaw_encode, np_alaw_decode = _numpy_pair(audioop.lin2alaw, audioop.alaw2lin)

# op -> contender -> (function, arguments after the data). audioop is the baseline, called directly
# (no lambda) so that it does not pay for an extra Python frame.
CONTENDERS = {
    "ulaw_encode": {
        "rtaudiod": (codecs.ulaw_encode,),
        "audioop": (audioop.lin2ulaw, 2),
        "numpy": (np_ulaw_encode,),
    },
    "ulaw_decode": {
        "rtaudiod": (codecs.ulaw_decode,),
        "audioop": (audioop.ulaw2lin, 2),
        "numpy": (np_ulaw_decode,),
    },
    "alaw_encode": {
        "rtaudiod": (codecs.alaw_encode,),
        "audioop": (audioop.lin2alaw, 2),
        "numpy": (np_alaw_encode,),
    },
    "alaw_decode": {
        "rtaudiod": (codecs.alaw_decode,),
        "audioop": (audioop.alaw2lin, 2),
        "numpy": (np_alaw_decode,),
    },
}

# Issue 2: encode >= 10x audioop on 1 MiB and >= 3x on 20 ms; decode >= 1.2x on 1 MiB, >= 1.5x on 20 ms.
TARGETS = {("encode", True): 10.0, ("encode", False): 3.0, ("decode", True): 1.2, ("decode", False): 1.5}


def g711_input(op, size):
    """The op's input for `size` bytes of PCM: the PCM for an encoder, its G.711 codes for a decoder."""
    data = pcm(size)
    return audioop.lin2ulaw(data, 2) if op.endswith("_decode") else data


def codec_call(op, contender, data):
    fn, *args = CONTENDERS[op][contender]
    return fn(data, *args)


@pytest.mark.parametrize("contender", ["rtaudiod", "audioop", "numpy"])
@pytest.mark.parametrize("op,size", cases(CONTENDERS))
def test_g711(benchmark, op, size, contender):
    data = g711_input(op, SIZES[size])
    fn, *args = CONTENDERS[op][contender]
    expected = codec_call(op, "rtaudiod", data)
    assert expected == codec_call(op, "audioop", data)  # rtaudiod itself against the oracle
    is_baseline = contender == "audioop"
    target = TARGETS[(op.split("_")[1], size == "1MiB")] if is_baseline else None
    timed(benchmark, fn, data, *args, contender=contender, expected=expected, baseline=is_baseline, target=target)
