"""Function calls: the handlers that serve them, and the calls in flight.

A handler is `handler(call: ToolCall) -> str | None`. Returning a string answers at once (usually JSON text);
returning None means the answer comes later through `Session.tool_result(call.call_id, output)` (the control API
serves tools for other processes this way). Handlers run on a small pool of worker threads, never on the receive
thread. A call not answered in `timeout` seconds, a handler that raises, and a call for a tool nobody serves are
all answered with an error output (`{"error": "..."}`), so the model hears what went wrong and the session never
hangs on a tool.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from rtaudiod.protocol import Tool, function_tool

__all__ = ["PendingCalls", "ToolCall", "ToolHandler", "ToolRegistry", "error_output"]

log = logging.getLogger("rtaudiod.session")


@dataclass
class ToolCall:
    call_id: str
    name: str
    arguments: str  # JSON text as the model wrote it
    response_id: str
    started: float = field(default_factory=time.monotonic)

    def args(self) -> Any:
        """The arguments parsed (ValueError when the model wrote broken JSON)."""
        return json.loads(self.arguments) if self.arguments else {}


ToolHandler = Callable[[ToolCall], "str | None"]


def error_output(message: str) -> str:
    return json.dumps({"error": message})


@dataclass
class _Registered:
    tool: Tool
    handler: ToolHandler


class ToolRegistry:
    """Tools by name: what `session.update` announces, and who serves each."""

    def __init__(self) -> None:
        self._tools: dict[str, _Registered] = {}
        self._lock = threading.Lock()

    def register(self, name: str, handler: ToolHandler, description: str | None = None,
                 parameters: dict[str, Any] | None = None) -> None:
        with self._lock:
            self._tools[name] = _Registered(function_tool(name, description,
                                                          parameters or {"type": "object", "properties": {}}),
                                            handler)

    def unregister(self, name: str) -> bool:
        with self._lock:
            return self._tools.pop(name, None) is not None

    def handler(self, name: str) -> ToolHandler | None:
        with self._lock:
            entry = self._tools.get(name)
            return entry.handler if entry else None

    def tools(self) -> list[Tool]:
        with self._lock:
            return [entry.tool for entry in self._tools.values()]

    def names(self) -> list[str]:
        with self._lock:
            return list(self._tools)


class PendingCalls:
    """Calls handed to handlers and not yet answered. `answer` is called exactly once per call (by the handler's
    result, `resolve`, or the timeout sweep); later answers are refused (counted by the caller as late)."""

    def __init__(self, answer: Callable[[ToolCall, str, bool], None], timeout: float, workers: int = 4) -> None:
        self._answer = answer  # (call, output, ok)
        self._timeout = timeout
        self._calls: dict[str, ToolCall] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rtaudiod-tool")

    def start(self, call: ToolCall, handler: ToolHandler | None) -> None:
        with self._lock:
            self._calls[call.call_id] = call
        if handler is None:
            self.resolve(call.call_id, error_output(f"no handler serves the tool {call.name!r}"), ok=False)
            return
        self._pool.submit(self._run, call, handler)

    def _run(self, call: ToolCall, handler: ToolHandler) -> None:
        try:
            output = handler(call)
        except Exception as e:  # a handler's bug is the model's answer, not the session's end
            log.warning("tool %s failed: %s: %s", call.name, type(e).__name__, e)
            self.resolve(call.call_id, error_output(f"tool {call.name!r} failed: {type(e).__name__}: {e}"), ok=False)
            return
        if output is not None:
            self.resolve(call.call_id, output if isinstance(output, str) else json.dumps(output))

    def resolve(self, call_id: str, output: str, ok: bool = True) -> bool:
        """Answer a call; False when it is unknown or already answered (timed out, say)."""
        with self._lock:
            call = self._calls.pop(call_id, None)
        if call is None:
            return False
        self._answer(call, output, ok)
        return True

    def sweep(self, now: float | None = None) -> None:
        """Answer every call older than the timeout with an error output."""
        now = time.monotonic() if now is None else now
        with self._lock:
            late = [c for c in self._calls.values() if now - c.started > self._timeout]
        for call in late:
            self.resolve(call.call_id, error_output(f"tool {call.name!r} timed out after {self._timeout:g} s"),
                         ok=False)

    def outstanding(self, response_id: str | None = None) -> int:
        with self._lock:
            return sum(1 for c in self._calls.values() if response_id is None or c.response_id == response_id)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
