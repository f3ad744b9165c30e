"""G.711 and base64, on both implementations: bit-exact against audioop and binascii."""

import array
import base64
import binascii
import struct

import audioop  # standard library up to 3.12, the audioop-lts package from 3.13
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ALL_SAMPLES = np.arange(-32768, 32768, dtype="<i2").tobytes()
ALL_CODES = bytes(range(256))

# `impl` is a function-scoped fixture, but only a namespace of modules: safe to share between examples.
reuses_impl = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

LAWS = {
    # law: (encode name, decode name, audioop encode, audioop decode)
    "ulaw": ("ulaw_encode", "ulaw_decode", audioop.lin2ulaw, audioop.ulaw2lin),
    "alaw": ("alaw_encode", "alaw_decode", audioop.lin2alaw, audioop.alaw2lin),
}


def pcm(*samples: int) -> bytes:
    return struct.pack(f"<{len(samples)}h", *samples)


def samples(data: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(data) // 2}h", data))


@pytest.fixture(params=sorted(LAWS))
def law(request, impl):
    """(encode, decode, audioop encode, audioop decode) of one law in one implementation."""
    enc, dec, ref_enc, ref_dec = LAWS[request.param]
    return getattr(impl.codecs, enc), getattr(impl.codecs, dec), ref_enc, ref_dec


# ---- G.711 ---------------------------------------------------------------------------------------


def test_g711_encode_is_bit_exact_with_audioop_for_every_sample(law):
    encode, _, ref_encode, _ = law
    assert encode(ALL_SAMPLES) == ref_encode(ALL_SAMPLES, 2)


def test_g711_decode_is_bit_exact_with_audioop_for_every_code(law):
    _, decode, _, ref_decode = law
    assert decode(ALL_CODES) == ref_decode(ALL_CODES, 2)


def test_g711_bulk_loops_agree_with_audioop_at_every_alignment_and_length(law):
    """The C loops step 4 (encode) or 16 (SSSE3 decode) samples at a time with unaligned loads: every
    start address modulo 8 and every length up to four steps and a tail."""
    encode, decode, ref_encode, ref_decode = law
    buf = np.random.default_rng(1).integers(0, 256, size=160, dtype=np.uint8).tobytes()
    for offset in range(8):
        for n in range(70):
            data = memoryview(buf)[offset : offset + 2 * n]
            assert encode(data) == ref_encode(bytes(data), 2), (offset, n)
            codes = memoryview(buf)[offset : offset + n]
            assert decode(codes) == ref_decode(bytes(codes), 2), (offset, n)


# Published vectors: CPython's Lib/test/test_audioop.py (also audioop-lts), at width 2.
REFERENCE_PCM = pcm(0, 0x1234, 0x4567, -0x4567, 0x7FFF, -0x8000, -1)
ULAW_CODES = bytes.fromhex("000e283f576a767c7e7f808ea8bfd7eaf6fcfeff")
ULAW_LINEAR14 = [-8031, -4447, -1471, -495, -163, -53, -18, -6, -2, 0, 8031, 4447, 1471, 495, 163, 53, 18, 6, 2, 0]
ALAW_CODES = bytes.fromhex("0003242a515455586b717f8083a4aad1d4d5d8ebf1ff")
ALAW_LINEAR13 = [-688, -720, -2240, -4032, -9, -3, -1, -27, -244, -82, -106,
                 688, 720, 2240, 4032, 9, 3, 1, 27, 244, 82, 106]  # fmt: skip


def test_ulaw_reference_vectors(impl):
    assert impl.codecs.ulaw_encode(REFERENCE_PCM) == b"\xff\xad\x8e\x0e\x80\x00\x7e"
    assert samples(impl.codecs.ulaw_decode(ULAW_CODES)) == [x << 2 for x in ULAW_LINEAR14]


def test_alaw_reference_vectors(impl):
    assert impl.codecs.alaw_encode(REFERENCE_PCM) == b"\xd5\x87\xa4\x24\xaa\x2a\x55"
    assert samples(impl.codecs.alaw_decode(ALAW_CODES)) == [x << 3 for x in ALAW_LINEAR13]


@pytest.mark.parametrize(
    "sample, ulaw, alaw",
    [(0, 0xFF, 0xD5), (1, 0xFF, 0xD5), (-1, 0x7E, 0x55), (32767, 0x80, 0xAA), (-32768, 0x00, 0x2A),
     (1000, 0xCE, 0xFA), (-1000, 0x4E, 0x7A)],
)  # fmt: skip
def test_g711_encode_of_single_samples(impl, sample, ulaw, alaw):
    assert impl.codecs.ulaw_encode(pcm(sample)) == bytes([ulaw])
    assert impl.codecs.alaw_encode(pcm(sample)) == bytes([alaw])


@pytest.mark.parametrize(
    "code, ulaw, alaw",
    [(0xFF, 0, 848), (0x7F, 0, -848), (0x80, 32124, 5504), (0x00, -32124, -5504),
     (0xD5, 716, 8), (0x55, -716, -8), (0xAA, 5372, 32256), (0x2A, -5372, -32256)],
)  # fmt: skip
def test_g711_decode_of_single_codes(impl, code, ulaw, alaw):
    assert samples(impl.codecs.ulaw_decode(bytes([code]))) == [ulaw]
    assert samples(impl.codecs.alaw_decode(bytes([code]))) == [alaw]


def test_ulaw_has_two_codes_for_zero_and_every_other_code_round_trips(impl):
    decoded = impl.codecs.ulaw_decode(ALL_CODES)
    reencoded = impl.codecs.ulaw_encode(decoded)
    assert [c for c in range(256) if reencoded[c] != c] == [0x7F]
    assert reencoded[0x7F] == 0xFF  # -0 encodes as +0


def test_alaw_every_code_round_trips(impl):
    assert impl.codecs.alaw_encode(impl.codecs.alaw_decode(ALL_CODES)) == ALL_CODES


def test_g711_quantisation_is_idempotent_after_one_round(law):
    encode, decode, _, _ = law
    once = decode(encode(ALL_SAMPLES))
    assert once != ALL_SAMPLES
    assert decode(encode(once)) == once


def test_g711_odd_length_pcm_is_refused(impl):
    for encode in (impl.codecs.ulaw_encode, impl.codecs.alaw_encode):
        with pytest.raises(ValueError, match="even number of bytes, got 3"):
            encode(b"abc")
        with pytest.raises(ValueError, match="got 1"):
            encode(bytearray(1))


def test_g711_empty_input(law):
    encode, decode, _, _ = law
    assert encode(b"") == b"" and decode(b"") == b""


def test_g711_accepts_any_contiguous_bytes_like(law):
    encode, decode, ref_encode, ref_decode = law
    values = [0, 1, -1, 1234, -1234, 32767, -32768]
    raw = pcm(*values)
    expected = ref_encode(raw, 2)
    for form in (bytearray(raw), memoryview(raw), array.array("h", values), memoryview(array.array("h", values)),
                 np.array(values, dtype="<i2")):  # fmt: skip
        assert encode(form) == expected, type(form)
    codes = bytes(range(0, 256, 7))
    for form in (bytearray(codes), memoryview(codes), array.array("B", codes), np.frombuffer(codes, np.uint8)):
        assert decode(form) == ref_decode(codes, 2), type(form)


def test_g711_refuses_str_and_non_contiguous_buffers(law):
    encode, decode, _, _ = law
    for fn in (encode, decode):
        with pytest.raises(TypeError):
            fn("abcd")
        with pytest.raises(TypeError):
            fn(None)
        with pytest.raises(BufferError):
            fn(memoryview(b"abcdefgh")[::2])


def test_g711_large_input(law):
    encode, decode, ref_encode, ref_decode = law
    data = np.random.default_rng(7).integers(0, 256, size=1 << 20, dtype=np.uint8).tobytes()
    assert encode(data) == ref_encode(data, 2)
    assert decode(data) == ref_decode(data, 2)


# ---- base64 --------------------------------------------------------------------------------------


def strict_reference(data) -> bytes | None:
    """binascii's strict verdict: the decoded bytes, or None when it refuses the input.

    Before Python 3.12.4 strict mode let '=' follow a complete quad ("QUJD=", "QUJD===="); later
    versions refuse it ("Excess padding not allowed"), and so do the C core and the twin. An accepted
    input whose first '=' starts a quad is one of those, and counts as refused here on every version."""
    try:
        decoded = binascii.a2b_base64(data, strict_mode=True)
    except ValueError:  # binascii.Error, and non-ASCII str
        return None
    first_pad = data.find("=" if isinstance(data, str) else b"=")
    return None if first_pad >= 0 and first_pad % 4 == 0 else decoded


def check_decode(impl, data) -> None:
    """b64decode accepts exactly what binascii strict accepts, with the same bytes; ValueError otherwise."""
    expected = strict_reference(data)
    if expected is None:
        with pytest.raises(ValueError, match="invalid base64"):
            impl.codecs.b64decode(data)
    else:
        assert impl.codecs.b64decode(data) == expected


@reuses_impl
@given(st.binary(max_size=300))
def test_b64encode_matches_the_standard_library(impl, data):
    assert impl.codecs.b64encode(data) == base64.b64encode(data)


@reuses_impl
@given(st.binary(max_size=300))
def test_b64decode_round_trips(impl, data):
    encoded = base64.b64encode(data)
    assert impl.codecs.b64decode(encoded) == data
    assert impl.codecs.b64decode(encoded.decode()) == data


def test_b64_sizes_around_vector_block_boundaries(impl):
    rnd = np.random.default_rng(3)
    for n in range(201):
        data = rnd.integers(0, 256, size=n, dtype=np.uint8).tobytes()
        encoded = impl.codecs.b64encode(data)
        assert encoded == base64.b64encode(data), n
        assert impl.codecs.b64decode(encoded) == data, n


def test_b64_one_mebibyte(impl):
    data = np.random.default_rng(4).integers(0, 256, size=1 << 20, dtype=np.uint8).tobytes()
    encoded = impl.codecs.b64encode(data)
    assert encoded == base64.b64encode(data)
    assert impl.codecs.b64decode(encoded) == data
    assert impl.codecs.b64decode(bytearray(encoded)) == data


# Characters that make strict base64 fail, and the ones around them that it accepts.
B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
NOISE = "=\n\r \t-_.\\\"\x00\x7fé€"

mutated = st.tuples(st.binary(max_size=60), st.integers(0, 200), st.sampled_from(NOISE + "A/"), st.booleans()).map(
    lambda t: _mutate(base64.b64encode(t[0]).decode(), *t[1:])
)


def _mutate(text: str, at: int, char: str, insert: bool) -> str:
    """A valid encoding with one character replaced or inserted."""
    at = at % (len(text) + 1)
    return text[:at] + char + text[at + (0 if insert else 1) :]


@reuses_impl
@given(st.one_of(st.text(B64_ALPHABET + "=", max_size=40), st.text(B64_ALPHABET + NOISE, max_size=40), mutated))
def test_b64decode_accepts_exactly_what_binascii_strict_accepts(impl, text):
    check_decode(impl, text)
    check_decode(impl, text.encode("utf-8"))


@pytest.mark.parametrize(
    "text",
    ["", "QQ==", "QR==", "QUI=", "QUJD", "QQ", "QQ=", "Q===", "====", "=", "QQ==QQ==", "QQ=A", "A=B=", "QUJD\n",
     " QUJD", "QU JD", "QU-D", "QU_D", "QUJDé===", "QUJD=", "QUJD====", "QQ===", "QQ==\n"],
)  # fmt: skip
def test_b64decode_edge_cases(impl, text):
    check_decode(impl, text)
    check_decode(impl, text.encode("utf-8"))


def test_b64decode_names_the_offending_character_at_every_position(impl):
    """The vector kernels decode whole blocks: a bad character anywhere in a long input is still
    found, and named at its own offset."""
    valid = base64.b64encode(bytes(range(150))).decode()  # 200 characters, no padding
    for at in range(len(valid)):
        for bad in "!=" if at < len(valid) - 1 else "!":  # "xyz=" at the end is valid padding
            text = valid[:at] + bad + valid[at + 1 :]
            with pytest.raises(ValueError, match=f"at offset {at}$"):
                impl.codecs.b64decode(text)


class Text(str):
    """A str subclass: CPython does not store it as a compact ASCII string."""


def test_b64decode_takes_ascii_str_and_its_subclasses(impl):
    assert impl.codecs.b64decode("QUJD") == b"ABC"
    assert impl.codecs.b64decode(Text("QUJD")) == b"ABC"
    with pytest.raises(ValueError, match="base64"):
        impl.codecs.b64decode(Text("QUJ!"))


def test_b64decode_refuses_non_ascii_str(impl):
    with pytest.raises(ValueError, match="ASCII"):
        impl.codecs.b64decode("QUJ\u00e9")
    with pytest.raises(ValueError, match="ASCII"):
        impl.codecs.b64decode(Text("QUJ\u00e9"))


def test_b64decode_takes_bytes_like_and_refuses_other_types(impl):
    assert impl.codecs.b64decode(memoryview(b"QUJD")) == b"ABC"
    assert impl.codecs.b64decode(array.array("B", b"QUJD")) == b"ABC"
    with pytest.raises(TypeError):
        impl.codecs.b64decode(None)
    with pytest.raises(TypeError):
        impl.codecs.b64decode(1234)
    with pytest.raises(BufferError):
        impl.codecs.b64decode(memoryview(b"QQUUJJDD")[::2])


def test_b64encode_takes_bytes_like_and_refuses_str(impl):
    assert impl.codecs.b64encode(bytearray(b"ABC")) == b"QUJD"
    assert impl.codecs.b64encode(array.array("h", [0x4241])) == b"QUI="
    assert impl.codecs.b64encode(b"") == b""
    with pytest.raises(TypeError):
        impl.codecs.b64encode("ABC")
    with pytest.raises(BufferError):
        impl.codecs.b64encode(memoryview(b"AABBCC")[::2])
