"""The official `openai` package's GA realtime client: `OpenAI(...).realtime.connect(...)`, one thread sending the
appends while another reads the events (recv_bytes + parse_event is what recv() does, split to time the parse)."""

from __future__ import annotations

import base64
import time

from openai import OpenAI

from benchmarks.e2e import harness


def client(args, mic: harness.Mic, conv: harness.Conversation):
    base = args.url.removeprefix("ws://").removesuffix("/realtime")  # 127.0.0.1:PORT/v1
    openai = OpenAI(api_key=args.key, base_url=f"http://{base}", websocket_base_url=f"ws://{base}")
    manager = openai.realtime.connect(model="gpt-realtime")
    conn = manager.enter()
    conn.recv()  # session.created
    conn.session.update(session=harness.session_settings(args.format))
    while conn.recv().type != "session.updated":
        pass
    encode, decode = harness.wire_codec(args.format)
    counts = {"frames_sent": 0, "audio_bytes_sent": 0}

    def send(pcm: bytes) -> None:
        wire = encode(pcm)
        conn.input_audio_buffer.append(audio=base64.b64encode(wire).decode())
        counts["audio_bytes_sent"] += len(wire)

    conv.truncate = lambda item_id, ms: conn.conversation.item.truncate(item_id=item_id, content_index=0,
                                                                        audio_end_ms=ms)

    def receive() -> None:
        while True:
            try:
                message = conn.recv_bytes()
            except Exception:  # closed at the end of the run
                return
            t = time.perf_counter()
            event = conn.parse_event(message)
            kind = event.type
            if kind == "response.output_audio.delta":
                conv.audio(decode(base64.b64decode(event.delta)), event.item_id, event.response_id, t)
            else:
                conv.event(kind)

    uplink = harness.start_client_threads(receive, mic, send, counts)
    return uplink, lambda: dict(counts), lambda: manager.__exit__(None, None, None)


if __name__ == "__main__":
    harness.run(client)
