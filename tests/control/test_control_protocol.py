"""The framing layer alone (no sockets): lines, payloads, limits, the errors that keep a connection and the ones
that end it, and the encoders."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtaudiod.control.protocol import (MAX_LINE, MAX_PAYLOAD, BadLine, Message, Parser, Unframeable, encode_error,
                                       encode_event, encode_line, encode_reply, encode_request)


def parse(data: bytes, **kwargs) -> list:
    p = Parser(**kwargs)
    p.feed(data)
    return list(p)


def test_lines_crlf_blank_lines_and_payloads():
    data = (b'{"id": 1, "command": "ping"}\n\r\n   \n{"id": 2}\r\n'
            b'{"command": "audio.input", "payload_length": 5}\nabcde{"payload_length": 0}\n')
    assert parse(data) == [Message({"id": 1, "command": "ping"}, None), Message({"id": 2}, None),
                           Message({"command": "audio.input", "payload_length": 5}, b"abcde"),
                           Message({"payload_length": 0}, b"")]


def test_a_payload_may_hold_newlines_and_arrive_in_pieces():
    p = Parser()
    p.feed(b'{"payload_length": 4}\n\n\n')
    assert p.next() is None and p.in_payload
    p.feed(b"\n\n{")
    assert p.next() == Message({"payload_length": 4}, b"\n\n\n\n")
    assert p.next() is None and p.buffered == 1


@pytest.mark.parametrize("line, what", [
    (b"not json", "not valid JSON"), (b"[1, 2]", "not a JSON object"), (b'"text"', "not a JSON object"),
    (b'{"a": 1', "not valid JSON"), (b'{"a": "\xff"}', "not valid JSON"), (b"[" * 60000, "not valid JSON"),
    (b'{"id": "\\ud800"}', "not valid JSON"),
], ids=["text", "array", "string", "unterminated", "bad-utf8", "deep-nesting", "lone-surrogate"])
def test_a_line_that_is_not_an_object_is_a_bad_line_and_the_stream_goes_on(line, what):
    out = parse(line + b'\n{"id": 3}\n')
    assert len(out) == 2 and type(out[0]) is BadLine and out[0].code == "bad_json" and what in out[0].message
    assert out[1] == Message({"id": 3}, None)


def test_the_line_limit_counts_the_line_without_its_ending():
    exact = b'"' + b"x" * (MAX_LINE - 2) + b'"'
    assert parse(exact + b"\r\n") == [BadLine("bad_json", "not a JSON object (a JSON str)")]
    p = Parser()
    p.feed(exact + b"x\n")
    with pytest.raises(Unframeable) as e:
        p.next()
    assert e.value.code == "line_too_long"
    with pytest.raises(Unframeable):  # dead from now on
        p.next()


def test_an_endless_line_fails_before_its_end_arrives():
    p = Parser()
    for _ in range(MAX_LINE // 4096):
        p.feed(b"y" * 4096)
        assert p.next() is None
    p.feed(b"yy")
    with pytest.raises(Unframeable) as e:
        p.next()
    assert e.value.code == "line_too_long" and p.buffered == 0


@pytest.mark.parametrize("value, code", [
    (MAX_PAYLOAD + 1, "payload_too_large"), (-1, "bad_request"), (1.5, "bad_request"), ('"12"', "bad_request"),
    ("true", "bad_request"), ("[]", "bad_request"),
])
def test_a_payload_length_that_cannot_be_followed_ends_the_stream(value, code):
    p = Parser()
    p.feed(b'{"id": 9, "payload_length": ' + str(value).encode() + b"}\n")
    with pytest.raises(Unframeable) as e:
        p.next()
    assert e.value.code == code and e.value.request_id == 9


def test_the_largest_payload_is_accepted():
    p = Parser()
    p.feed(b'{"payload_length": %d}\n' % MAX_PAYLOAD)
    p.feed(bytes(MAX_PAYLOAD))
    assert p.next() == Message({"payload_length": MAX_PAYLOAD}, bytes(MAX_PAYLOAD))


messages = st.lists(st.tuples(
    st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=20), st.booleans()), max_size=4)
    .map(lambda d: {k: v for k, v in d.items() if k != "payload_length"}),
    st.one_of(st.none(), st.binary(max_size=300))), max_size=8)


@given(messages, st.lists(st.integers(1, 50), min_size=1, max_size=20), st.booleans())
def test_any_split_of_the_stream_gives_the_same_messages(items, cuts, crlf):
    stream = b""
    expected = []
    for header, payload in items:
        if payload is not None:
            header = {**header, "payload_length": len(payload)}
        stream += json.dumps(header).encode() + (b"\r\n" if crlf else b"\n") + (payload or b"")
        expected.append(Message(header, payload))
    p = Parser()
    got, pos, i = [], 0, 0
    while pos < len(stream):
        step = cuts[i % len(cuts)]
        p.feed(stream[pos: pos + step])
        pos, i = pos + step, i + 1
        got.extend(p)
    assert got == expected and p.buffered == 0


def test_encoders_make_one_line_and_events_never_carry_an_id():
    assert encode_reply(7, {}) == b'{"id":7,"result":{}}\n'
    assert encode_error(None, "bad_json", "x") == b'{"id":null,"error":{"code":"bad_json","message":"x"}}\n'
    line = encode_event("state", {"state": "ready", "id": 3, "event": "other"})
    assert json.loads(line) == {"event": "state", "state": "ready"}
    assert json.loads(encode_event("audio.output", {"rate": 24000}, 960)) == {"event": "audio.output", "rate": 24000,
                                                                             "payload_length": 960}
    assert json.loads(encode_request(1, "ping", {})) == {"id": 1, "command": "ping"}
    # a payload_length in an event's data would announce bytes that never come
    assert json.loads(encode_event("error", {"payload_length": 5, "code": "x"})) == {"event": "error", "code": "x"}
    assert line.count(b"\n") == 1 and line.endswith(b"\n")


def test_encoding_never_fails_on_odd_values():
    import enum

    import msgspec

    class Colour(enum.Enum):
        RED = "red"

    line = encode_line({"s": "lone \ud800 surrogate", "u": msgspec.UNSET, "e": Colour.RED, "b": b"raw",
                        "o": object.__name__, 1: "int key"})
    assert json.loads(line) == {"s": "lone ? surrogate", "u": None, "e": "red", "b": "raw", "o": "object",
                                "1": "int key"}
