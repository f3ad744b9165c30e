"""The fused uplink call, on both implementations: capture ring -> input_audio_buffer.append text, or the
masked WebSocket frame carrying it. Checked against encode_append + rtaudiod.codecs, an RFC 6455 decoder
written here, and websocket-client's own frame builder."""

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websocket._abnf import ABNF

from rtaudiod.errors import FramingError

reuses_impl = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FORMATS = ["pcm16", "g711_ulaw", "g711_alaw"]
KEY = b"\x37\xfa\x21\x3d"


def pcm(nbytes: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(nbytes)


def ring_at(impl, capacity: int, at: int):
    """An empty ring whose next write (and read) starts at offset `at` of its storage."""
    ring = impl.ring.RingBuffer(capacity)
    ring.write(bytes(at))
    ring.skip(at)
    return ring


def expected_text(impl, audio: bytes, audio_format: str) -> bytes:
    """What the uplink must send: encode_append of the PCM, or of its G.711 codes."""
    if audio_format == "g711_ulaw":
        audio = impl.codecs.ulaw_encode(audio)
    elif audio_format == "g711_alaw":
        audio = impl.codecs.alaw_encode(audio)
    return impl.framing.encode_append(audio)


def ws_decode(frame: bytes) -> tuple[int, bytes]:
    """An RFC 6455 section 5.2 decoder of one client frame: (opcode, unmasked payload). Checks FIN, the MASK
    bit, that the length uses its shortest form, and that the frame holds exactly that much."""
    assert frame[0] & 0x80, "FIN must be set: one complete message"
    assert frame[0] & 0x70 == 0, "no extension bits"
    assert frame[1] & 0x80, "a client frame must be masked"
    length, at = frame[1] & 0x7F, 2
    if length == 126:
        length, at = int.from_bytes(frame[2:4], "big"), 4
        assert length >= 126, "16-bit form for a length that fits 7 bits"
    elif length == 127:
        length, at = int.from_bytes(frame[2:10], "big"), 10
        assert length > 0xFFFF and not length >> 63, "64-bit form for a length that fits 16 bits"
    key, payload = frame[at : at + 4], frame[at + 4 :]
    assert len(payload) == length
    return frame[0] & 0x0F, bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def with_websocket_client(text: bytes, key: bytes) -> bytes:
    """The frame websocket-client itself would send for `text` with `key`."""
    frame = ABNF.create_frame(text.decode(), ABNF.OPCODE_TEXT)
    frame.get_mask_key = lambda n: key
    return frame.format()


@pytest.mark.parametrize("audio_format", FORMATS)
@pytest.mark.parametrize("at", [0, 4096 - 480, 4096 - 479, 4096 - 1])  # the wrap between samples and inside one
def test_text_equals_encode_append(impl, audio_format, at):
    audio = pcm(960)
    ring = ring_at(impl, 4096, at)
    ring.write(audio)
    out = bytearray(impl.framing.append_frame_size(960, audio_format))
    n = impl.framing.frame_append_from_ring(ring, 960, out, audio_format)
    assert bytes(out[:n]) == expected_text(impl, audio, audio_format) and n == len(out)
    assert ring.read_available == 0 and ring.underruns == 0
    assert json.loads(out)["type"] == "input_audio_buffer.append"


def test_reads_exactly_nbytes_and_leaves_the_rest(impl):
    audio = pcm(3000)
    ring = ring_at(impl, 4096, 3900)
    ring.write(audio)
    out = bytearray(4096)
    for k in range(3):
        n = impl.framing.frame_append_from_ring(ring, 960, out)
        assert bytes(out[:n]) == impl.framing.encode_append(audio[960 * k : 960 * (k + 1)])
    assert ring.read(4096) == audio[2880:]


@pytest.mark.parametrize("audio_format", FORMATS)
@pytest.mark.parametrize("nbytes", [40, 116, 960, 50_000], ids=["7bit", "16bit", "20ms", "64bit"])
def test_masked_frame_parses_back(impl, audio_format, nbytes):
    audio = pcm(nbytes)
    ring = ring_at(impl, 1 << 17, (1 << 17) - 333)
    ring.write(audio)
    out = bytearray(impl.framing.append_frame_size(nbytes, audio_format, masked=True) + 7)
    n = impl.framing.frame_append_from_ring(ring, nbytes, out, audio_format, mask_key=KEY)
    text = expected_text(impl, audio, audio_format)
    assert ws_decode(bytes(out[:n])) == (ABNF.OPCODE_TEXT, text)
    assert bytes(out[:n]) == with_websocket_client(text, KEY)
    assert n == impl.framing.append_frame_size(nbytes, audio_format, masked=True)


def test_length_forms_at_their_edges(impl):
    """Payload 125 / 126 bytes and 65535 / 65536: the 7-, 16- and 64-bit forms switch exactly there."""
    head = len(b'{"type":"input_audio_buffer.append","audio":"') + 2
    for nbytes in range(2, 60_000, 2):
        text = impl.framing.append_frame_size(nbytes)
        masked = impl.framing.append_frame_size(nbytes, masked=True)
        assert text == head + 4 * -(-nbytes // 3)
        assert masked - text == (6 if text < 126 else 8 if text <= 0xFFFF else 14)
    big = 49_152  # base64 of 49,152 bytes is 65,536 characters
    assert impl.framing.append_frame_size(big, masked=True) - impl.framing.append_frame_size(big) == 14


def test_short_ring_reads_nothing(impl):
    ring = ring_at(impl, 4096, 100)
    ring.write(pcm(958))
    out = bytearray(2000)
    assert impl.framing.frame_append_from_ring(ring, 960, out) == 0
    assert ring.read_available == 958 and ring.underruns == 0 and out == bytearray(2000)
    ring.write(b"\x01\x02")
    assert impl.framing.frame_append_from_ring(ring, 960, out) > 0


@pytest.mark.parametrize("masked", [False, True])
def test_out_too_small_is_an_error_and_reads_nothing(impl, masked):
    ring = ring_at(impl, 4096, 0)
    ring.write(pcm(960))
    size = impl.framing.append_frame_size(960, masked=masked)
    key = KEY if masked else None
    with pytest.raises(FramingError):
        impl.framing.frame_append_from_ring(ring, 960, bytearray(size - 1), mask_key=key)
    assert ring.read_available == 960
    short = ring_at(impl, 4096, 0)  # checked before the ring is looked at, even when it is short
    with pytest.raises(ValueError):
        impl.framing.frame_append_from_ring(short, 960, bytearray(10), mask_key=key)
    assert impl.framing.frame_append_from_ring(ring, 960, bytearray(size), mask_key=key) == size


def test_out_may_be_any_writable_buffer(impl):
    import array

    audio = pcm(960)
    expected = impl.framing.encode_append(audio)
    for out in (bytearray(2000), memoryview(bytearray(2000)), array.array("B", bytes(2000))):
        ring = ring_at(impl, 4096, 7)
        ring.write(audio)
        n = impl.framing.frame_append_from_ring(ring, 960, out)
        assert bytes(memoryview(out)[:n]) == expected
    ring = ring_at(impl, 4096, 0)
    ring.write(audio)
    with pytest.raises(TypeError):
        impl.framing.frame_append_from_ring(ring, 960, bytes(2000))
    assert ring.read_available == 960


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"nbytes": 0}, ValueError),
        ({"nbytes": 959}, ValueError),
        ({"nbytes": -2}, ValueError),
        ({"nbytes": 8192}, ValueError),  # more than the ring can ever hold
        ({"audio_format": "opus"}, ValueError),
        ({"audio_format": None}, ValueError),
        ({"mask_key": b"abc"}, ValueError),
        ({"mask_key": b"abcde"}, ValueError),
        ({"mask_key": "abcd"}, TypeError),
    ],
)
def test_bad_arguments_read_nothing(impl, kwargs, error):
    ring = ring_at(impl, 4096, 0)
    ring.write(pcm(2000))
    args = {"nbytes": 960, "audio_format": "pcm16", "mask_key": None, **kwargs}
    with pytest.raises(error):
        impl.framing.frame_append_from_ring(ring, args["nbytes"], bytearray(1 << 16), args["audio_format"],
                                            mask_key=args["mask_key"])  # fmt: skip
    assert ring.read_available == 2000


