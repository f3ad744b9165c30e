"""Remote MCP tools (GA): the servers' secrets, and what the service reports of their use.

A configured MCP server (`[[session.tools]]` with `type = "mcp"`) goes to the service in `session.update`; the
service lists its tools and calls them itself. Its secrets (`authorization`, and `secret_headers` values) are
read from a file or a systemd credential each time the settings are built (a rotated token is picked up at the next
connect), never kept in the configuration, never logged, never in a status or a control reply.

`McpMonitor` turns the service's MCP events into the `tool` topic (`event` = `list_tools`, `call`,
`approval_request`, `approval`) and keeps the approval requests waiting for an answer (`Session.answer_mcp_approval`
sends the `mcp_approval_response` item and asks for the response that goes on).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rtaudiod import protocol as rp

__all__ = ["McpMonitor", "read_secret", "secret_values"]

#: Approval requests kept waiting for an answer (the oldest forgotten past this: the service has moved on).
MAX_PENDING = 32


def read_secret(source: str, env: dict[str, str] | os._Environ[str] | None = None) -> str:
    """The secret in `source`: a file path (with a `/`), or the name of a systemd credential
    (`$CREDENTIALS_DIRECTORY/NAME`), its surrounding whitespace stripped. ValueError naming the source (never the
    secret) when it cannot be read or is empty."""
    env = os.environ if env is None else env
    if "/" in source:
        path = Path(source)
    elif env.get("CREDENTIALS_DIRECTORY"):
        path = Path(env["CREDENTIALS_DIRECTORY"]) / source
    else:
        raise ValueError(f"{source!r} is neither a file path nor a systemd credential ($CREDENTIALS_DIRECTORY is "
                         "not set): write the path of the file holding it")
    try:
        value = path.read_text().strip()
    except OSError as e:
        raise ValueError(f"cannot read the secret {source!r}: {e.strerror or e}") from None
    if not value:
        raise ValueError(f"the secret {source!r} is empty")
    return value


def secret_values(tools: list[rp.Tool]) -> tuple[str, ...]:
    """The secrets in the tools sent to the service (to scrub from anything shown)."""
    out: list[str] = []
    for tool in tools:
        if tool.type == "mcp":
            if isinstance(tool.authorization, str):
                out.append(tool.authorization)
            if isinstance(tool.headers, dict):
                out.extend(v for v in tool.headers.values() if len(v) >= 8)  # too short to be a secret
    return tuple(out)


def _scrubbed(value: Any, scrub: Callable[[str], str]) -> Any:
    """`value` (a JSON-like event) with every string passed through `scrub`."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrubbed(v, scrub) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v, scrub) for v in value]
    return value


class McpMonitor:
    """The service's MCP events as `tool` events (`publish(topic, data)`), and the approval requests pending. The
    handlers run on the conversation's actor, beside its own handlers of the same events (events.py)."""

    def __init__(self, publish: Callable[[str, dict[str, Any]], None],
                 scrub: Callable[[str], str] = lambda text: text) -> None:
        self._publish_to = publish
        self._scrub = scrub  # what a server says (output, errors, arguments) may quote its own token
        self._items: dict[str, dict[str, Any]] = {}  # item_id -> what the service said of it so far
        self.pending: dict[str, dict[str, Any]] = {}  # approval_request_id -> the request
        self.calls = 0

    def _publish(self, topic: str, data: dict[str, Any]) -> None:
        self._publish_to(topic, _scrubbed(data, self._scrub))

    def handlers(self) -> dict[type, Callable[[Any, Any], None]]:
        """Handlers of the event types this monitor follows (run after the conversation's own, if any)."""
        return {rp.ConversationItemCreated: self._on_item_added, rp.ConversationItemDone: self._on_item_done,
                rp.McpListToolsInProgress: self._on_listing, rp.McpListToolsFailed: self._on_listing,
                rp.ResponseMcpCallInProgress: self._on_call_started,
                rp.ResponseOutputItemDone: self._on_output_item_done}

    def _remember(self, item: rp.Item) -> dict[str, Any]:
        entry = self._items.setdefault(str(item.id), {})
        for key in ("server_label", "name", "arguments"):
            value = getattr(item, key)
            if isinstance(value, str):
                entry[key] = value
        while len(self._items) > 256:
            self._items.pop(next(iter(self._items)))
        return entry

    def _on_item_added(self, link: Any, event: rp.ConversationItemCreated) -> None:
        if isinstance(event.item.type, str) and event.item.type.startswith("mcp_"):
            self._remember(event.item)

    def _on_listing(self, link: Any, event: Any) -> None:
        status = "failed" if type(event) is rp.McpListToolsFailed else "in_progress"
        label = self._items.get(event.item_id, {}).get("server_label")
        if status == "failed":
            self._items.setdefault(event.item_id, {})["failed"] = True
        self._publish("tool", {"event": "list_tools", "status": status, "item_id": event.item_id,
                               "server_label": label})

    def _on_item_done(self, link: Any, event: rp.ConversationItemDone) -> None:
        item = event.item
        if item.type != "mcp_list_tools":
            return
        entry = self._remember(item)
        if entry.get("failed"):
            return
        tools = [t.name for t in item.tools or () if isinstance(t.name, str)]
        self._publish("tool", {"event": "list_tools", "status": "completed", "item_id": item.id,
                               "server_label": entry.get("server_label"), "tools": tools})

    def _on_call_started(self, link: Any, event: rp.ResponseMcpCallInProgress) -> None:
        entry = self._items.get(event.item_id, {})
        self._publish("tool", {"event": "call", "status": "in_progress", "item_id": event.item_id,
                               "server_label": entry.get("server_label"), "name": entry.get("name")})

    def _on_output_item_done(self, link: Any, event: rp.ResponseOutputItemDone) -> None:
        item = event.item
        if item.type == "mcp_call":
            self.calls += 1
            error = item.error if isinstance(item.error, rp.McpError) else None
            self._publish("tool", {
                "event": "call", "status": "failed" if error is not None else "completed", "item_id": item.id,
                "server_label": item.server_label, "name": item.name, "arguments": item.arguments,
                "output": item.output if isinstance(item.output, str) else None,
                "error": None if error is None else {"type": error.type, "code": error.code,
                                                     "message": error.message},
                "approval_request_id": item.approval_request_id if isinstance(item.approval_request_id, str)
                else None})
        elif item.type == "mcp_approval_request" and isinstance(item.id, str):
            request = {"approval_request_id": item.id, "server_label": item.server_label, "name": item.name,
                       "arguments": item.arguments}
            self.pending[item.id] = request
            while len(self.pending) > MAX_PENDING:
                self.pending.pop(next(iter(self.pending)))
            self._publish("tool", {"event": "approval_request", **request})

    def take_request(self, approval_request_id: str) -> dict[str, Any] | None:
        """The pending request of that id, no longer pending; None when there is none (answered, or never
        asked)."""
        return self.pending.pop(approval_request_id, None)

    def restore(self, request: dict[str, Any]) -> None:
        """An answer that could not be sent: the request waits again."""
        self.pending[request["approval_request_id"]] = request
