"""Audio events on the wire, on both implementations: append frames parsed back with json.loads, delta
frames built with json.dumps in every shape the fast path may or may not vouch for."""

import array
import base64
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

BETA, GA = "response.audio.delta", "response.output_audio.delta"
AUDIO = bytes(range(256)) * 3 + b"\x00\x01"  # 770 bytes: the base64 ends in "="
B64 = base64.b64encode(AUDIO).decode()

# `impl` is a function-scoped fixture, but only a namespace of modules: safe to share between examples.
reuses_impl = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
# Text JSON can carry: no lone surrogates.
json_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


def delta_frame(audio: bytes = AUDIO, kind: str = BETA, **extra) -> str:
    """The compact frame a server sends: type first, delta last."""
    return json.dumps({"type": kind, **extra, "delta": base64.b64encode(audio).decode()}, separators=(",", ":"))


# ---- encode_append -------------------------------------------------------------------------------


def test_encode_append_exact_text(impl):
    out = impl.framing.encode_append(b"ABC")
    assert out == b'{"type":"input_audio_buffer.append","audio":"QUJD"}'
    assert impl.framing.encode_append(b"ABC", event_id="ev_1") == (
        b'{"type":"input_audio_buffer.append","event_id":"ev_1","audio":"QUJD"}'
    )


@pytest.mark.parametrize("audio", [b"", b"\x00", AUDIO, bytes(1 << 20)], ids=["empty", "one", "770", "1MiB"])
def test_encode_append_parses_back(impl, audio):
    event = json.loads(impl.framing.encode_append(audio))
    assert event == {"type": "input_audio_buffer.append", "audio": base64.b64encode(audio).decode()}
    assert list(event) == ["type", "audio"]


@pytest.mark.parametrize(
    "event_id", ["", 'quote " and backslash \\', "tab\tnewline\n\x00\x1f\x7f", "é€😀", "</script>"]
)
def test_encode_append_escapes_event_ids(impl, event_id):
    event = json.loads(impl.framing.encode_append(AUDIO, event_id=event_id))
    assert event == {"type": "input_audio_buffer.append", "event_id": event_id, "audio": B64}
    assert list(event) == ["type", "event_id", "audio"]


def test_encode_append_takes_any_bytes_like(impl):
    expected = impl.framing.encode_append(b"\x01\x02\x03\x04")
    for audio in (bytearray(b"\x01\x02\x03\x04"), memoryview(b"\x01\x02\x03\x04"), array.array("h", [0x0201, 0x0403])):
        assert impl.framing.encode_append(audio) == expected


def test_encode_append_takes_a_str_subclass_event_id(impl):
    class EventId(str):
        pass

    event = json.loads(impl.framing.encode_append(AUDIO, event_id=EventId("ev_7")))
    assert event == {"type": "input_audio_buffer.append", "event_id": "ev_7", "audio": B64}


@pytest.mark.parametrize("event_id", [1, b"ev", ["ev"]])
def test_encode_append_refuses_non_str_event_ids(impl, event_id):
    with pytest.raises(TypeError, match="event_id"):
        impl.framing.encode_append(b"ABC", event_id=event_id)


def test_encode_append_refuses_non_buffers(impl):
    with pytest.raises(TypeError):
        impl.framing.encode_append("ABC")


@reuses_impl
@given(audio=st.binary(max_size=2000), event_id=st.none() | json_text)
def test_encode_append_parses_back_for_any_audio_and_event_id(impl, audio, event_id):
    event = json.loads(impl.framing.encode_append(audio, event_id=event_id))
    assert base64.b64decode(event.pop("audio"), validate=True) == audio
    assert event.pop("event_id", None) == event_id
    assert event == {"type": "input_audio_buffer.append"}


# ---- decode_audio_delta --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [BETA, GA])
def test_decode_both_dialects(impl, kind):
    frame = delta_frame(kind=kind, event_id="ev_1", response_id="resp_1", item_id="item_1", output_index=0,
                        content_index=0)  # fmt: skip
    assert impl.framing.decode_audio_delta(frame) == AUDIO
    assert impl.framing.decode_audio_delta(frame.encode()) == AUDIO


