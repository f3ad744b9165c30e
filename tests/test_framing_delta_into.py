"""decode_delta_into on both implementations: a server audio delta into the playout ring as PCM16, with its
item and response ids, the skip of a dropped response, G.711 in one pass, odd lengths and a full ring."""

import base64
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rtaudiod
from rtaudiod.errors import FramingError

reuses_impl = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
BETA, GA = "response.audio.delta", "response.output_audio.delta"
FORMATS = ["pcm16", "g711_ulaw", "g711_alaw"]
AUDIO = random.Random(3).randbytes(4800)
json_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)


def frame(audio: bytes = AUDIO, kind: str = GA, **fields) -> str:
    """The compact frame the service sends: type first, the ids, delta last."""
    return json.dumps({"type": kind, **fields, "delta": base64.b64encode(audio).decode()}, separators=(",", ":"))


def ring_at(impl, capacity: int, at: int):
    ring = impl.ring.RingBuffer(capacity)
    ring.write(bytes(at))
    ring.skip(at)
    return ring


def as_pcm(impl, audio: bytes, audio_format: str) -> bytes:
    """What the ring must hold for a delta carrying `audio` in `audio_format`."""
    if audio_format == "g711_ulaw":
        return impl.codecs.ulaw_decode(audio)
    if audio_format == "g711_alaw":
        return impl.codecs.alaw_decode(audio)
    return audio + b"\0" * (len(audio) % 2)


def state(ring):
    return ring.read_available, ring.overruns, bytes(b"".join(ring.get_read_regions(1 << 20)))


IDS = {"event_id": "event_1", "response_id": "resp_1", "item_id": "item_1", "output_index": 0, "content_index": 0}


@pytest.mark.parametrize("kind", [BETA, GA])
@pytest.mark.parametrize("audio_format", FORMATS)
def test_writes_the_pcm_and_reports_the_ids(impl, kind, audio_format):
    ring = ring_at(impl, 1 << 14, (1 << 14) - 1001)  # the audio wraps
    got = impl.framing.decode_delta_into(frame(kind=kind, **IDS), ring, audio_format)
    pcm = as_pcm(impl, AUDIO, audio_format)
    assert got == (len(pcm), "item_1", "resp_1")
    assert ring.read(1 << 14) == pcm and ring.overruns == 0


@pytest.mark.parametrize("form", [str, str.encode, lambda f: bytearray(f.encode()), lambda f: memoryview(f.encode())])
def test_takes_str_and_any_bytes_like(impl, form):
    ring = impl.ring.RingBuffer(1 << 14)
    assert impl.framing.decode_delta_into(form(frame(**IDS)), ring) == (4800, "item_1", "resp_1")


@pytest.mark.parametrize(
    "fields, ids",
    [
        ({}, (None, None)),
        ({"item_id": "i"}, ("i", None)),
        ({"response_id": "r"}, (None, "r")),
        ({"item_id": 5, "response_id": None}, (None, None)),  # not strings: none
        ({"item_id": True, "response_id": 1.5}, (None, None)),
        ({"item_id": ["i"], "response_id": {"r": 1}}, (None, None)),  # nested: the full decode answers
        ({"item_id": ""}, ("", None)),
        ({"item_id": "it\u00e9m", "response_id": "r\\\"1"}, ("it\u00e9m", 'r\\"1')),  # escapes: full decode
    ],
)
def test_ids_present_absent_or_not_strings(impl, fields, ids):
    ring = impl.ring.RingBuffer(1 << 14)
    assert impl.framing.decode_delta_into(frame(**fields), ring) == (4800, *ids)


@pytest.mark.parametrize(
    "text",
    [
        '{"type":"%s","item_id":"a","response_id":"r","item_id":"b","delta":"%s"}',  # the last duplicate wins
        '{"type":"%s","item_id":"a","item_id":7,"response_id":"r","item_id":"b","delta":"%s"}',
        '{"item_id":"b","response_id":"r","type":"%s","delta":"%s"}',  # another order: full decode
        '{"type":"%s","delta":"%s","item_id":"b","response_id":"r"}',
        ' {\n "type" : "%s",\t"item_id" : "b" , "response_id":"r", "delta" : "%s" }\r\n',
        '{"type":"%s","item_id":"\\u0062","response_id":"\\u0072","delta":"%s"}',
        '{"type":"%s","item_id":"b","response_id":"r","delta":"%s","item_id":"b"}',
    ],
)
def test_field_orders_and_escapes_give_the_same_answer(impl, text):
    full = text % (BETA, base64.b64encode(AUDIO).decode())
    assert json.loads(full)["item_id"] == "b"
    ring = impl.ring.RingBuffer(1 << 14)
    assert impl.framing.decode_delta_into(full, ring) == (4800, "b", "r")
    assert ring.read(1 << 14) == AUDIO


