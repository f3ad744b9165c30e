"""Helpers for the simulator tests: a JSON-event WebSocket client, headers, test audio, the schema checks."""

import base64
import json
import shutil
import subprocess
import time
from typing import Any

import numpy as np
import websocket

from rtaudiod.sim import Simulator
from rtaudiod.sim.session import FIRST_AUDIO_LATENCY_S, RESPONSE_LATENCY_S, TRANSCRIPTION_LATENCY_S

from openai_schemas import validate_client_event, validate_server_event

__all__ = ["FAST", "KEY", "MODELS", "REAL_TIME", "Client", "append_chunked", "b64", "check_conformance",
           "headers_for", "silence", "speech_pcm16", "tone", "url_for", "validate_client_event",
           "validate_server_event", "wait_for"]

KEY = "sk-test-key-0123456789"
RECV_TIMEOUT = 10.0
MODELS = {"beta": "gpt-4o-realtime-preview", "ga": "gpt-realtime"}
#: For tests of shapes and sequences only: no pacing, no latency.
FAST = {"pace": 0, "response_latency": 0, "first_audio_latency": 0, "transcription_latency": 0}
#: For tests of races (barge-in, cancel, truncate): real-time pace and the service's latencies.
REAL_TIME = {"pace": 1.0, "response_latency": RESPONSE_LATENCY_S, "first_audio_latency": FIRST_AUDIO_LATENCY_S,
             "transcription_latency": TRANSCRIPTION_LATENCY_S}


class Client:
    """A websocket-client connection that speaks JSON events and keeps everything it received."""

    def __init__(self, url: str, headers: list[str]) -> None:
        self.ws = websocket.create_connection(url, header=headers, timeout=RECV_TIMEOUT)
        self.events: list[dict[str, Any]] = []

    def send(self, event: dict[str, Any] | str) -> None:
        self.ws.send(event if isinstance(event, str) else json.dumps(event))

    def recv(self) -> dict[str, Any]:
        event = json.loads(self.ws.recv())
        self.events.append(event)
        return event

    def until(self, type_: str, max_events: int = 5000) -> list[dict[str, Any]]:
        """Events received up to and including the first of `type_` (bounded in count and by the socket timeout)."""
        got = []
        for _ in range(max_events):
            event = self.recv()
            got.append(event)
            if event["type"] == type_:
                return got
        raise AssertionError(f"no {type_} in {max_events} events")

    def expect_error(self) -> dict[str, Any]:
        event = self.recv()
        assert event["type"] == "error", event
        return event["error"]

    def close(self) -> None:
        """Close, or just drop the socket when the server has already closed or dropped the connection."""
        try:
            self.ws.close(timeout=1)
        except (websocket.WebSocketException, OSError):
            pass
        finally:
            self.ws.shutdown()


def url_for(sim: Simulator, model: str | None = None) -> str:
    """The simulator's URL with the `model` query the service requires (default: the dialect's usual model)."""
    return f"{sim.url}?model={model or MODELS[sim.dialect.name]}"


def headers_for(dialect: str, key: str = KEY) -> list[str]:
    return [f"Authorization: Bearer {key}"] + (["OpenAI-Beta: realtime=v1"] if dialect == "beta" else [])


def check_conformance(sim: Simulator) -> None:
    """Every event the simulator sent, in every session, validates against the dialect's official models."""
    dialect = sim.dialect.name
    events = [e for s in sim.sessions for e in s.sent_events] + [r["event"] for r in sim.rejected]
    for event in events:
        validate_server_event(event, dialect)


# ---- audio helpers ------------------------------------------------------------------------------------------
def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def speech_pcm16(text: str, rate: int = 24000) -> bytes:
    """Real speech: espeak-ng through sox to 16-bit mono at `rate` (TESTING.md's recipe)."""
    assert shutil.which("espeak-ng") and shutil.which("sox"), "espeak-ng and sox are required (scripts/install-system-deps)"
    wav = subprocess.run(["espeak-ng", "--stdout", text], check=True, capture_output=True, timeout=30).stdout
    raw = subprocess.run(["sox", "-t", "wav", "-", "-t", "raw", "-r", str(rate), "-c", "1", "-b", "16",
                          "-e", "signed-integer", "-"], input=wav, check=True, capture_output=True, timeout=30).stdout
    return raw


def silence(ms: int, rate: int = 24000, width: int = 2) -> bytes:
    return bytes(rate * ms // 1000 * width)


def tone(ms: int, freq: float = 440.0, rate: int = 24000, amplitude: int = 8000) -> bytes:
    t = np.arange(rate * ms // 1000) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


def append_chunked(client: Client, audio: bytes, chunk: int = 4800) -> None:
    for i in range(0, len(audio), chunk):
        client.send({"type": "input_audio_buffer.append", "audio": b64(audio[i:i + chunk])})


def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError("condition not met in time")
