"""The WebSocket server: `Simulator` runs a `websockets` asyncio server on a background thread.

Connection checks, in the service's order and words. Each refusal is one `error` event, then a close whose reason
is `<error type>.<code>`; authentication failures close with 3000, request-shape failures with 4000 (GA service
capture, issue 7 brief; public reports: "received 3000 (registered) invalid_request_error.invalid_api_key",
twilio-samples/speech-assistant-openai-realtime-api-python#4; "received 4000 (private use)
invalid_request_error.invalid_intent", BerriAI/litellm#13471):
- path must be `/v1/realtime` (else HTTP 404);
- `Authorization: Bearer KEY` (the `api_key` given, or any non-empty key when none is given); a missing or wrong key
  gets `invalid_api_key`, close 3000;
- `ga` dialect: a beta-shaped session (`OpenAI-Beta: realtime=v1`) gets `beta_api_shape_disabled`, close 4000
  ("The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API.", reason
  `invalid_request_error.beta_api_shape_disabled`: jsboige/CoursIA#13149, a capture of the live service);
- `beta` dialect: the `OpenAI-Beta: realtime=v1` header is required, as the seeds say ("必需"); without it the
  client gets `missing_beta_header` and close 4000. A client that forgets the header would be answered in the GA
  shape by the real service, so passing it silently would hide a real bug;
- the query's `model=` is required in both dialects (the seeds give the WebSocket URL with "查询参数: model" and
  every example carries it; GA service capture, issue 7 brief: refused with 4000): without it,
  `missing_required_parameter` (param `model`; the wording is the API's usual one, the live text was not captured);
  an unknown model gets `model_not_found` (wording: openai/openai-realtime-console#561), close 4000.

Keepalive: the server pings every `ping_interval` seconds (the service every ~20 s: GA service capture, issue 7
brief) and closes a connection whose pong is `ping_timeout` seconds late (websockets: close 1011). `stop()` closes
every session at once with 1001 (going away) and drops a client that does not answer the close within
`STOP_GRACE_S`.
"""

import asyncio
import ipaddress
import json
import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from .beta import BetaDialect
from .events import KNOWN_MODELS, new_id
from .ga import GADialect
from .jitter import Jitter
from .session import (FIRST_AUDIO_LATENCY_S, MAX_SESSION_S, RESPONSE_LATENCY_S, TRANSCRIPTION_LATENCY_S, Options,
                      SimSession)

PATH = "/v1/realtime"
#: An append may carry up to 15 MiB ("up to a maximum of 15 MiB", `InputAudioBufferAppendEvent` in the openai
#: models); the frame limit leaves room for the JSON around it. A larger frame is closed with 1009 by websockets.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
#: The service pings every ~20 s (GA service capture, issue 7 brief); the pong deadline is websockets' default.
PING_INTERVAL_S = 20.0
PING_TIMEOUT_S = 20.0
#: On stop(), how long a client may take to answer the 1001 close before its connection is dropped.
STOP_GRACE_S = 0.5
GOING_AWAY = 1001
DIALECTS = {"beta": BetaDialect, "ga": GADialect}
#: The websockets server's own logger. Its DEBUG lines print every handshake header, the client's API key among
#: them: kept at INFO so no log of a test run (caplog at DEBUG included) ever shows a key.
WS_LOG = logging.getLogger("rtaudiod.sim.websockets")
WS_LOG.setLevel(logging.INFO)


def check_loopback(host: str) -> None:
    """The simulator only ever listens on a loopback address."""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ValueError(f"rtaudiod-sim listens on loopback addresses only, not {host!r}")