def test_a_skipped_response_writes_nothing(impl):
    ring = impl.ring.RingBuffer(1 << 14)
    ring.write(b"keep")
    before = state(ring)
    for f in (frame(**IDS), '{"response_id":"resp_1","type":"%s","item_id":"item_1","delta":"QUJD"}' % GA):
        assert impl.framing.decode_delta_into(f, ring, skip_response_id="resp_1") == (0, "item_1", "resp_1")
        assert state(ring) == before
    # Not even decoded: a broken delta of a skipped response is not an error.
    assert impl.framing.decode_delta_into(frame(response_id="resp_1").replace('"delta":"', '"delta":"!!'), ring,
                                          skip_response_id="resp_1") == (0, None, "resp_1")  # fmt: skip
    # Another response, or none, plays.
    assert impl.framing.decode_delta_into(frame(response_id="resp_2"), ring, skip_response_id="resp_1")[0] == 4800
    assert impl.framing.decode_delta_into(frame(), ring, skip_response_id="resp_1") == (4800, None, None)
    assert impl.framing.decode_delta_into(frame(response_id="resp_1\u00e9"), ring, skip_response_id="resp_1")[0] == 4800


def test_other_events_are_none_and_write_nothing(impl):
    ring = impl.ring.RingBuffer(64)
    for f in ('{"type":"response.audio.done","item_id":"i"}', '{"type":"session.created", broken',
              '{"type":"response.audio_transcript.delta","delta":"QUJD"}', '["x"]', "42"):  # fmt: skip
        assert impl.framing.decode_delta_into(f, ring) is None
    assert ring.read_available == 0


@pytest.mark.parametrize("nbytes", [1, 3, 4799])
def test_an_odd_pcm16_delta_is_padded_to_a_whole_sample(impl, nbytes):
    ring = ring_at(impl, 1 << 13, (1 << 13) - nbytes)  # the pad byte lands right after the wrap
    assert impl.framing.decode_delta_into(frame(AUDIO[:nbytes]), ring)[0] == nbytes + 1
    assert ring.read(1 << 13) == AUDIO[:nbytes] + b"\0"


@pytest.mark.parametrize("audio_format", FORMATS)
def test_a_full_ring_keeps_what_fits_in_whole_samples_and_counts_an_overrun(impl, audio_format):
    ring = ring_at(impl, 4096, 4000)
    ring.write(bytes(4096 - 1001))  # 1001 bytes free: 1000 of them (whole samples) are used
    n, item_id, _ = impl.framing.decode_delta_into(frame(**IDS), ring, audio_format)
    assert (n, item_id, ring.overruns, ring.write_available) == (1000, "item_1", 1, 1)
    ring.skip(4096 - 1001)
    assert ring.read(4096) == as_pcm(impl, AUDIO, audio_format)[:1000]
    ring.write(bytes(4096))  # no room at all: nothing, and an overrun
    assert impl.framing.decode_delta_into(frame(**IDS), ring, audio_format) == (0, "item_1", "resp_1")
    assert ring.overruns == 2


@pytest.mark.parametrize("audio_format", FORMATS)
@pytest.mark.parametrize(
    "text",
    [
        '{"type":"%s","delta":"QUJ"}' % GA,
        '{"type":"%s","delta":"QUJD!!!!"}' % GA,
        '{"type":"%s","delta":"QQ==QUJD"}' % GA,
        '{"delta":"QU\\nJD","type":"%s"}' % GA,
        '{"type":"%s","delta":"QUJ\\u00e9"}' % GA,
        '{"type":"%s","delta":5}' % GA,
        '{"type":"%s"}' % GA,
        '{"type":"%s","delta":"QUJD"' % GA,
        '{"item_id":"i","type":"%s","delta":"QUJD"} x' % GA,
    ],
)
def test_broken_frames_are_framing_errors_and_write_nothing(impl, audio_format, text):
    ring = ring_at(impl, 64, 60)
    ring.write(b"keep")
    before = state(ring)
    with pytest.raises(FramingError):
        impl.framing.decode_delta_into(text, ring, audio_format)
    assert state(ring) == before


def test_broken_base64_past_the_room_is_still_an_error(impl):
    """A delta that would overflow is validated to its end before anything is published."""
    text = frame(AUDIO)
    broken = text[: -len('"}') - 8] + '!!!!AAAA"}'
    ring = impl.ring.RingBuffer(1024)
    with pytest.raises(FramingError, match="base64"):
        impl.framing.decode_delta_into(broken, ring)
    assert (ring.read_available, ring.overruns) == (0, 0)


@pytest.mark.parametrize("law", ["ulaw", "alaw"])
def test_g711_every_code_decodes_as_the_codec_does(impl, law):
    codes = bytes(range(256)) * 9  # 2,304 codes: more than one chunk of the C path
    ring = ring_at(impl, 1 << 13, 5)
    assert impl.framing.decode_delta_into(frame(codes), ring, f"g711_{law}")[0] == 2 * len(codes)
    assert ring.read(1 << 13) == getattr(impl.codecs, f"{law}_decode")(codes)


