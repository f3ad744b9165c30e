"""Remote MCP tools in a session (GA): their secrets read at each connect and scrubbed from what is shown; one whose
secret went away is left out with an `error` event, and the session goes on."""

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