def test_refuses_what_is_not_its_ring(impl):
    with pytest.raises(TypeError):
        impl.framing.frame_append_from_ring(bytearray(4096), 960, bytearray(2000))
    with pytest.raises(ValueError):
        impl.framing.append_frame_size(961)
    with pytest.raises(ValueError):
        impl.framing.append_frame_size(960, "mp3")


def test_a_large_frame_is_built_without_the_gil(impl):
    """Above the wrappers' 64 KiB threshold the C path drops the GIL; the result is the same."""
    audio = pcm(200_000)
    ring = ring_at(impl, 1 << 18, (1 << 18) - 1001)
    ring.write(audio)
    out = bytearray(impl.framing.append_frame_size(200_000, masked=True))
    n = impl.framing.frame_append_from_ring(ring, 200_000, out, mask_key=KEY)
    assert ws_decode(bytes(out[:n]))[1] == impl.framing.encode_append(audio)


@reuses_impl
@given(
    nsamples=st.integers(1, 3000),
    at=st.integers(0, 8191),
    audio_format=st.sampled_from(FORMATS),
    key=st.none() | st.binary(min_size=4, max_size=4),
    seed=st.integers(0, 2**32),
)
def test_any_size_wrap_and_key(impl, nsamples, at, audio_format, key, seed):
    audio = pcm(2 * nsamples, seed)
    ring = ring_at(impl, 8192, at)
    ring.write(audio)
    out = bytearray(impl.framing.append_frame_size(2 * nsamples, audio_format, key is not None))
    n = impl.framing.frame_append_from_ring(ring, 2 * nsamples, out, audio_format, mask_key=key)
    text = expected_text(impl, audio, audio_format)
    if key is None:
        assert bytes(out[:n]) == text
    else:
        assert bytes(out[:n]) == with_websocket_client(text, key)
    assert n == len(out) and ring.read_available == 0
