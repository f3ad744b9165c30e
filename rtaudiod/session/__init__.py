"""The Realtime session: websocket-client threads, turns, barge-in, tools, reconnect and renewal.

    from rtaudiod.audio import AudioConfig, AudioEngine
    from rtaudiod.session import RealtimeConfig, Session

    audio = AudioEngine(AudioConfig()).start()
    session = Session(RealtimeConfig(api_key=KEY, instructions="Be brief."), audio,
                      on_event=lambda topic, data: print(topic, data)).start()
    session.wait_ready(10)
    session.send_text("What time is it?")          # a text turn; the reply plays
    session.turn_start(); ...; session.turn_end()   # a push-to-talk turn
    session.register_tool("get_time", lambda call: '{"time": "12:00"}', "The local time")
    session.status()                                # state, counters, latency figures; never the key
    session.stop(); audio.close()

What goes in: a `RealtimeConfig` (where, credentials, settings, timing) and a running `AudioEngine` whose
`session_format` matches `audio_format`. What comes out: the reply on the speaker, events to subscribers
(`session.subscribe(topics, callback)`; `on_event(topic, data)` is one for every topic: `state`, `vad`,
`transcript.user`, `transcript.assistant`, `text`, `response`, `function_call`, `error`, `raw`; and `audio.output`
by name), `state` / `on_state`, `status()`.

Modules: `session` (the `Session`: life cycle, commands, status), `actor` (the one thread that owns the
conversation: an inbox of events, commands, tool results and timers), `conversation` and `events` (the conversation's
state and what each command and server event does to it: no threads, no I/O), `responses` (the response
bookkeeping as a state machine), `receiver` (the receive thread: the audio fast path and the latency-critical
reactions), `supervisor` (connect, reconnect, renew), `outbox` (the one writer path of a connection), `uplink`
(`UplinkGate`: the inject ring, pre-roll, listening gate and turn-end flush, and the uplink thread's loop),
`subscribers` (`session.subscribe(topics, callback)`), `link` (one connection's state and its receive loop),
`connection` (the WebSocket: connect, receive, send), `credentials` (API key or ephemeral key from `token_url`),
`config` (`RealtimeConfig`), `tools` (handlers and calls in flight), `history` (recent turns replayed into a new
session), `stats` (counters and latency figures).
"""

from rtaudiod.errors import SessionError

from .config import RealtimeConfig, ToolSpec, TurnDetectionConfig
from .session import FATAL_CODES, Session, State
from .tools import ToolCall

__all__ = ["FATAL_CODES", "RealtimeConfig", "Session", "SessionError", "State", "ToolCall", "ToolSpec",
           "TurnDetectionConfig"]