def test_a_large_delta_decodes_without_the_gil(impl):
    audio = random.Random(4).randbytes(300_001)
    ring = ring_at(impl, 1 << 20, (1 << 20) - 999)  # G.711: 600,002 bytes of PCM
    for audio_format in FORMATS:
        assert impl.framing.decode_delta_into(frame(audio, **IDS), ring, audio_format)[1:] == ("item_1", "resp_1")
        assert ring.read(1 << 20) == as_pcm(impl, audio, audio_format)


def test_refuses_bad_arguments(impl):
    ring = impl.ring.RingBuffer(64)
    with pytest.raises(ValueError):
        impl.framing.decode_delta_into(frame(), ring, "opus")
    with pytest.raises(TypeError):
        impl.framing.decode_delta_into(frame(), bytearray(64))
    with pytest.raises(TypeError):
        impl.framing.decode_delta_into(frame(), ring, skip_response_id=b"resp_1")
    assert ring.read_available == 0


def test_the_old_calls_still_work(impl):
    ring = impl.ring.RingBuffer(1 << 14)
    assert impl.framing.decode_audio_delta(frame(**IDS)) == AUDIO
    assert impl.framing.decode_audio_delta_into(frame(**IDS), ring) == 4800


def test_the_delta_types_are_written_once():
    """The C core's list is the source; the twin's copy (for machines without the extension) agrees."""
    from rtaudiod import framing
    from rtaudiod._py import framing as twin

    assert twin.DELTA_TYPES == frozenset((BETA, GA))
    assert framing.AUDIO_DELTA_TYPES == (BETA, GA) and framing.DELTA_TYPES == twin.DELTA_TYPES
    if rtaudiod.backend() != "c":
        pytest.skip("C extension not in use")
    from rtaudiod._ext import _framing

    assert _framing.DELTA_TYPES == twin.DELTA_TYPES


@st.composite
def delta_frames(draw):
    """A delta frame as any JSON encoder might write it: random audio, ids present, absent or of another
    type, extra fields, key order, whitespace, ASCII escaping. Returns (frame, audio, item_id, response_id)."""
    audio = draw(st.binary(max_size=3000))
    fields = {"type": draw(st.sampled_from([BETA, GA])), "delta": base64.b64encode(audio).decode()}
    for key in ("item_id", "response_id"):
        value = draw(st.none() | st.just("absent") | json_text | st.integers() | st.lists(st.integers(), max_size=2))
        if value != "absent":
            fields[key] = value
    fields.update(draw(st.dictionaries(st.sampled_from(["event_id", "output_index", "meta"]),
                                       st.none() | st.integers() | json_text, max_size=3)))  # fmt: skip
    if draw(st.booleans()):
        keys = draw(st.permutations(sorted(fields)))
    else:  # the service's order, which the fast path takes
        keys = ["type"] + sorted(k for k in fields if k not in ("type", "delta")) + ["delta"]
    text = json.dumps({k: fields[k] for k in keys}, separators=draw(st.sampled_from([(",", ":"), (", ", ": ")])),
                      ensure_ascii=draw(st.booleans()))  # fmt: skip

    def as_id(key):
        value = fields.get(key)
        return value if isinstance(value, str) else None

    return text, audio, as_id("item_id"), as_id("response_id")


@reuses_impl
@given(delta_frames(), st.sampled_from(FORMATS), st.integers(0, 8191), st.integers(0, 8192), st.booleans())
def test_any_delta_frame(impl, frame_info, audio_format, at, filled, skip):
    text, audio, item_id, response_id = frame_info
    ring = ring_at(impl, 8192, at)
    ring.write(bytes(filled))
    skip_id = response_id if skip else None
    got = impl.framing.decode_delta_into(text, ring, audio_format, skip_id)
    if skip and response_id is not None:
        assert got == (0, item_id, response_id) and ring.read_available == filled
        return
    pcm = as_pcm(impl, audio, audio_format)
    room = 8192 - filled
    n = len(pcm) if len(pcm) <= room else room & ~1
    assert got == (n, item_id, response_id)
    assert ring.overruns == (len(pcm) > room)
    ring.skip(filled)
    assert ring.read(8192) == pcm[:n]


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(delta_frames(), st.sampled_from(FORMATS), st.integers(0, 8191), st.integers(0, 8192))
def test_c_and_twin_agree(frame_info, audio_format, at, filled):
    """The C extension and the twin, side by side on the same frame and the same ring state."""
    if rtaudiod.backend() != "c":
        pytest.skip("C extension not in use")
    from types import SimpleNamespace

    from rtaudiod._ext import _codecs, _framing, _ring
    from rtaudiod._py import codecs, framing, ring

    results = []
    for impl in (SimpleNamespace(ring=_ring, codecs=_codecs, framing=_framing),
                 SimpleNamespace(ring=ring, codecs=codecs, framing=framing)):  # fmt: skip
        r = ring_at(impl, 8192, at)
        r.write(bytes(filled))
        results.append((impl.framing.decode_delta_into(frame_info[0], r, audio_format), state(r)))
    assert results[0] == results[1]
