"""rtaudiod-sim: a faithful local Realtime server (beta and GA dialects) for tests, demos and offline development.

Independent of the client on purpose: nothing here imports `rtaudiod.protocol` or rtaudiod's codecs.

In-process use (a `websockets` asyncio server on a background thread, 127.0.0.1, port 0 by default):

    with Simulator(dialect="ga", api_key="k", pace=0) as sim:   # pace=0: no pacing; the default 4 = 4x real time
        ws = websocket.create_connection(sim.url + "?model=gpt-realtime", header=["Authorization: Bearer k"])
        ...
        s = sim.wait_for_sessions(1)[0]
        s.received_events, s.invalid_messages   # what reached the server (dicts / unparseable frames)
        s.sent_events                           # every server event, as sent
        s.committed_audio[item_id]              # input audio bytes of each committed user item
        s.audio_sent_ms[item_id]                # assistant audio actually sent (truncation is checked against it)
        sim.drop_connections(1011)              # simulate a server failure

Modules: `server` (connection checks, lifecycle), `session` (per-connection state machine), `responder` (one
streamed response), `beta` / `ga` (wire shapes of each dialect), `events` (shared ids and internal model),
`validate` (strict client-event checks with the service's error codes), `vad` (energy VAD), `voice` (espeak-ng or
synthetic speech), `replies` (the deterministic answers), `formats` (audio formats, stdlib G.711), `jitter` (when
each audio delta goes out: the service's bursty arrival).
"""

from .server import Simulator
from .session import Options, SimSession

__all__ = ["Options", "SimSession", "Simulator"]
