"""The GA-only client events of images and remote MCP tools: their GA frames are the official shapes (checked against
the `openai` models), and in beta they are refused, not sent without what made them what they are."""

import json

import pytest

from openai_schemas import validate_client_event
from rtaudiod import protocol as rp

IMAGE = "data:image/jpeg;base64,/9j/4AAQ"


def ga(event) -> dict:
    frame = json.loads(rp.encode_client_event(event, "ga"))
    validate_client_event(frame, "ga")
    return frame


def test_a_user_image_with_its_question():
    frame = ga(rp.user_image(IMAGE, text="What is this?", detail="low", event_id="e1"))
    assert frame["item"]["content"] == [{"type": "input_text", "text": "What is this?"},
                                        {"type": "input_image", "image_url": IMAGE, "detail": "low"}]
    assert ga(rp.user_image(IMAGE))["item"]["content"] == [{"type": "input_image", "image_url": IMAGE}]


def test_an_mcp_server_in_session_update_and_an_approval():
    tool = rp.mcp_tool("home", server_url="https://mcp.example.com/mcp", allowed_tools=["echo"],
                       require_approval={"never": {"tool_names": ["echo"]}}, headers={"X-Key": "v"},
                       authorization="tok", server_description="the house")
    frame = ga(rp.session_update(rp.SessionConfig(tools=[tool, rp.function_tool("get_time")])))
    assert frame["session"]["tools"][0] == {
        "type": "mcp", "server_label": "home", "server_url": "https://mcp.example.com/mcp", "allowed_tools": ["echo"],
        "require_approval": {"never": {"tool_names": ["echo"]}}, "headers": {"X-Key": "v"}, "authorization": "tok",
        "server_description": "the house"}
    frame = ga(rp.mcp_approval_response("mcpr_1", False, item_id="a1", reason="not now"))
    assert frame["item"] == {"type": "mcp_approval_response", "id": "a1", "approval_request_id": "mcpr_1",
                             "approve": False, "reason": "not now"}


@pytest.mark.parametrize("event, path", [
    (rp.user_image(IMAGE, text="hi"), "$.item.content[1].type"),
    (rp.session_update(rp.SessionConfig(tools=[rp.mcp_tool("home", connector_id="connector_gmail")])),
     "$.session.tools[0].type"),
    (rp.mcp_approval_response("mcpr_1", True, item_id="a1"), "$.item.type"),
])
def test_beta_refuses_them_naming_the_field(event, path):
    with pytest.raises(rp.ProtocolError) as refused:
        rp.encode_client_event(event, "beta")
    assert refused.value.path == path and "GA" in str(refused.value)
