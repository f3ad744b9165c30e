"""N local programs listening to rtaudiod's reply audio: `audio.output` subscribers on its control socket, each a
control Client with a thread draining its events. Their CPU is theirs (this process), not the daemon's.

    python -m benchmarks.e2e.subscribers N SOCKET      (SIGTERM: one JSON line, the PCM bytes each received)
"""

from __future__ import annotations

import json
import signal
import sys
import threading

from rtaudiod.control import Client


def main() -> None:
    count, path = int(sys.argv[1]), sys.argv[2]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    received = [0] * count
    clients = [Client(path) for _ in range(count)]

    def drain(i: int, client: Client) -> None:
        for event in client.events():
            if event.name == "audio.output" and event.payload:
                received[i] += len(event.payload)

    for i, client in enumerate(clients):
        client.subscribe("audio.output")
        threading.Thread(target=drain, args=(i, client), daemon=True).start()
    stop.wait()
    for client in clients:
        client.close()
    print(json.dumps({"subscribers": count, "pcm_bytes": received}), flush=True)


if __name__ == "__main__":
    main()