@pytest.mark.parametrize(
    "frame",
    [
        '{"delta":"%s","type":"response.audio.delta"}' % B64,  # delta before type
        '{"event_id":"e","type":"response.audio.delta","delta":"%s"}' % B64,  # type not first
        ' {\n\t"type" : "response.audio.delta" ,\r\n "delta" : "%s" } \n' % B64,  # whitespace everywhere
        '{"type":"response.audio.delta","delta":"%s","item_id":"x"}' % B64,  # a field after delta
        '{"type":"response.audio.delta","n":-1.5e3,"t":true,"f":false,"z":null,"delta":"%s"}' % B64,
        '{"type":"response.audio.delta","obj":{"a":[1,2,{}]},"delta":"%s"}' % B64,  # nested values
        '{"type":"response.audio.delta","note":"caf\u00e9 \\" \\\\","delta":"%s"}' % B64,  # escapes, UTF-8
        '{"type":"response.audio.delta","delta":"%s"}' % B64.replace("/", "\\/"),  # escaped solidus
        '{"type":"response.audio.delta","delta":"\\u0041%s"}' % B64[1:],  # B64 starts with "A"
        '{"type":"response.audio.delt\\u0061","delta":"%s"}' % B64,  # escape inside the type
        '{"type":"response.audio.delta","type":"response.output_audio.delta","delta":"%s"}' % B64,
        '{"type":"response.audio.delta","delta":"QUJD","delta":"%s"}' % B64,  # the last duplicate wins
        '{"type":"response.audio.delta","a":1e400,"delta":"%s"}' % B64,  # beyond a double: still JSON
        '{"delta":"%s","type":"response.audio.delta","a":[1e400]}' % B64,
    ],
    ids=["delta-first", "type-not-first", "whitespace", "field-after-delta", "scalars", "nested", "escapes-utf8",
         "escaped-solidus", "escaped-delta-char", "escaped-type", "duplicate-type", "duplicate-delta", "1e400",
         "1e400-nested"],
)  # fmt: skip
def test_decode_frames_in_other_shapes(impl, frame):
    assert json.loads(frame)["delta"] == B64  # the oracle agrees it is this delta
    assert impl.framing.decode_audio_delta(frame) == AUDIO
    assert impl.framing.decode_audio_delta(frame.encode()) == AUDIO


def test_decode_empty_delta(impl):
    assert impl.framing.decode_audio_delta('{"type":"response.audio.delta","delta":""}') == b""


@pytest.mark.parametrize(
    "frame",
    [
        '{"type":"response.audio_transcript.delta","delta":"hello"}',
        '{"type":"response.output_audio_transcript.delta","delta":"QUJD"}',
        '{"type":"response.audio.done","event_id":"e"}',
        '{"type":"response.audio.delta.extra","delta":"QUJD"}',
        '{"type":"Response.audio.delta","delta":"QUJD"}',
        '{"type":"session.created","session":{"id":"s"}}',
        '{"event_id":"e","type":"error","error":{"message":"x"}}',
        '{"delta":"QUJD"}',
        "{}",
        '{"type":null,"delta":"QUJD"}',
        '{"type":5,"delta":"QUJD"}',
        '{"type":["response.audio.delta"],"delta":"QUJD"}',
        '{"type":{"a":1},"delta":"QUJD"}',
        '["response.audio.delta"]',
        '"response.audio.delta"',
        "42",
        "null",
    ],
)
def test_other_events_are_none(impl, frame):
    json.loads(frame)  # well-formed: the only reason for None is that it is not an audio delta
    assert impl.framing.decode_audio_delta(frame) is None
    assert impl.framing.decode_audio_delta(frame.encode()) is None


@pytest.mark.parametrize(
    "frame",
    [
        "",
        "   ",
        "{",
        '{"type":"response.audio.delta","delta":"QUJD"',
        '{"type":"response.audio.delta","delta":"QUJD"}}',
        '{"type":"response.audio.delta","delta":"QUJD"} x',
        '{"type":"response.audio.delta","delta":"QUJD",}',
        "{'type':'response.audio.delta','delta':'QUJD'}",
        '{"type":"response.audio.delta","delta":"QU\nJD"}',  # a raw control character in a string
        '{"type":"response.audio.delta","n":01,"delta":"QUJD"}',
        '{"type":"response.audio.delta","delta":"QUJD\\"}',
        '{"type":"response.audio.delta","delta":"QUJD"}\x00',
    ],
)
def test_broken_json_is_a_value_error(impl, frame):
    with pytest.raises(ValueError):
        json.loads(frame)  # the oracle agrees
    with pytest.raises(ValueError):
        impl.framing.decode_audio_delta(frame)
    with pytest.raises(ValueError):
        impl.framing.decode_audio_delta(frame.encode())


