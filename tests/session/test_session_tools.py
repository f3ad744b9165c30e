"""Function calls against a real simulator: a round trip, a handler that times out, one that fails, a tool
nobody serves. The simulator calls a tool when the user's text names it."""

from __future__ import annotations

import json
import threading

import pytest

from rtaudiod.session import State, ToolCall
from sessionhelpers import wait_until

WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def outputs(sim, index: int = 0) -> list[dict]:
    return [e["item"] for e in sim.sessions[index].received_events
            if e["type"] == "conversation.item.create" and e["item"]["type"] == "function_call_output"]


def test_a_function_call_round_trip(make_sim, make_session, dialect):
    sim = make_sim(dialect)
    session, engine, mic, events = make_session(sim)
    calls: list[ToolCall] = []

    def get_weather(call: ToolCall) -> str:
        calls.append(call)
        return json.dumps({"city": call.args()["city"], "sky": "clear"})

    session.register_tool("get_weather", get_weather, "The weather in a city", WEATHER)
    update = wait_until(lambda: [e for e in sim.sessions[0].received_events if e["type"] == "session.update"
                                 and e["session"].get("tools")], 5, "the tool to be announced")[-1]
    assert [t["name"] for t in update["session"]["tools"]] == ["get_weather"]
    session.send_text("What does get weather say for Paris?")
    said = events.wait("transcript.assistant", lambda d: d["final"], timeout=15)
    assert said["text"].startswith("The get_weather tool returned")
    assert len(calls) == 1 and calls[0].name == "get_weather"
    (output,) = outputs(sim)
    assert output["call_id"] == calls[0].call_id
    assert json.loads(output["output"]) == {"city": "What does get weather say for Paris?", "sky": "clear"}
    fc = events.wait("function_call", lambda d: "arguments" in d)
    assert fc["name"] == "get_weather"
    types = [e["type"] for e in sim.sessions[0].received_events]
    assert types.count("response.create") == 2  # the question, then the answer to the tool's output
    assert session.stats.tool_calls == 1 and session.stats.tool_errors == 0


def test_a_handler_that_never_answers_times_out_with_an_error_output(make_sim, make_session):
    sim = make_sim("ga")
    session, engine, mic, events = make_session(sim, tool_timeout_s=0.5)
    seen = threading.Event()

    def never(call: ToolCall) -> None:
        seen.set()
        return None  # "I will answer later" ... and never does

    session.register_tool("lookup", never, "Look something up", {"type": "object", "properties": {}})
    session.send_text("Please lookup my order")
    said = events.wait("transcript.assistant", lambda d: d["final"], timeout=15)
    assert seen.is_set()
    (output,) = outputs(sim)
    assert "timed out" in json.loads(output["output"])["error"]
    assert said["text"].startswith("The lookup tool returned")
    assert session.stats.tool_errors == 1
    assert session.tool_result(output["call_id"], '{"late": true}') is False
    assert session.stats.late_tool_results == 1
    assert len(outputs(sim)) == 1


@pytest.mark.parametrize("kind", ["raises", "unserved"])
def test_a_failing_or_missing_handler_answers_with_an_error(make_sim, make_session, kind):
    sim = make_sim("ga")
    extra = {} if kind == "raises" else {"tools": [{"name": "lookup", "description": "Look something up"}]}
    session, engine, mic, events = make_session(sim, **extra)
    if kind == "raises":
        session.register_tool("lookup", lambda call: 1 / 0, "Look something up")
    session.send_text("Please lookup my order")
    events.wait("transcript.assistant", lambda d: d["final"], timeout=15)
    (output,) = outputs(sim)
    message = json.loads(output["output"])["error"]
    assert ("ZeroDivisionError" in message) if kind == "raises" else ("no handler" in message)
    assert session.stats.tool_errors == 1
    assert session.state.value in ("speaking", "ready")


def test_a_deferred_answer_through_tool_result(make_sim, make_session):
    sim = make_sim("beta")
    session, engine, mic, events = make_session(sim)
    session.register_tool("lookup", lambda call: None, "Look something up")
    session.send_text("Please lookup my order")
    call = events.wait("function_call", timeout=10)
    assert session.tool_result(call["call_id"], '{"order": "shipped"}') is True
    said = events.wait("transcript.assistant", lambda d: d["final"], timeout=15)
    assert "shipped" in said["text"]


def test_the_follow_up_response_never_overtakes_a_slow_output(make_sim, make_session, dialect):
    """On a loaded machine the worker that answered a call can lose the CPU after the call left the pending set
    and before its output went out; the receive thread meanwhile handles response.done. The follow-up response
    must still come after the output (else the model answers without the tool's result)."""
    sim = make_sim(dialect)
    session, engine, mic, events = make_session(sim)
    session.register_tool("get_weather", lambda call: json.dumps({"sky": "clear"}), "The weather in a city", WEATHER)
    answer = session.pending._answer

    def descheduled(call, output, ok):
        events.wait("response", lambda d: d["event"] == "done", timeout=5)
        answer(call, output, ok)

    session.pending._answer = descheduled
    session.send_text("What does get weather say for Paris?")
    said = events.wait("transcript.assistant", lambda d: d["final"], timeout=15)
    types = [e["type"] if e["type"] != "conversation.item.create" else e["item"]["type"]
             for e in sim.sessions[0].received_events]
    assert [t for t in types if t in ("response.create", "function_call_output")] == \
        ["response.create", "function_call_output", "response.create"]
    assert said["text"].startswith("The get_weather tool returned")


def test_a_connection_lost_while_asking_for_the_follow_up_reconnects(make_sim, make_session):
    """A tool times out (answered by the supervisor's sweep); the connection dies between its output and the
    follow-up response.create. That is a dropped connection to reconnect, not a crash that fails the session."""
    sim = make_sim("ga")
    session, engine, mic, events = make_session(sim, tool_timeout_s=0.3)
    session.register_tool("lookup", lambda call: None, "Look something up")  # never answers itself
    conn = session.link.connection
    send_event = conn.send_event
    output_sent = threading.Event()

    def dies_after_the_output(frame: bytes) -> None:
        if output_sent.is_set() and b'"response.create"' in frame:
            conn.abort()  # the Wi-Fi drops right here
        send_event(frame)
        if b'"function_call_output"' in frame:
            output_sent.set()

    conn.send_event = dies_after_the_output
    session.send_text("Please lookup my order")
    assert output_sent.wait(10)
    assert session.wait_state(State.RECONNECTING, State.FAILED, timeout=5)
    assert session.wait_ready(10), (session.state, session.error)
    assert len(sim.sessions) == 2


def test_a_tool_registered_while_the_session_is_being_configured_is_announced(make_sim, make_session):
    """The settings go out on session.created, the session counts as configured at session.updated: a tool
    registered in between (a control client starting with the daemon) must still reach the service."""
    sim = make_sim("ga")
    session, engine, mic, events = make_session(sim, start=False)
    registered = threading.Event()

    def observer(topic: str, data: dict) -> None:
        events(topic, data)
        if topic == "raw" and b'"session.updated"' in data["frame"] and not registered.is_set():
            registered.set()  # the settings are out, the session not yet configured
            session.register_tool("get_weather", lambda call: '{"sky": "clear"}', "The weather", WEATHER)

    session.on_event = observer
    session.start()
    assert session.wait_ready(10)
    assert registered.is_set()
    session.send_text("What does get weather say?")
    said = events.wait("transcript.assistant", lambda d: d["final"], timeout=15)
    assert said["text"].startswith("The get_weather tool returned")
