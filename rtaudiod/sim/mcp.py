"""Remote MCP tools (GA only), as the service runs them: a small scripted MCP server stands in for every
`server_url` / `connector_id`, so a client's whole MCP path runs offline.

The tool shape is `openai.types.realtime.realtime_tools_config_union.Mcp` (`server_label`; `server_url` or
`connector_id`; `allowed_tools`, `require_approval`, `headers`, `authorization`, `server_description`). The event
flow, in the service's order:

- listing, after a `session.update` names a server not listed yet in this session: `conversation.item.added` of an
  `mcp_list_tools` item (no tools yet), `mcp_list_tools.in_progress`, `mcp_list_tools.completed` (or `.failed`:
  a `server_url` host under `.invalid`, which no DNS resolves), `conversation.item.done` with the tools;
- a call, when the user's text names a listed (and allowed) tool: the response's `mcp_call` item
  (`response.output_item.added`, `conversation.item.added`), `response.mcp_call_arguments.delta`/`.done`,
  `response.mcp_call.in_progress`, `response.mcp_call.completed`, the item done with its `output`; then, in the
  same response, the assistant's message about the result (`The <tool> tool returned <output>.`);
- with approval required (`require_approval: "always"`, or the tool under `always.tool_names`), the response holds
  an `mcp_approval_request` item instead and ends; the client answers with an `mcp_approval_response` item and a
  `response.create`, and that response makes the call (its item carries `approval_request_id`), or, declined,
  says it did not (`I did not run the <tool> tool: it was declined.`).

The scripted server's tools: `echo` (returns its `text`) and `add` (the sum of `a` and `b`). MCP items carry no
`status` and no `object` (the openai models of these items have neither). The session echo never repeats
`authorization` or `headers` (secrets: the simulator keeps them to itself).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

from .events import new_id
from .validate import SimError, anything, array, boolean, either, enum, nullable, obj, string

_FILTER = obj({"tool_names": array(string()), "read_only": boolean()})
CONNECTORS = ("connector_dropbox", "connector_gmail", "connector_googlecalendar", "connector_googledrive",
              "connector_microsoftteams", "connector_outlookcalendar", "connector_outlookemail",
              "connector_sharepoint")
_MCP_TOOL = obj({
    "type": enum("mcp"), "server_label": string(), "server_url": string(), "connector_id": enum(*CONNECTORS),
    "authorization": string(), "headers": nullable(anything()), "allowed_tools": nullable(either(array(string()),
                                                                                                  _FILTER)),
    "require_approval": nullable(either(enum("always", "never"), obj({"always": _FILTER, "never": _FILTER}))),
    "server_description": string(),
}, required=("type", "server_label"))
#: The item types only GA has (their client-side shapes: `mcp_approval_response` is the one a client creates).
MCP_ITEMS = ("mcp_call", "mcp_list_tools", "mcp_approval_request", "mcp_approval_response")
SCRIPTED_TOOLS = [
    {"name": "echo", "description": "Repeats the text it is given.",
     "input_schema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}},
    {"name": "add", "description": "Adds two numbers.",
     "input_schema": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                      "required": ["a", "b"]}},
]


def tool_rule(function_tool: Any) -> Any:
    """The GA `tools[]` rule: an MCP server, or (anything else) a function tool."""
    def rule(value: Any, path: str) -> Any:
        if isinstance(value, dict) and value.get("type") == "mcp":
            tool = _MCP_TOOL(value, path)
            if ("server_url" in tool) == ("connector_id" in tool):
                raise SimError("invalid_value", f"Invalid '{path}': an MCP tool needs exactly one of 'server_url' "
                               "and 'connector_id'.", path)
            headers = tool.get("headers")
            if headers is not None and not (isinstance(headers, dict)
                                            and all(isinstance(v, str) for v in headers.values())):
                raise SimError("invalid_type", f"Invalid type for '{path}.headers': expected an object of strings.",
                               f"{path}.headers")
            return tool
        return function_tool(value, path)
    return rule


def render_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """A session's tool as the session events show it (MCP secrets left out)."""
    if tool.get("type") == "mcp":
        return {k: v for k, v in tool.items() if k not in ("authorization", "headers")}
    return dict(tool, type="function")


def is_function(tool: dict[str, Any]) -> bool:
    return tool.get("type", "function") == "function"


def parse_item(item: dict[str, Any]) -> dict[str, Any]:
    """A client-created MCP item: only `mcp_approval_response` (the others are the service's own)."""
    if item["type"] != "mcp_approval_response":
        raise SimError("invalid_value", f"Invalid value: {item['type']!r}. A client may create "
                       "'mcp_approval_response' items only.", "item.type")
    for field in ("id", "approval_request_id", "approve"):  # `id` too: required in the service's model
        if field not in item:
            raise SimError("missing_required_parameter", f"Missing required parameter: 'item.{field}'.",
                           f"item.{field}")
    if not isinstance(item["approve"], bool):
        raise SimError("invalid_type", "Invalid type for 'item.approve': expected a boolean.", "item.approve")
    return {"id": item["id"], "type": item["type"], "status": "completed",
            "approval_request_id": item["approval_request_id"], "approve": item["approve"],
            "reason": item.get("reason")}


def render_item(item: dict[str, Any]) -> dict[str, Any]:
    keys = {"mcp_list_tools": ("server_label", "tools"),
            "mcp_call": ("server_label", "name", "arguments", "output", "error", "approval_request_id"),
            "mcp_approval_request": ("server_label", "name", "arguments"),
            "mcp_approval_response": ("approval_request_id", "approve", "reason")}[item["type"]]
    return {"id": item["id"], "type": item["type"], **{k: item.get(k) for k in keys}}