def test_invalid_utf8_is_a_value_error(impl):
    with pytest.raises(ValueError):
        impl.framing.decode_audio_delta(b'{"type":"response.audio.delta","x":"\xff","delta":"QUJD"}')


@pytest.mark.parametrize(
    "frame, reason",
    [
        ('{"type":"response.audio.delta"}', "missing"),
        ('{"type":"response.output_audio.delta","event_id":"e"}', "missing"),
        ('{"type":"response.audio.delta","delta":null}', "not a string"),  # present, though null
        ('{"type":"response.audio.delta","delta":1234}', "not a string"),
        ('{"type":"response.audio.delta","delta":["QUJD"]}', "not a string"),
        ('{"delta":{"b64":"QUJD"},"type":"response.audio.delta"}', "not a string"),
    ],
)
def test_delta_missing_or_not_a_string_is_a_value_error(impl, frame, reason):
    with pytest.raises(ValueError, match=reason):
        impl.framing.decode_audio_delta(frame)


@pytest.mark.parametrize("delta", ["QUJ", "QU JD", "QUJD\\n", "QUJD=", "QQ==QUJD", "QU-D", "QU_D", "QUJ\\u00e9"])
def test_delta_with_bad_base64_is_a_value_error(impl, delta):
    for frame in ('{"type":"response.audio.delta","delta":"%s"}' % delta, '{"delta":"%s","type":"%s"}' % (delta, GA)):
        with pytest.raises(ValueError, match="base64"):
            impl.framing.decode_audio_delta(frame)
        with pytest.raises(ValueError, match="base64"):
            impl.framing.decode_audio_delta(frame.encode())


def test_decode_takes_str_and_any_bytes_like(impl):
    frame = delta_frame()
    for form in (frame, frame.encode(), bytearray(frame.encode()), memoryview(frame.encode()), Text(frame)):
        assert impl.framing.decode_audio_delta(form) == AUDIO
    with pytest.raises(TypeError):
        impl.framing.decode_audio_delta(None)
    assert impl.framing.decode_audio_delta(Text('{"delta":"%s","type":"%s"}' % (B64, GA))) == AUDIO  # full decode
    with pytest.raises(BufferError):
        impl.framing.decode_audio_delta(memoryview(frame.encode())[::2])


class Text(str):
    """A str subclass: CPython does not store it as a compact ASCII string."""


def test_non_ascii_str_frames(impl):
    frame = '{"type":"response.audio.delta","transcript":"h\u00e9llo \u4e16\u754c","delta":"%s"}' % B64
    assert impl.framing.decode_audio_delta(frame) == AUDIO
    assert impl.framing.decode_audio_delta(frame.encode()) == AUDIO


def test_delta_types_constant(impl):
    assert impl.framing.DELTA_TYPES == frozenset((BETA, GA))


@st.composite
def server_frames(draw):
    """A delta frame as any JSON encoder might write it: random audio, dialect, extra fields, key
    order, whitespace, ASCII escaping and escaped solidus. Returns (frame, audio)."""
    audio = draw(st.binary(max_size=3000))
    fields = {"type": draw(st.sampled_from([BETA, GA])), "delta": base64.b64encode(audio).decode()}
    extra = draw(st.dictionaries(
        st.sampled_from(["event_id", "response_id", "item_id", "output_index", "content_index", "meta", "x"]),
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | json_text
        | st.lists(st.integers(), max_size=3) | st.dictionaries(json_text, st.integers(), max_size=2),
        max_size=5,
    ))  # fmt: skip
    fields.update(extra)
    keys = draw(st.permutations(sorted(fields)))
    indent = draw(st.sampled_from([None, 0, 2]))
    separators = draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,", " : ")]))
    text = json.dumps({k: fields[k] for k in keys}, indent=indent, separators=separators,
                      ensure_ascii=draw(st.booleans()))  # fmt: skip
    if draw(st.booleans()):
        text = text.replace("/", "\\/")  # '/' only occurs inside strings; '\/' is its JSON escape
    if draw(st.booleans()):
        text = " \n" + text + "\r\n"
    return text, audio


@reuses_impl
@given(server_frames(), st.booleans())
def test_decode_gives_back_the_audio_of_any_delta_frame(impl, frame_audio, as_bytes):
    frame, audio = frame_audio
    assert impl.framing.decode_audio_delta(frame.encode() if as_bytes else frame) == audio


