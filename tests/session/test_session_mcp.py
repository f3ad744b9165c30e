"""Remote MCP tools in a session (GA): their secrets read at each connect and scrubbed from what is shown; one whose
secret went away is left out with an `error` event, and the session goes on."""

import json

from sessionhelpers import wait_until

SECRET = "mcp-secret-0f9e8d7c6b"


def mcp_tool(secret_file):
    return {"type": "mcp", "server_label": "home", "server_url": "https://mcp.example.com/mcp",
            "require_approval": "never", "secret_headers": {"X-Api-Key": str(secret_file)}}


def sent_tools(sim):
    updates = [e for s in sim.sessions for e in s.received_events if e["type"] == "session.update"]
    return [t for t in updates[-1]["session"]["tools"]]


def test_the_secret_is_read_at_each_connect_and_scrubbed_from_raw_frames(make_sim, make_session, tmp_path):
    sim = make_sim("ga")
    secret = tmp_path / "key"
    secret.write_text(SECRET)
    session, engine, mic, events = make_session(sim, tools=[mcp_tool(secret)])
    (tool,) = sent_tools(sim)
    assert tool["headers"] == {"X-Api-Key": SECRET}
    # a frame from the service that quotes the secret reaches `raw` subscribers without it
    seen = []
    session.subscribe({"raw"}, lambda topic, data: seen.append(bytes(data["frame"])))
    session.receiver._emit_raw(f'{{"type": "error", "error": {{"message": "bad header {SECRET}"}}}}'.encode())
    assert seen and SECRET.encode() not in seen[-1] and b"<redacted>" in seen[-1]
    # rotated: the next connect sends the new value
    secret.write_text(SECRET + "-2")
    session.update_settings(instructions="Be brief.")
    wait_until(lambda: sent_tools(sim)[0]["headers"]["X-Api-Key"] == SECRET + "-2", 5, "the rotated secret")


def test_a_secret_gone_leaves_that_server_out_and_says_so(make_sim, make_session, tmp_path):
    sim = make_sim("ga")
    secret = tmp_path / "key"
    secret.write_text(SECRET)
    session, engine, mic, events = make_session(sim, start=False, tools=[mcp_tool(secret)])
    secret.unlink()
    session.start()
    assert session.wait_ready(10), session.error
    assert sent_tools(sim) == []
    error = events.wait("error", lambda d: d["code"] == "tool_secret")
    assert "mcp:home" in error["message"] and "No such file" in error["message"] and not error["fatal"]



def test_what_an_mcp_server_says_reaches_the_tool_topic_without_its_secret():
    """An MCP server's error (or output) may quote the token it was sent: the `tool` topic is scrubbed as `raw` and
    `error` are."""
    from rtaudiod import protocol as rp
    from rtaudiod.session.mcp import McpMonitor

    seen = []
    monitor = McpMonitor(lambda topic, data: seen.append((topic, data)),
                         lambda text: text.replace(SECRET, "<redacted>"))
    frame = {"type": "response.output_item.done", "event_id": "ev_1", "response_id": "resp_1", "output_index": 0,
             "item": {"type": "mcp_call", "id": "item_1", "server_label": "home", "name": "echo",
                      "arguments": f'{{"text": "{SECRET}"}}', "output": None,
                      "error": {"type": "http_error", "code": 401, "message": f"bad token {SECRET}"}}}
    event = rp.decode_server_event(json.dumps(frame), "ga")
    monitor.handlers()[type(event)](None, event)
    ((topic, data),) = seen
    assert topic == "tool" and data["status"] == "failed" and data["name"] == "echo"
    assert SECRET not in json.dumps(data) and data["error"]["message"] == "bad token <redacted>"