# ---- listing ---------------------------------------------------------------------------------------------------
async def list_new_servers(session: Any, before: list[dict[str, Any]]) -> None:
    """List the tools of each MCP server the last session.update added (by label; a server listed once in this
    session is not listed again)."""
    known = {t["server_label"] for t in before if t.get("type") == "mcp"} | set(session.mcp_tools)
    for tool in session.settings["tools"]:
        if tool.get("type") != "mcp" or tool["server_label"] in known:
            continue
        label = tool["server_label"]
        item = {"id": new_id("mcpl"), "type": "mcp_list_tools", "server_label": label, "tools": []}
        previous = session.items[-1]["id"] if session.items else None
        await session.add_item(item, previous, done=False)
        await session.send({"type": "mcp_list_tools.in_progress", "item_id": item["id"]})
        host = urlparse(tool.get("server_url", "")).hostname or ""
        if host == "invalid" or host.endswith(".invalid"):
            await session.send({"type": "mcp_list_tools.failed", "item_id": item["id"]})
        else:
            item["tools"] = [dict(t, annotations=None) for t in SCRIPTED_TOOLS]
            session.mcp_tools[label] = item["tools"]
            await session.send({"type": "mcp_list_tools.completed", "item_id": item["id"]})
        for event in session.dialect.item_done(item):
            await session.send(event)


# ---- what the model does with them -----------------------------------------------------------------------------
def _allowed(tool: dict[str, Any], name: str) -> bool:
    allowed = tool.get("allowed_tools")
    if allowed is None:
        return True
    names = allowed if isinstance(allowed, list) else allowed.get("tool_names")
    return names is None or name in names


def _needs_approval(tool: dict[str, Any], name: str) -> bool:
    rule = tool.get("require_approval", "always")  # the service's default: ask
    if isinstance(rule, str) or rule is None:
        return rule != "never"
    if name in (rule.get("never") or {}).get("tool_names", []):
        return False
    return True


def _arguments(name: str, text: str) -> str:
    return json.dumps({"text": text} if name == "echo" else {"a": 1, "b": 1})


def run_tool(name: str, arguments: str) -> str:
    args = json.loads(arguments)
    return str(args["text"]) if name == "echo" else f"{args['a'] + args['b']:g}"


def plan(items: list[dict[str, Any]], session: Any, tool_choice: Any) -> dict[str, Any] | None:
    """What the model does with MCP tools for this context, or None (no MCP tool in play):
    `{"kind": "mcp_call" | "mcp_approval", "server": tool, "name", "arguments", "approval_request_id"?}` or a
    message after a declined approval."""
    last = next((i for i in reversed(items) if i["type"] in ("mcp_approval_response", "function_call_output")
                 or (i["type"] == "message" and i["role"] == "user")), None)
    if last is None or tool_choice == "none":
        return None
    if last["type"] == "mcp_approval_response":
        request = next((i for i in items if i["id"] == last["approval_request_id"]
                        and i["type"] == "mcp_approval_request"), None)
        if request is None:
            return None
        if not last["approve"]:
            return {"kind": "message", "text": f"I did not run the {request['name']} tool: it was declined."}
        server = next(t for t in session.settings["tools"] if t.get("server_label") == request["server_label"])
        return {"kind": "mcp_call", "server": server, "name": request["name"], "arguments": request["arguments"],
                "approval_request_id": request["id"]}
    if last["type"] != "message":
        return None
    text = " ".join(p.get("text") or "" for p in last["content"] if p["type"] == "input_text").strip()
    words = text.lower().replace("?", " ").replace(".", " ").split()
    for server in session.settings["tools"]:
        if server.get("type") != "mcp":
            continue
        for listed in session.mcp_tools.get(server["server_label"], []):
            name = listed["name"]
            if name in words and _allowed(server, name):
                kind = "mcp_approval" if _needs_approval(server, name) else "mcp_call"
                return {"kind": kind, "server": server, "name": name, "arguments": _arguments(name, text)}
    return None


async def approval_request(responder: Any, plan: dict[str, Any]) -> None:
    """The response's `mcp_approval_request` item: announced whole, then done (it has no deltas)."""
    item = {"id": new_id("mcpr"), "type": "mcp_approval_request", "server_label": plan["server"]["server_label"],
            "name": plan["name"], "arguments": plan["arguments"]}
    index = await responder._open_item(item)
    await responder._close_item(item, index)


async def call(responder: Any, plan: dict[str, Any]) -> str:
    """The response's `mcp_call` item, streamed as the service does; returns what the model says about it."""
    s = responder.s
    item = {"id": new_id("mcp"), "type": "mcp_call", "server_label": plan["server"]["server_label"],
            "name": plan["name"], "arguments": "", "output": None, "error": None,
            "approval_request_id": plan.get("approval_request_id")}
    index = await responder._open_item(item)
    ids = {"response_id": responder.active["id"], "item_id": item["id"], "output_index": index}
    await responder._step(0)
    item["arguments"] = plan["arguments"]
    await s.send({"type": "response.mcp_call_arguments.delta", **ids, "delta": plan["arguments"]})
    await s.send({"type": "response.mcp_call_arguments.done", **ids, "arguments": plan["arguments"]})
    await s.send({"type": "response.mcp_call.in_progress", "item_id": item["id"], "output_index": index})
    item["output"] = run_tool(plan["name"], plan["arguments"])
    await s.send({"type": "response.mcp_call.completed", "item_id": item["id"], "output_index": index})
    await responder._close_item(item, index)
    return f"The {plan['name']} tool returned {item['output']}."