@reuses_impl
@given(server_frames(), st.integers(0, 4095))
def test_decode_into_gives_back_the_audio_of_any_delta_frame(impl, frame_audio, start):
    frame, audio = frame_audio
    ring = impl.ring.RingBuffer(4096)
    ring.write(bytes(start))
    ring.skip(start)  # the write starts anywhere, so it often wraps
    assert impl.framing.decode_audio_delta_into(frame, ring) == len(audio)
    assert ring.read(4096) == audio


# ---- decode_audio_delta_into ---------------------------------------------------------------------


def advanced_ring(impl, capacity: int, at: int):
    """An empty ring whose next write starts at offset `at` of its storage."""
    ring = impl.ring.RingBuffer(capacity)
    ring.write(bytes(at))
    assert ring.skip(at) == at
    return ring


@pytest.mark.parametrize(
    "frame",
    [delta_frame(AUDIO), '{"delta":"%s","type":"response.output_audio.delta"}' % B64],
    ids=["fast", "full-decode"],
)
def test_decode_into_splits_across_the_wrap(impl, frame):
    ring = advanced_ring(impl, 1024, 1000)  # 24 bytes to the end of the storage, 746 after the wrap
    assert impl.framing.decode_audio_delta_into(frame, ring) == len(AUDIO)
    first, second = ring.get_read_regions(len(AUDIO))
    assert (len(first), len(second)) == (24, len(AUDIO) - 24)
    assert bytes(first) + bytes(second) == AUDIO
    assert ring.read(2048) == AUDIO


def test_decode_into_appends_after_what_is_there(impl):
    ring = impl.ring.RingBuffer(2048)
    ring.write(b"head")
    assert impl.framing.decode_audio_delta_into(delta_frame(b"ABC"), ring) == 3
    assert impl.framing.decode_audio_delta_into(delta_frame(b"DEFG", GA).encode(), ring) == 4
    assert ring.read(100) == b"headABCDEFG"


@pytest.mark.parametrize("frame", ['{"type":"session.created"}', '{"type":"response.done","response":{}}'])
def test_decode_into_other_events_is_none_and_writes_nothing(impl, frame):
    ring = impl.ring.RingBuffer(64)
    assert impl.framing.decode_audio_delta_into(frame, ring) is None
    assert ring.read_available == 0


def ring_state(ring):
    return ring.read_available, ring.write_available, ring.overruns, bytes(b"".join(ring.get_read_regions(1 << 20)))


@pytest.mark.parametrize(
    "frame",
    [delta_frame(AUDIO), '{"delta":"%s","type":"response.audio.delta"}' % B64],
    ids=["fast", "full-decode"],
)
def test_decode_into_a_ring_without_room_raises_and_writes_nothing(impl, frame):
    ring = advanced_ring(impl, 1024, 900)
    ring.write(b"x" * (1024 - len(AUDIO) + 1))  # one byte short of room for the audio
    before = ring_state(ring)
    with pytest.raises(BufferError):
        impl.framing.decode_audio_delta_into(frame, ring)
    assert ring_state(ring) == before
    ring.skip(1)  # now it fits exactly
    assert impl.framing.decode_audio_delta_into(frame, ring) == len(AUDIO)
    assert ring.write_available == 0 and ring.read(2048)[-len(AUDIO) :] == AUDIO


@pytest.mark.parametrize("delta", ["QUJ", "QUJD!!!!", "QUJDQQ==QUJD", "QUJDQUJDQUJ\\n"])
def test_decode_into_with_bad_base64_raises_and_writes_nothing(impl, delta):
    ring = advanced_ring(impl, 16, 10)
    ring.write(b"keep")
    before = ring_state(ring)
    with pytest.raises(ValueError, match="base64"):
        impl.framing.decode_audio_delta_into('{"type":"response.audio.delta","delta":"%s"}' % delta, ring)
    assert ring_state(ring) == before


def test_decode_into_needs_room_for_the_audio_not_for_its_escaped_text(impl):
    """'\\/' is one base64 character in two bytes of frame: 8 characters, 6 bytes of audio, a ring
    with exactly 6 bytes free."""
    ring = impl.ring.RingBuffer(16)
    ring.write(bytes(10))
    assert impl.framing.decode_audio_delta_into('{"type":"response.audio.delta","delta":"QUJD\\/\\/\\/\\/"}', ring) == 6
    assert ring.read(16)[10:] == b"ABC\xff\xff\xff"


