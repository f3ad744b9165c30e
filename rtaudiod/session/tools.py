"""Function calls: the handlers that serve them, and the calls in flight.

A handler is `handler(call: ToolCall) -> str | None`. Returning a string answers at once (usually JSON text);
returning None means the answer comes later through `Session.tool_result(call.call_id, output)` (the control API
serves tools for other processes this way). Handlers run on a small pool of daemon worker threads, never on the
receive thread: a handler that never returns cannot keep the process from exiting (a `ThreadPoolExecutor`'s
workers are joined at interpreter exit, so one stuck handler would hang the daemon's shutdown forever). A call not
answered in `timeout` seconds, a handler that raises, and a call for a tool nobody serves are all answered with an
error output (`{"error": "..."}`), so the model hears what went wrong and the session never hangs on a tool.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rtaudiod.protocol import Tool, function_tool

__all__ = ["DaemonPool", "PendingCalls", "ToolCall", "ToolHandler", "ToolRegistry", "error_output"]

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


class DaemonPool:
    """A pool of daemon threads running submitted callables in order. Unlike `ThreadPoolExecutor`, nothing joins
    its workers at interpreter exit, and `close` never waits: a worker stuck in a handler is left behind (the call it
    serves is answered by the timeout sweep). Workers start on demand, up to `workers`; `write_off` stops counting a
    stuck one against that, so stuck handlers cannot starve the calls after them (up to `workers * 4` threads)."""

    _STOP = object()

    def __init__(self, workers: int, name: str) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self._max = workers
        self._ceiling = workers * 4  # stuck workers written off beyond this are not replaced
        self._name = name
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closed = False
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the pool is closed")
            self._queue.put((fn, args))
            # _idle: idle workers minus tasks queued for them (below 0 once every worker is busy)
            if self._idle <= 0 and len(self._threads) < self._max:
                self._start_worker()
            else:
                self._idle -= 1  # an idle worker takes it, or the next to finish (a burst starts enough workers)

    def _start_worker(self) -> None:
        t = threading.Thread(target=self._work, name=f"{self._name}_{len(self._threads)}", daemon=True)
        self._threads.append(t)
        t.start()

    def _work(self) -> None:
        while True:
            task = self._queue.get()
            if task is self._STOP:
                return
            fn, args = task
            try:
                fn(*args)
            except BaseException:  # the task's own handling logs; a worker never dies of one task
                log.exception("tool worker: unhandled error")
            with self._lock:
                self._idle += 1

    def write_off(self) -> None:
        """A worker is stuck in a task that has been given up on: let one more worker start in its place."""
        with self._lock:
            self._max = min(self._max + 1, self._ceiling)
            if self._idle < 0 and len(self._threads) < self._max and not self._closed:
                self._start_worker()  # a task queued behind the stuck one starts now
                self._idle += 1

    def close(self) -> None:
        """Drop the tasks not yet started and let idle workers end; never waits for a running one."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
            for _ in self._threads:
                self._queue.put(self._STOP)

    @property
    def threads(self) -> list[threading.Thread]:
        with self._lock:
            return list(self._threads)


class PendingCalls:
    """Calls handed to handlers and not yet answered. `answer` is called exactly once per call (by the handler's
    result, `resolve`, or the timeout sweep); later answers are refused (counted by the caller as late)."""

    def __init__(self, answer: Callable[[ToolCall, str, bool], None], timeout: float, workers: int = 4) -> None:
        self._answer = answer  # (call, output, ok)
        self._timeout = timeout
        self._calls: dict[str, ToolCall] = {}
        self._running: set[str] = set()  # calls whose handler is executing on a worker
        self._lock = threading.Lock()
        self._pool = DaemonPool(workers, "rtaudiod-tool")

    def start(self, call: ToolCall, handler: ToolHandler | None) -> None:
        with self._lock:
            self._calls[call.call_id] = call
        if handler is None:
            self.resolve(call.call_id, error_output(f"no handler serves the tool {call.name!r}"), ok=False)
            return
        try:
            self._pool.submit(self._run, call, handler)
        except RuntimeError:  # closed: the session is stopping
            self.resolve(call.call_id, error_output(f"tool {call.name!r} not run: the session is stopping"), ok=False)

    def _run(self, call: ToolCall, handler: ToolHandler) -> None:
        with self._lock:
            self._running.add(call.call_id)
        try:
            output = handler(call)
        except Exception as e:  # a handler's bug is the model's answer, not the session's end
            log.warning("tool %s failed: %s: %s", call.name, type(e).__name__, e)
            self.resolve(call.call_id, error_output(f"tool {call.name!r} failed: {type(e).__name__}: {e}"), ok=False)
            return
        finally:
            with self._lock:
                self._running.discard(call.call_id)
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
            stuck = sum(1 for c in late if c.call_id in self._running)
        for call in late:
            self.resolve(call.call_id, error_output(f"tool {call.name!r} timed out after {self._timeout:g} s"),
                         ok=False)
        for _ in range(stuck):  # their workers may never come back: the calls after them must not wait on them
            self._pool.write_off()

    def outstanding(self, response_id: str | None = None) -> int:
        with self._lock:
            return sum(1 for c in self._calls.values() if response_id is None or c.response_id == response_id)

    def close(self) -> None:
        self._pool.close()
