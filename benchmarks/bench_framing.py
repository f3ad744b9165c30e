"""Audio events on the wire.

Append framing of a 20 ms frame, {"type":"input_audio_buffer.append","audio":"<base64>"}:
  rtaudiod.framing.encode_append        vs
  json+b64   json.dumps({...}) with base64.b64encode text: the plain client (returns str), the baseline
  msgspec    a reused msgspec.json.Encoder on a dict with pybase64 text
  concat     byte concatenation around pybase64.b64encode (DESIGN.md's frontier, 0.31 µs)

Parsing a server audio delta frame as received (a str), to the audio bytes (None for other events):
  rtaudiod        rtaudiod.framing.decode_audio_delta
  rtaudiod-into   rtaudiod.framing.decode_audio_delta_into a RingBuffer, then ring.skip(n) to drain it
                  (the consumer's side, so every round starts with an empty ring)
  json+b64        json.loads + base64.b64decode: the plain client, the baseline
  msgspec         a reused msgspec.json.Decoder of a Struct(type, delta) + pybase64.b64decode(validate=True)
                  (a Struct ignores the other fields; a little faster than a dict)
"""

import base64
import binascii
import json

import msgspec
import pybase64
import pytest

from benchmarks.conftest import FRAME_8K, FRAME_24K, pcm, timed
from rtaudiod import framing
from rtaudiod.ring import RingBuffer

DELTA_TYPES = frozenset(framing.AUDIO_DELTA_TYPES)


# -- append framing ----------------------------------------------------------------------------------
APPEND_HEAD = b'{"type":"input_audio_buffer.append","audio":"'
APPEND_TAIL = b'"}'
_encoder = msgspec.json.Encoder()


def append_json(audio):
    return json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(audio).decode("ascii")})


def append_msgspec(audio):
    return _encoder.encode({"type": "input_audio_buffer.append", "audio": pybase64.b64encode_as_string(audio)})


def append_concat(audio):
    return APPEND_HEAD + pybase64.b64encode(audio) + APPEND_TAIL


APPEND = {
    "rtaudiod": framing.encode_append,
    "json+b64": append_json,
    "msgspec": append_msgspec,
    "concat": append_concat,
}
APPEND_SIZES = {"20ms@8k": FRAME_8K * 2, "20ms@24k": FRAME_24K * 2}
APPEND_TARGET_24K = 8.0  # issue 2: >= 8x json.dumps + b64encode on a 20 ms 24 kHz frame


def same_json(result, expected):
    return json.loads(result) == json.loads(expected)


@pytest.mark.parametrize("contender", list(APPEND))
@pytest.mark.parametrize(
    "size", [pytest.param(s, marks=pytest.mark.benchmark(group=f"append {s}")) for s in APPEND_SIZES]
)
def test_append(benchmark, size, contender):
    audio = pcm(APPEND_SIZES[size])
    expected = framing.encode_append(audio)
    assert json.loads(expected) == {"type": "input_audio_buffer.append", "audio": base64.b64encode(audio).decode()}
    is_baseline = contender == "json+b64"
    target = APPEND_TARGET_24K if is_baseline and size == "20ms@24k" else None
    # The plain client's text differs in whitespace only (json.dumps's ", " and ": "); the others are exact.
    timed(benchmark, APPEND[contender], audio, contender=contender, expected=expected, baseline=is_baseline,
          target=target, same=same_json if is_baseline else None)


# -- delta parsing -----------------------------------------------------------------------------------
DIALECTS = {"ga": "response.output_audio.delta", "beta": "response.audio.delta"}
DELTA_SIZES = {"960B": 960, "4800B": 4800}  # decoded audio: 20 ms and 100 ms at 24 kHz
DELTA_TARGET_4800 = 5.0  # issue 2: >= 5x json.loads + b64decode on a 4,800-byte delta


def delta_frame(event_type: str, audio: bytes) -> str:
    """A server frame as the Realtime API sends it: fields in the API's order, compact, ASCII."""
    return (
        f'{{"type":"{event_type}","event_id":"event_CX7fTq2bVwD1sKx9Lr0aN","response_id":"resp_CX7fTpYhS3nQ8eW2mZ1oB",'
        f'"item_id":"item_CX7fTpZk4rU5vI6cJ9dEf","output_index":0,"content_index":0,'
        f'"delta":"{binascii.b2a_base64(audio, newline=False).decode()}"}}'
    )


def delta_json(frame):
    event = json.loads(frame)
    return base64.b64decode(event["delta"]) if event.get("type") in DELTA_TYPES else None


class AudioDelta(msgspec.Struct):
    type: str
    delta: str | None = None


_delta_decoder = msgspec.json.Decoder(AudioDelta)


def delta_msgspec(frame):
    event = _delta_decoder.decode(frame)
    return pybase64.b64decode(event.delta, validate=True) if event.type in DELTA_TYPES else None


def delta_into(frame, ring, into=framing.decode_audio_delta_into):
    n = into(frame, ring)
    ring.skip(n)
    return n


@pytest.mark.parametrize("contender", ["rtaudiod", "rtaudiod-into", "json+b64", "msgspec"])
@pytest.mark.parametrize(
    "size,dialect",
    [
        pytest.param(s, d, marks=pytest.mark.benchmark(group=f"delta {s} {d}"), id=f"{s}-{d}")
        for s in DELTA_SIZES
        for d in DIALECTS
    ],
)
def test_delta(benchmark, size, dialect, contender):
    audio = pcm(DELTA_SIZES[size])
    frame = delta_frame(DIALECTS[dialect], audio)
    assert framing.decode_audio_delta(frame) == audio
    is_baseline = contender == "json+b64"
    target = DELTA_TARGET_4800 if is_baseline and size == "4800B" else None
    if contender == "rtaudiod-into":
        ring = RingBuffer(1 << 16)
        assert framing.decode_audio_delta_into(frame, ring) == len(audio) and ring.read(len(audio)) == audio
        timed(benchmark, delta_into, frame, ring, contender=contender, expected=len(audio))
        assert ring.read_available == 0
        return
    fn = {"rtaudiod": framing.decode_audio_delta, "json+b64": delta_json, "msgspec": delta_msgspec}[contender]
    timed(benchmark, fn, frame, contender=contender, expected=audio, baseline=is_baseline, target=target)