class Simulator:
    """A local Realtime server for tests, demos and offline development.

    ```
    with Simulator(dialect="ga", api_key="k", pace=50) as sim:
        ws = websocket.create_connection(sim.url + "?model=gpt-realtime", header=["Authorization: Bearer k"])
        ...
        sim.sessions[0].received_events / .sent_events / .committed_audio
    ```
    `jitter` scales the arrival jitter of audio deltas (jitter.py; 0 = none), `seed` seeds its draws.
    """

    def __init__(self, dialect: str = "ga", api_key: str | None = None, host: str = "127.0.0.1", port: int = 0,
                 pace: float = 4.0, chunk_ms: int = 100, voice: str = "auto",
                 max_session_seconds: float = MAX_SESSION_S, response_latency: float = RESPONSE_LATENCY_S,
                 first_audio_latency: float = FIRST_AUDIO_LATENCY_S,
                 transcription_latency: float = TRANSCRIPTION_LATENCY_S, ping_interval: float | None = PING_INTERVAL_S,
                 ping_timeout: float | None = PING_TIMEOUT_S,
                 on_received: Callable[[SimSession, dict[str, Any]], None] | None = None,
                 jitter: float = 1.0, seed: int = 0) -> None:
        if dialect not in DIALECTS:
            raise ValueError(f"dialect must be 'beta' or 'ga', not {dialect!r}")
        if voice not in ("auto", "espeak", "synthetic"):
            raise ValueError(f"voice must be 'auto', 'espeak' or 'synthetic', not {voice!r}")
        for name, value in (("pace", pace), ("response_latency", response_latency),
                            ("first_audio_latency", first_audio_latency),
                            ("transcription_latency", transcription_latency)):
            if value < 0:
                raise ValueError(f"{name} must be 0 or more, not {value!r}")
        check_loopback(host)
        self.dialect = DIALECTS[dialect]()
        self.api_key = api_key
        self.host = host
        self.port = port
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.options = Options(pace=pace, chunk_ms=chunk_ms, voice=voice, max_session_seconds=max_session_seconds,
                               response_latency=response_latency, first_audio_latency=first_audio_latency,
                               transcription_latency=transcription_latency, on_received=on_received,
                               jitter=Jitter(jitter, seed))
        self.sessions: list[SimSession] = []
        self.rejected: list[dict[str, Any]] = []   # refused at the door: {"code", "close_code", "event"}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Future | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        # Every connection whose handler runs, refused ones included: websockets' `server.connections` leaves out
        # those that started their closing handshake, so a refused client that never answered the close held the
        # shutdown for websockets' close_timeout (10 s).
        self._handled: set[ServerConnection] = set()

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}{PATH}"

    # ---- lifecycle -----------------------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> "Simulator":
        self._thread = threading.Thread(target=self._thread_main, name="rtaudiod-sim", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("rtaudiod-sim did not start in time")
        if self._error is not None:
            raise RuntimeError(f"rtaudiod-sim failed to start: {self._error}") from self._error
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Close every connection at once with 1001 (going away) and the listening socket, and join the thread
        (within about `STOP_GRACE_S`, even when a client does not answer the close)."""
        if self._loop is not None and self._stop is not None and not self._stop.done():
            self._loop.call_soon_threadsafe(lambda: self._stop.done() or self._stop.set_result(None))
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise TimeoutError("rtaudiod-sim did not stop in time")

    def __enter__(self) -> "Simulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for_sessions(self, count: int = 1, timeout: float = 5.0) -> list[SimSession]:
        """Block until `count` sessions have connected (for tests)."""
        done = threading.Event()
        for _ in range(int(timeout / 0.01)):
            if len(self.sessions) >= count:
                return self.sessions
            done.wait(0.01)
        raise TimeoutError(f"{len(self.sessions)} of {count} sessions connected")

    def send_raw(self, frames: list[str | bytes], session: int = -1, timeout: float = 30.0) -> None:
        """Test hook, not the service's behaviour: send these frames as they are (str: text, bytes: binary messages)
        to one session, in order, bypassing the event model, for testing a client against bad server input. Not
        recorded in `sent_events`."""
        if self._loop is None:
            raise RuntimeError("the simulator is not running")
        ws = self.sessions[session].ws

        async def send_all() -> None:
            for frame in frames:
                await ws.send(frame)

        asyncio.run_coroutine_threadsafe(send_all(), self._loop).result(timeout)

    def drop_connections(self, code: int = 1011, reason: str = "simulated server failure",
                         timeout: float = 5.0) -> None:
        """Close every open session with `code` (for testing a client's reconnect); new connections still work."""
        async def close_all() -> None:
            await asyncio.gather(*(s.ws.close(code, reason) for s in self.sessions if s.close_code is None),
                                 return_exceptions=True)

        if self._loop is None:
            raise RuntimeError("the simulator is not running")
        asyncio.run_coroutine_threadsafe(close_all(), self._loop).result(timeout)

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = self._loop.create_future()
        server = await serve(self._handler, self.host, self.port, process_request=self._process_request,
                             max_size=MAX_MESSAGE_BYTES, compression=None, ping_interval=self.ping_interval,
                             ping_timeout=self.ping_timeout, logger=WS_LOG)
        try:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop
        finally:
            await self._shutdown(server)

    async def _shutdown(self, server: Any) -> None:
        """Stop listening, send every connection a 1001 close at once, drop those that do not answer in time."""
        server.close(close_connections=False)
        connections = list(self._handled)
        closing = [asyncio.ensure_future(ws.close(GOING_AWAY, "server shutting down")) for ws in connections]
        if closing:
            await asyncio.wait(closing, timeout=STOP_GRACE_S)
        for ws in connections:
            if ws.transport is not None and not ws.transport.is_closing():
                ws.transport.abort()
        for task in closing:
            task.cancel()
        try:
            await asyncio.wait_for(server.wait_closed(), STOP_GRACE_S)
        except asyncio.TimeoutError:
            pass  # asyncio.run() cancels the handlers left

    # ---- connections ---------------------------------------------------------------------------------------
    def _process_request(self, connection: ServerConnection, request: Any) -> Any:
        if urlsplit(request.path).path.rstrip("/") != PATH:
            return connection.respond(404, "Not found: the Realtime API lives at /v1/realtime\n")
        return None

    async def _refuse(self, ws: ServerConnection, code: str, message: str, close_code: int,
                      param: str | None = None, error_type: str = "invalid_request_error") -> None:
        event = {"type": "error", "event_id": new_id("event"),
                 "error": {"type": error_type, "code": code, "message": message, "param": param, "event_id": None}}
        reason = f"{error_type}.{code}"
        self.rejected.append({"code": code, "close_code": close_code, "event": event})
        try:
            await ws.send(json.dumps(event))
            await ws.close(close_code, reason)
        except ConnectionClosed:
            pass

    async def _handler(self, ws: ServerConnection) -> None:
        self._handled.add(ws)
        try:
            await self._serve_connection(ws)
        finally:
            self._handled.discard(ws)

    async def _serve_connection(self, ws: ServerConnection) -> None:
        headers = ws.request.headers
        auth = headers.get("Authorization", "")
        key = auth[len("Bearer "):].strip() if auth.startswith("Bearer ") else ""
        if not key or (self.api_key is not None and key != self.api_key):
            shown = (key[:3] + "*" * 4 + key[-4:]) if len(key) > 8 else "<missing>" if not key else "****"
            await self._refuse(ws, "invalid_api_key", f"Incorrect API key provided: {shown}. You can find your API "
                               "key at https://platform.openai.com/account/api-keys.", 3000)
            return
        beta_header = headers.get("OpenAI-Beta", "")
        if self.dialect.name == "ga" and "realtime=v1" in beta_header:
            await self._refuse(ws, "beta_api_shape_disabled", "The Realtime Beta API is no longer supported. Please "
                               "use /v1/realtime for the GA API.", 4000)
            return
        if self.dialect.name == "beta" and "realtime=v1" not in beta_header:
            await self._refuse(ws, "missing_beta_header", "You must send the 'OpenAI-Beta: realtime=v1' header to use "
                               "the beta Realtime API.", 4000)
            return
        models = parse_qs(urlsplit(ws.request.path).query).get("model", [])
        if not models or not models[0]:
            await self._refuse(ws, "missing_required_parameter", "Missing required parameter: 'model'.", 4000,
                               param="model")
            return
        model = models[0]
        if model not in KNOWN_MODELS:
            await self._refuse(ws, "model_not_found", f"The model `{model}` does not exist or you do not have "
                               "access to it.", 4000)
            return
        session = SimSession(ws, self.dialect, self.options, model)
        self.sessions.append(session)
        await session.run()
