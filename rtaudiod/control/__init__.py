"""The control API: local processes drive the session through a Unix socket (docs/control-protocol.md).

One JSON object per line, requests echo an `id`, events never carry one, a `hello` first; a line may announce a raw
payload (`payload_length`, then the bytes: audio as PCM).

Serving (in the daemon):
    ControlServer(session, path, *, group=None, mode=0o660, allowed_uids=(), allowed_gids=(),
                  queue_limit_bytes=8 MiB, audio_queue_limit_bytes=512 KiB)
        .start() -> self        the socket file (mode and group set before anyone can connect; a stale one
                                replaced, a live one refused) and the threads `rtaudiod-control` (all socket I/O)
                                and `rtaudiod-control-cmd` (the commands that call into the session)
        .stop(timeout=5.0)      connections closed, clients' tools withdrawn, the socket file removed
        .path, .clients, .stats
    It subscribes to the session's events (`session.subscribe`), and to `audio.output` only while a client does.

Using (a client process):
    Client(path, timeout=10.0)  connects, reads the hello (`.hello`); thread-safe blocking
        .request(command, payload=None, **args) -> result dict       ControlError(code=...) on refusal
        .next_event(timeout) -> Event | None, .events(), .wait_for(name, predicate, timeout)
        .subscribe(*topics) -> snapshot, .unsubscribe(*topics), .status(), .send_text(text, respond=True),
        .turn_start(), .turn_end(respond=True) -> bool, .turn_cancel(), .cancel() -> bool, .mute(), .unmute(),
        .stop_playback(), .send_audio(pcm, rate, channels), .update(**settings),
        .register_tool(name, description, parameters), .tool_result(call_id, output), .ping(), .close()
    Event: .name, .data (dict), .payload (bytes | None)

Modules: `protocol` (framing only, no I/O: the incremental `Parser`, limits, error codes, encoders), `transport`
(`Transport`: the selectors loop, SO_PEERCRED, framing, per-client bounded queues; `Conn`), `socketfile` (the
socket file and its lock), `server` (`ControlServer`, the service: commands, subscriptions, tool routing, the
command thread), `commands` (one function per command, its arguments a msgspec Struct; where each runs; tool
routing), `client` (`Client`).
Errors: `rtaudiod.errors.ControlError` with `.code` (the protocol's codes, plus the client's own `connect_failed`,
`disconnected`, `no_reply`).
"""

from rtaudiod.errors import ControlError

from .client import Client, Event
from .commands import ALWAYS_SENT, COMMANDS, SETTABLE, TOPICS
from .protocol import CLIENT_CODES, ERROR_CODES, MAX_LINE, MAX_PAYLOAD, PROTOCOL_VERSION, Parser
from .server import ControlServer

__all__ = ["ALWAYS_SENT", "CLIENT_CODES", "COMMANDS", "Client", "ControlError", "ControlServer", "ERROR_CODES",
           "Event", "MAX_LINE", "MAX_PAYLOAD", "PROTOCOL_VERSION", "Parser", "SETTABLE", "TOPICS"]