def test_decode_into_bad_base64_is_a_value_error_even_when_the_ring_is_small(impl):
    """A broken delta is reported as broken, not as a ring too small for it."""
    ring = impl.ring.RingBuffer(4)
    with pytest.raises(ValueError, match="base64"):
        impl.framing.decode_audio_delta_into('{"type":"response.audio.delta","delta":"QUJD!!!!QUJD"}', ring)
    assert ring.read_available == 0


def test_decode_into_refuses_what_is_not_its_ring(impl):
    with pytest.raises(TypeError):
        impl.framing.decode_audio_delta_into(delta_frame(), None)
    with pytest.raises(TypeError):
        impl.framing.decode_audio_delta_into(delta_frame(), bytearray(4096))


def test_decode_into_many_frames_through_a_small_ring(impl):
    """A consumer draining between frames: every byte arrives once and in order."""
    rnd = random.Random(5)
    ring = impl.ring.RingBuffer(1000)
    sent, got = bytearray(), bytearray()
    for i in range(300):
        audio = rnd.randbytes(rnd.randint(0, 900))
        if ring.write_available < len(audio):
            got += ring.read(ring.read_available)  # the consumer catches up
        frame = delta_frame(audio, GA if i % 2 else BETA, event_id=f"ev_{i}")
        assert impl.framing.decode_audio_delta_into(frame if i % 3 else frame.encode(), ring) == len(audio)
        sent += audio
    got += ring.read(ring.read_available)
    assert got == sent


# ---- the leading type decides ----------------------------------------------------------------------
# A frame opening with {"type":"<T>" (no backslash in T) where T is not an audio delta is another event;
# its rest is not examined (the receive thread's full event decode reports damage there).


@pytest.mark.parametrize(
    "frame",
    [
        '{"type":"session.created", broken',
        '{"type":"session.created"',
        ' {\n "type" :\t"session.\x01created"}',
        b'{"type":"session.\xffcreated"}',
        '{"type":"session.updated","type":"response.audio.delta","delta":"QUJD"}',
    ],
)
def test_a_leading_other_type_is_another_event_whatever_follows(impl, frame):
    assert impl.framing.decode_audio_delta(frame) is None


@pytest.mark.parametrize(
    "frame",
    ['{"event_id":"e1","type":"session.created", broken', '{"type":"session\\u002ecreated", broken'],
)
def test_a_broken_frame_without_a_plain_leading_type_is_a_value_error(impl, frame):
    with pytest.raises(ValueError):
        impl.framing.decode_audio_delta(frame)


def test_a_later_duplicate_type_after_a_leading_delta_decides_as_in_the_full_decode(impl):
    frame = '{"type":"response.audio.delta","type":"session.updated","delta":"QUJD"}'
    assert json.loads(frame)["type"] == "session.updated"  # json.loads and msgspec: the last duplicate wins
    assert impl.framing.decode_audio_delta(frame) is None


# ---- large deltas: the C wrappers decode them with the GIL released -----------------------------------


@pytest.mark.parametrize("kind", [BETA, GA])
def test_large_deltas_decode_whole_and_across_the_wrap(impl, kind):
    """A delta of more than 64 KiB of base64 (the C wrappers' threshold for releasing the GIL), straight and
    into a ring where it wraps; broken at its end, it is still a ValueError that writes nothing."""
    audio = random.Random(9).randbytes(300_001)
    frame = delta_frame(audio, kind, event_id="ev_big")
    assert impl.framing.decode_audio_delta(frame) == audio
    assert impl.framing.decode_audio_delta(frame.encode()) == audio
    ring = advanced_ring(impl, 1 << 19, (1 << 19) - 1000)  # 1000 bytes to the end of the storage
    assert impl.framing.decode_audio_delta_into(frame, ring) == len(audio)
    assert lengths_of(ring.get_read_regions(len(audio))) == (1000, len(audio) - 1000)
    assert ring.read(len(audio)) == audio
    broken = frame[: -len('"}') - 4] + '!!!!"}'
    before = ring_state(ring)
    with pytest.raises(ValueError, match="base64"):
        impl.framing.decode_audio_delta(broken)
    with pytest.raises(ValueError, match="base64"):
        impl.framing.decode_audio_delta_into(broken, ring)
    assert ring_state(ring) == before


def lengths_of(regions) -> tuple[int, int]:
    return len(regions[0]), len(regions[1])
