"""The seed's way done carefully: websocket-client with `skip_utf8_validation=True` (its pure-Python UTF-8 check
is the slowest step of a receive), raw bytes in and out, one reused msgspec decoder, pybase64."""

from __future__ import annotations

import time

import msgspec
import pybase64
import websocket

from benchmarks.e2e import harness


class Event(msgspec.Struct):
    """The fields this client reads; msgspec skips the rest without building them."""
    type: str
    delta: str | None = None
    item_id: str | None = None
    response_id: str | None = None


APPEND = b'{"type":"input_audio_buffer.append","audio":"'


def client(args, mic: harness.Mic, conv: harness.Conversation):
    ws = websocket.create_connection(f"{args.url}?model=gpt-realtime", enable_multithread=True,
                                     skip_utf8_validation=True, header=[f"Authorization: Bearer {args.key}"])
    decoder = msgspec.json.Decoder(Event)
    encoder = msgspec.json.Encoder()
    decoder.decode(ws.recv_data()[1])  # session.created
    ws.send(encoder.encode({"type": "session.update", "session": harness.session_settings(args.format)}),
            websocket.ABNF.OPCODE_TEXT)
    while decoder.decode(ws.recv_data()[1]).type != "session.updated":
        pass
    encode, decode = harness.wire_codec(args.format)
    counts = {"frames_sent": 0, "audio_bytes_sent": 0}

    def send(pcm: bytes) -> None:
        wire = encode(pcm)
        ws.send(APPEND + pybase64.b64encode(wire) + b'"}', websocket.ABNF.OPCODE_TEXT)
        counts["audio_bytes_sent"] += len(wire)

    conv.truncate = lambda item_id, ms: ws.send(encoder.encode(
        {"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0, "audio_end_ms": ms}),
        websocket.ABNF.OPCODE_TEXT)

    def receive() -> None:
        while True:
            try:
                opcode, message = ws.recv_data()
            except Exception:  # closed at the end of the run
                return
            if opcode != websocket.ABNF.OPCODE_TEXT:  # the close frame
                return
            t = time.perf_counter()
            event = decoder.decode(message)
            kind = event.type
            if kind == "response.output_audio.delta":
                conv.audio(decode(pybase64.b64decode(event.delta, validate=True)), event.item_id, event.response_id, t)
            else:
                conv.event(kind)

    uplink = harness.start_client_threads(receive, mic, send, counts)
    return uplink, lambda: dict(counts), ws.close


if __name__ == "__main__":
    harness.run(client)
