"""The simulator's images and remote MCP tools (GA): the item and tool shapes checked as the service checks them, the
MCP event sequences in the service's order, every event valid against the `openai` models (the fixture's teardown
checks what the simulator sent; the client events here are checked too)."""

import base64

from openai_schemas import validate_client_event

PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)
HOME = {"type": "mcp", "server_label": "home", "server_url": "https://mcp.example.com/mcp",
        "require_approval": {"never": {"tool_names": ["echo"]}}, "headers": {"X-Api-Key": "k-123456789"},
        "authorization": "tok-123456789"}


def send(client, event):
    validate_client_event(event, "ga")  # the shapes the daemon sends are the official ones
    client.send(event)


def user(text=None, image_url=None):
    content = ([{"type": "input_text", "text": text}] if text else []) + \
        ([{"type": "input_image", "image_url": image_url}] if image_url else [])
    return {"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": content}}


def text_session(**fields):
    return {"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"], **fields}}


def reply(client):
    events = client.until("response.done")
    return events, events[-1]["response"]["output"]


def home_listed(connect):
    """A GA client whose session has the `home` server, listed."""
    sim, client = connect("ga")
    send(client, text_session(tools=[HOME]))
    client.until("conversation.item.done")
    return client


def ask(client, text):
    """The user's text and a response; the response's events and output."""
    send(client, user(text))
    send(client, {"type": "response.create"})
    return reply(client)


# ==================================================================================================== images
def test_an_image_is_accepted_and_answered(connect):
    sim, client = connect("ga")
    send(client, text_session())
    client.until("session.updated")
    send(client, user("What is this?", "data:image/png;base64," + base64.b64encode(PNG).decode()))
    send(client, {"type": "response.create"})
    _, output = reply(client)
    assert output[-1]["content"][0]["text"] == "Simulator heard: What is this, with an image."


def test_an_image_that_is_not_a_png_or_jpeg_data_url_is_refused(connect):
    sim, client = connect("ga")
    for url in ("https://example.com/a.png", "data:image/gif;base64,R0lGOD", "data:image/png;base64,@@@"):
        client.send(user(image_url=url))
        error = client.expect_error()
        assert error["code"] == "invalid_value" and error["param"] == "item.content[0].image_url", error
    client.send({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                                                              "content": [{"type": "input_image"}]}})
    assert client.expect_error()["code"] == "missing_required_parameter"
    assert sim.sessions[0].items == []


def test_beta_takes_no_images_and_no_mcp_tools(connect):
    sim, client = connect("beta")
    client.send(user(image_url="data:image/png;base64," + base64.b64encode(PNG).decode()))
    error = client.expect_error()
    assert (error["code"], error["param"]) == ("unknown_parameter", "item.content[0].image_url")
    client.send({"type": "session.update", "session": {"tools": [HOME]}})
    error = client.expect_error()
    assert error["param"].startswith("session.tools[0]"), error
    assert sim.sessions[0].items == []


# ==================================================================================================== MCP
def test_a_configured_server_is_listed_in_the_services_order(connect):
    sim, client = connect("ga")
    send(client, text_session(tools=[HOME]))
    events = client.until("conversation.item.done")
    assert [e["type"] for e in events] == ["session.updated", "conversation.item.added", "mcp_list_tools.in_progress",
                                           "mcp_list_tools.completed", "conversation.item.done"]
    (server,) = events[0]["session"]["tools"]
    assert "authorization" not in server and "headers" not in server  # the secrets are not echoed
    item = events[-1]["item"]
    assert item["type"] == "mcp_list_tools" and item["server_label"] == "home"
    assert [t["name"] for t in item["tools"]] == ["echo", "add"]
    assert {e.get("item_id") for e in events[2:4]} == {item["id"]}
    # the same server again is not listed again; a host no DNS resolves fails
    send(client, text_session(tools=[HOME, dict(HOME, server_label="gone", server_url="https://mcp.host.invalid/")]))
    events = client.until("conversation.item.done")
    assert [e["type"] for e in events][-3:] == ["mcp_list_tools.in_progress", "mcp_list_tools.failed",
                                               "conversation.item.done"]
    assert events[-1]["item"]["tools"] == []


def test_a_call_without_approval_streams_and_is_spoken_about(connect):
    events, output = ask(home_listed(connect), "please echo this")
    kinds = [e["type"] for e in events]
    order = ["response.mcp_call_arguments.delta", "response.mcp_call_arguments.done", "response.mcp_call.in_progress",
             "response.mcp_call.completed"]
    assert [k for k in kinds if k in order] == order
    call, message = output
    assert call["type"] == "mcp_call" and call["name"] == "echo" and call["output"] == "please echo this"
    assert call["approval_request_id"] is None
    assert message["content"][0]["text"] == "The echo tool returned please echo this."


def test_approval_is_asked_then_the_answer_decides(connect):
    client = home_listed(connect)
    _, (request,) = ask(client, "add two numbers")
    assert request["type"] == "mcp_approval_request" and request["name"] == "add"
    send(client, {"type": "conversation.item.create", "item": {"type": "mcp_approval_response", "id": "yes1",
                                                               "approval_request_id": request["id"],
                                                               "approve": True}})
    send(client, {"type": "response.create"})
    _, (call, message) = reply(client)
    assert call["output"] == "2" and call["approval_request_id"] == request["id"]
    assert message["content"][0]["text"] == "The add tool returned 2."
    _, (request,) = ask(client, "add again")
    send(client, {"type": "conversation.item.create", "item": {"type": "mcp_approval_response", "id": "no1",
                                                               "approval_request_id": request["id"],
                                                               "approve": False, "reason": "no"}})
    send(client, {"type": "response.create"})
    _, output = reply(client)
    assert [i["type"] for i in output] == ["message"]
    assert output[0]["content"][0]["text"] == "I did not run the add tool: it was declined."


def test_the_tool_shape_is_checked_and_only_allowed_tools_run(connect):
    sim, client = connect("ga")
    client.send(text_session(tools=[dict(HOME, connector_id="connector_gmail")]))
    assert "exactly one" in client.expect_error()["message"]
    client.send(text_session(tools=[dict(HOME, require_approval="sometimes")]))
    assert client.expect_error()["param"] == "session.tools[0].require_approval"
    client.send({"type": "conversation.item.create", "item": {"type": "mcp_call"}})
    assert client.expect_error()["param"] == "item.type"
    client.send({"type": "conversation.item.create", "item": {"type": "mcp_approval_response",
                                                              "approval_request_id": "x", "approve": True}})
    assert client.expect_error()["param"] == "item.id"
    send(client, text_session(tools=[dict(HOME, allowed_tools=["add"])]))
    client.until("conversation.item.done")
    _, output = ask(client, "echo this")
    assert [i["type"] for i in output] == ["message"]  # echo is not allowed: no call
