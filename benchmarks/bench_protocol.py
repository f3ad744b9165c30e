"""Server events to typed events, on the receive thread (every non-audio event), frames as received (a str).

One group per event:
  transcript-delta ga     response.output_audio_transcript.delta, with the `obfuscation` key the service adds
  transcript-delta beta   response.audio_transcript.delta (the same event, beta names)
  speech_started ga       input_audio_buffer.speech_started (the same name in both dialects)
  response.done ga        a finished audio response with its usage: the general path, since GA nests its shape
  mcp-arguments-delta ga  response.mcp_call_arguments.delta (GA only, typed since issue 20; before, an unknown
                          event: a refused typed decode, then the general path's JSON decode)
Contenders:
  rtaudiod     rtaudiod.protocol.decode_server_event(frame, dialect): one typed msgspec decode when the wire shape
               is the internal one, else the general path
  general      the general path alone (plain JSON decode, the dialect table, msgspec.convert): what every GA
               frame took before the typed decode learnt the GA names
  json.loads   the dict a plain client works with, the baseline (checked by mapping it to the same event)
"""

import json

import msgspec
import pytest

from benchmarks.conftest import timed
from rtaudiod.protocol import (ResponseAudioTranscriptDelta, ResponseDone, ResponseMcpCallArgumentsDelta,
                               SpeechStarted, codec, decode_server_event)
from rtaudiod.protocol.dialect import server_event_from_wire

IDS = ('"event_id":"event_CX7fTq2bVwD1sKx9Lr0aN","response_id":"resp_CX7fTpYhS3nQ8eW2mZ1oB",'
       '"item_id":"item_CX7fTpZk4rU5vI6cJ9dEf","output_index":0,"content_index":0')
USAGE = {"total_tokens": 1234, "input_tokens": 1016, "output_tokens": 218,
         "input_token_details": {"text_tokens": 840, "audio_tokens": 176, "cached_tokens": 768,
                                 "cached_tokens_details": {"text_tokens": 704, "audio_tokens": 64}},
         "output_token_details": {"text_tokens": 47, "audio_tokens": 171}}
TRANSCRIPT = "Sure. It's 18 degrees and sunny in Lyon right now, with a light wind from the north."
RESPONSE_DONE = {"type": "response.done", "event_id": "event_CX7fVa1b2C3d4E5f6G7h8", "response": {
    "object": "realtime.response", "id": "resp_CX7fTpYhS3nQ8eW2mZ1oB", "status": "completed", "status_details": None,
    "output": [{"id": "item_CX7fTpZk4rU5vI6cJ9dEf", "type": "message", "status": "completed", "role": "assistant",
                "content": [{"type": "output_audio", "transcript": TRANSCRIPT}]}],
    "conversation_id": "conv_CX7fSm0Q1w2E3r4T5y6U7", "output_modalities": ["audio"], "max_output_tokens": "inf",
    "audio": {"output": {"format": {"type": "audio/pcmu"}, "voice": "marin"}}, "usage": USAGE, "metadata": None}}

# group -> (dialect, frame, the event's class)
EVENTS = {
    "transcript-delta ga": ("ga", '{"type":"response.output_audio_transcript.delta",' + IDS
                            + ',"delta":" sunny in","obfuscation":"qZ3vX9kL"}', ResponseAudioTranscriptDelta),
    "transcript-delta beta": ("beta", '{"type":"response.audio_transcript.delta",' + IDS + ',"delta":" sunny in"}',
                              ResponseAudioTranscriptDelta),
    "speech_started ga": ("ga", '{"type":"input_audio_buffer.speech_started","event_id":"event_CX7fSx8Yq1W2e3R4t5Y6u",'
                          '"audio_start_ms":1764,"item_id":"item_CX7fSx9Zr2X3f4T5g6H7i"}', SpeechStarted),
    "response.done ga": ("ga", json.dumps(RESPONSE_DONE, separators=(",", ":")), ResponseDone),
    "mcp-arguments-delta ga": ("ga", '{"type":"response.mcp_call_arguments.delta","event_id":"event_CX7fTq2bVwD1sK'
                               'x9Lr0aN","response_id":"resp_CX7fTpYhS3nQ8eW2mZ1oB","item_id":"mcp_CX7fTpZk4rU5vI6cJ'
                               '9dEf","output_index":0,"delta":"{\\"repoName","obfuscation":"qZ3vX9kL"}',
                               ResponseMcpCallArgumentsDelta),
}


def same_event(result: dict, expected) -> bool:
    """json.loads's dict, mapped to the internal names and shapes, is the event rtaudiod decoded."""
    return msgspec.convert(server_event_from_wire(result), type(expected)) == expected


@pytest.mark.parametrize("contender", ["rtaudiod", "general", "json.loads"])
@pytest.mark.parametrize("event", [pytest.param(g, marks=pytest.mark.benchmark(group=g)) for g in EVENTS])
def test_server_event(benchmark, event, contender):
    dialect, frame, cls = EVENTS[event]
    expected = decode_server_event(frame, dialect)
    assert type(expected) is cls and expected == codec._decode_general(frame)
    if contender == "rtaudiod":
        timed(benchmark, decode_server_event, frame, dialect, contender=contender, expected=expected)
    elif contender == "general":
        timed(benchmark, codec._decode_general, frame, contender=contender, expected=expected)
    else:
        timed(benchmark, json.loads, frame, contender=contender, expected=expected, baseline=True, same=same_event)
