"""The seed's way: websocket-client, `json` and `base64`, in plain threads, as the seed documents show it."""

from __future__ import annotations

import base64
import json
import time

import websocket

from benchmarks.e2e import harness


def client(args, mic: harness.Mic, conv: harness.Conversation):
    ws = websocket.create_connection(f"{args.url}?model=gpt-realtime", enable_multithread=True,
                                     header=[f"Authorization: Bearer {args.key}"])
    json.loads(ws.recv())  # session.created
    ws.send(json.dumps({"type": "session.update", "session": harness.session_settings(args.format)}))
    while json.loads(ws.recv())["type"] != "session.updated":
        pass
    encode, decode = harness.wire_codec(args.format)
    counts = {"frames_sent": 0, "audio_bytes_sent": 0}

    def send(pcm: bytes) -> None:
        wire = encode(pcm)
        ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(wire).decode()}))
        counts["audio_bytes_sent"] += len(wire)

    conv.truncate = lambda item_id, ms: ws.send(json.dumps({"type": "conversation.item.truncate", "item_id": item_id,
                                                            "content_index": 0, "audio_end_ms": ms}))

    def receive() -> None:
        while True:
            try:
                message = ws.recv()
            except Exception:  # closed at the end of the run
                return
            if not message:  # the close frame
                return
            t = time.perf_counter()
            event = json.loads(message)
            kind = event["type"]
            if kind == "response.output_audio.delta":
                conv.audio(decode(base64.b64decode(event["delta"])), event["item_id"], event["response_id"], t)
            else:
                conv.event(kind)

    uplink = harness.start_client_threads(receive, mic, send, counts)
    return uplink, lambda: dict(counts), ws.close


if __name__ == "__main__":
    harness.run(client)
