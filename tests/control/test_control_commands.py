"""Every command over a real socket, against a real session on rtaudiod-sim: what it does, and how it refuses."""

from __future__ import annotations

import json

import numpy as np
import pytest

from controlhelpers import REAL_TIME, wait_until
from rtaudiod.control import ControlError


def received(stack, kind: str) -> list[dict]:
    return [e for s in stack.sim.sessions for e in s.received_events if e["type"] == kind]


def code_of(call, *args, **kwargs) -> str:
    with pytest.raises(ControlError) as e:
        call(*args, **kwargs)
    return e.value.code


# ------------------------------------------------------------------------------------------------ the envelope
def test_ids_are_echoed_and_requests_without_one_get_null(stack):
    raw = stack.raw()
    raw.send(b'{"id": "abc", "command": "ping"}\n{"command": "ping"}\n{"id": 12345678901234567890, "command": "ping"}\n')
    assert raw.reply() == {"id": "abc", "result": {"pong": True}}
    assert raw.reply() == {"id": None, "result": {"pong": True}}
    assert raw.reply() == {"id": 12345678901234567890, "result": {"pong": True}}


@pytest.mark.parametrize("line, rid, code", [
    (b'{"id": 1.5, "command": "ping"}', None, "bad_request"),
    (b'{"id": true, "command": "ping"}', None, "bad_request"),
    (b'{"id": [1], "command": "ping"}', None, "bad_request"),
    (b'{"id": 2}', 2, "bad_request"),
    (b'{"id": 3, "command": 7}', 3, "bad_request"),
    (b'{"id": 4, "command": "launch"}', 4, "unknown_command"),
    (b'{"id": 5, "command": "ping", "extra": 1}', 5, "bad_args"),
    (b'{"id": 6, "command": "ping", "payload_length": 2}\nab', 6, "bad_args"),
    (b'{"id": 7, "command": "audio.input", "rate": 24000}', 7, "bad_args"),
    (b"not json at all", None, "bad_json"),
    (b"[1, 2, 3]", None, "bad_json"),
], ids=["float-id", "bool-id", "list-id", "no-command", "command-not-string", "unknown", "unknown-arg",
        "payload-on-ping", "no-payload", "not-json", "not-object"])
def test_malformed_requests_get_an_error_and_the_connection_stays(stack, line, rid, code):
    raw = stack.raw()
    raw.send(line + b'\n{"id": "after", "command": "ping"}\n')
    error = raw.reply()
    assert error["id"] == rid and error["error"]["code"] == code and error["error"]["message"]
    assert raw.reply() == {"id": "after", "result": {"pong": True}}


def test_argument_errors_name_the_field(stack):
    c = stack.client
    for args, field in [({"text": 3}, "text"), ({"text": ""}, "text"), ({"text": "hi", "respond": "yes"}, "respond"),
                        ({}, "text"), ({"text": "hi", "colour": 1}, "colour")]:
        with pytest.raises(ControlError) as e:
            c.request("text.send", **args)
        assert e.value.code == "bad_args" and field in str(e.value), (args, str(e.value))


def test_a_bug_in_a_command_is_internal_and_the_connection_goes_on(stack, monkeypatch):
    def broken(*args):
        raise KeyError("oops")

    monkeypatch.setattr(stack.session, "status", broken)
    with pytest.raises(ControlError) as e:
        stack.client.status()
    assert e.value.code == "internal" and "KeyError" in str(e.value)
    assert stack.client.ping() > 0


# ------------------------------------------------------------------------------------------------ turns and text
def test_text_send_asks_for_a_response_unless_told_not_to(stack):
    c = stack.client
    c.subscribe("transcript.assistant")
    c.send_text("Hello there", respond=False)
    wait_until(lambda: received(stack, "conversation.item.create"), 5, "the text item")
    assert not received(stack, "response.create")
    c.send_text("Hello again")
    said = c.wait_for("transcript.assistant", lambda e: e["final"], timeout=10)
    assert said["text"] and len(received(stack, "response.create")) == 1


def test_response_create_with_instructions(stack):
    stack.client.create_response("Say something short.")
    (create,) = wait_until(lambda: received(stack, "response.create"), 5, "response.create")
    assert create["response"]["instructions"] == "Say something short."
    assert code_of(stack.client.request, "response.create", instructions=3) == "bad_args"


def test_push_to_talk_turn_start_end_and_cancel(stack):
    c = stack.client
    c.subscribe("vad")
    assert code_of(c.turn_end) == "no_turn"
    assert code_of(c.turn_cancel) == "no_turn"
    c.turn_start()
    assert c.wait_for("vad", timeout=5)["kind"] == "turn_started"
    c.turn_cancel()
    assert code_of(c.turn_cancel) == "no_turn"
    c.turn_start()
    assert c.turn_end(respond=False) is False  # nothing captured yet: under 100 ms, cleared
    c.turn_start()
    wait_until(lambda: stack.session.status()["counters"]["frames_sent"] >= 15, 5, "300 ms of the microphone")
    assert c.turn_end(respond=False) is True
    wait_until(lambda: received(stack, "input_audio_buffer.commit"), 5, "the commit")
    assert code_of(c.request, "turn.end", respond=1) == "bad_args"


def test_a_turn_the_uplink_cannot_finish_is_a_timeout(stack, monkeypatch):
    from rtaudiod.errors import SessionError

    def stuck(respond=True):
        raise SessionError("the uplink did not finish the turn in time", code="turn_timeout")

    monkeypatch.setattr(stack.session, "turn_end", stuck)
    assert code_of(stack.client.turn_end) == "timeout"


def test_commands_need_a_connected_session(stack):
    stack.session.stop()
    c = stack.client
    for call in (lambda: c.send_text("hi"), c.turn_start, c.create_response, lambda: c.update(voice="cedar")):
        assert code_of(call) == "not_connected"
    assert c.status()["state"] == "stopped"  # what does not need the service still works
    assert c.mute() is True
    assert c.cancel() is False  # nothing to cancel is not an error
    assert c.request("playback.stop") == {}
    assert c.ping() > 0


def test_listening_modes_need_a_listener(stack):
    # a session run without the daemon's Listener (a user's own program) has no modes to switch
    for args in ({}, {"mode": "always"}):
        with pytest.raises(ControlError) as e:
            stack.client.request("listen.mode", **args)
        assert e.value.code == "unavailable" and "listening modes" in str(e.value)


def test_response_cancel_stops_a_reply_that_plays(make_stack):
    stack = make_stack(sim_kwargs=REAL_TIME)
    c = stack.client
    assert c.cancel() is False  # nothing to cancel
    c.subscribe("state", "response")
    c.send_text("Tell me a long story about the sea and the wind and the stars")
    c.wait_for("state", lambda e: e["state"] == "speaking", timeout=10)
    assert c.cancel() is True
    interrupted = c.wait_for("response", lambda e: e["kind"] in ("interrupted", "done"), timeout=5)
    assert interrupted["kind"] == "interrupted"
    assert c.wait_for("response", lambda e: e["kind"] == "done", timeout=5)["status"] == "cancelled"
    assert received(stack, "response.cancel")


def test_cancel_silences_the_speaker_while_the_link_is_down(make_stack):
    # At 4x real time the whole reply is buffered long before it has played; then the service goes away. What is
    # still sounding is what the user wants stopped, connection or not.
    stack = make_stack(sim_kwargs={"pace": 4})
    c = stack.client
    c.subscribe("response")
    c.send_text("Tell me a long story about the sea and the wind and the stars")
    c.wait_for("response", lambda e: e["kind"] == "done", timeout=20)
    assert stack.engine.is_playing
    stack.sim.stop()
    wait_until(lambda: not stack.session.status()["connected"], 5, "the session to see the link gone")
    assert c.cancel() is True
    wait_until(lambda: not stack.engine.is_playing, 2, "the speaker to stop")  # within one device period
    assert c.wait_for("response", lambda e: e["kind"] == "interrupted", timeout=5)["reason"] == "cancel"


def test_playback_stop_silences_the_speaker(make_stack):
    stack = make_stack(sim_kwargs=REAL_TIME)
    c = stack.client
    c.subscribe("state")
    c.send_text("Tell me a long story about the sea and the wind and the stars")
    c.wait_for("state", lambda e: e["state"] == "speaking", timeout=10)
    c.stop_playback()
    wait_until(lambda: not stack.engine.is_playing, 2, "the speaker to stop")
    assert received(stack, "conversation.item.truncate") or received(stack, "conversation.item.delete")


# ------------------------------------------------------------------------------------------------ settings, mic
def test_session_update_changes_settings_live(stack):
    c = stack.client
    c.update(voice="cedar", instructions="Be brief.")
    update = wait_until(lambda: [e for e in received(stack, "session.update")
                                 if "Be brief." in json.dumps(e)], 5, "the update")[-1]
    assert "cedar" in json.dumps(update)
    assert stack.session.config.voice == "cedar"


@pytest.mark.parametrize("settings, field", [
    ({"voice": "robot"}, "voice"), ({"temperature": "hot"}, "temperature"), ({"api_key": "sk-x"}, "api_key"),
    ({"base_url": "ws://evil"}, "base_url"), ({"audio_format": "g711_ulaw"}, "audio_format"),
    ({"turn_detection": {"type": "sometimes"}}, "turn_detection"),
], ids=["voice", "temperature", "api_key", "base_url", "audio_format", "turn_detection"])
def test_session_update_refusals_name_the_setting(stack, settings, field):
    with pytest.raises(ControlError) as e:
        stack.client.update(**settings)
    assert e.value.code == "bad_args" and field in str(e.value)
    assert code_of(stack.client.request, "session.update", settings=[1]) == "bad_args"
    assert stack.session.config.api_key != "sk-x"


def test_mute_and_unmute(stack):
    c = stack.client
    assert c.mute() is True and stack.engine.muted
    assert c.subscribe("state")["muted"] is True
    assert c.unmute() is False and not stack.engine.muted


# ------------------------------------------------------------------------------------------------ audio in
def tone(rate: int, channels: int, seconds: float) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    mono = (8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2")
    return np.repeat(mono[:, None], channels, axis=1).tobytes()


def test_audio_input_is_resampled_to_the_session_rate_and_goes_up(make_stack):
    stack = make_stack(turn_detection={"type": "none"})
    c = stack.client
    pcm = tone(48000, 2, 0.5)
    c.turn_start()
    # a stream in pieces: one resampler across them (no clicks at the seams); the last one flushes its tail
    total = {"frames": 0, "dropped": 0}
    step = 48000 * 2 * 2 // 10
    for i in range(0, len(pcm), step):
        result = c.send_audio(pcm[i: i + step], rate=48000, channels=2, end=i + step >= len(pcm))
        total = {k: total[k] + result[k] for k in total}
    assert total["dropped"] == 0 and abs(total["frames"] - 12000) <= 2
    wait_until(lambda: stack.session.uplink.inject_ring.read_available == 0, 5, "the injected audio to go up")
    assert c.turn_end(respond=False) is True
    (committed,) = wait_until(lambda: list(stack.sim.sessions[0].committed_audio.values()), 5, "the commit")
    got = np.frombuffer(committed[: 12000 * 2], "<i2").astype(float)
    expected = np.frombuffer(tone(24000, 1, 0.5), "<i2").astype(float)[: len(got)]
    steady = slice(500, len(got) - 500)  # away from the filter's edges
    assert np.corrcoef(got[steady], expected[steady])[0, 1] > 0.99


@pytest.mark.parametrize("args, payload, field", [
    ({"rate": 7999}, b"\0\0", "rate"), ({"rate": 192001}, b"\0\0", "rate"), ({"rate": 24000, "channels": 0}, b"\0\0",
                                                                             "channels"),
    ({"rate": 24000, "channels": 9}, b"\0\0", "channels"), ({"rate": 24000, "format": "f32le"}, b"\0\0", "format"),
    ({"rate": 24000, "channels": 2}, b"\0\0\0", "payload_length"), ({"rate": "fast"}, b"\0\0", "rate"),
    ({"rate": 24000}, None, "payload"),
], ids=["rate-low", "rate-high", "channels-0", "channels-9", "format", "partial-frame", "rate-type", "no-payload"])
def test_audio_input_refusals(stack, args, payload, field):
    with pytest.raises(ControlError) as e:
        stack.client.request("audio.input", payload, **args)
    assert e.value.code == "bad_args" and field in str(e.value)


def test_audio_input_past_the_ten_seconds_the_daemon_holds_is_dropped_and_counted(stack):
    result = stack.client.send_audio(bytes(24000 * 2 * 20), rate=24000)  # 20 s at once (the uplink takes 20 ms a turn)
    assert result["frames"] + result["dropped"] == 24000 * 20
    assert 24000 * 10 - 2400 <= result["frames"] <= 24000 * 11
    stack.session.uplink.inject_ring.skip(stack.session.uplink.inject_ring.read_available)


# ------------------------------------------------------------------------------------------------ subscriptions
def test_subscribe_snapshot_then_changes_and_unsubscribe(stack):
    c = stack.client
    snapshot = c.subscribe("state", "function_call")
    assert snapshot == {"state": "ready", "muted": False, "playing": False, "tools": []}
    assert c.unsubscribe("function_call") == ["state"]
    c.send_text("Hello there")
    states = [c.wait_for("state", timeout=10)["state"]]
    while states[-1] != "ready":
        states.append(c.wait_for("state", timeout=10)["state"])
    assert states[0] == "thinking" and "speaking" in states
    assert c.unsubscribe("state") == []
    c.send_text("Hello again")
    stack.recorder.wait("response", lambda d: d["event"] == "done", after=len(stack.recorder.of("response")))
    assert c.next_event(0.2) is None


@pytest.mark.parametrize("topics, field", [([], "topics"), (["state", "weather"], "topics[1]"), ("state", "topics")],
                         ids=["empty", "unknown", "not-a-list"])
def test_subscribe_refusals(stack, topics, field):
    with pytest.raises(ControlError) as e:
        stack.client.request("subscribe", topics=topics)
    assert e.value.code == "bad_args" and field in str(e.value)
    assert code_of(stack.client.request, "unsubscribe", topics=["nope"]) == "bad_args"


def test_raw_frames_and_errors_reach_their_subscribers(stack):
    c = stack.client
    c.subscribe("raw", "error")
    c.update(voice="alloy")
    frame = c.wait_for("raw", lambda e: '"session.updated"' in e["frame"], timeout=5)
    assert json.loads(frame["frame"])["type"] == "session.updated"
    c.turn_start()
    c.turn_end()  # too short: the session reports it
    error = c.wait_for("error", timeout=5)
    assert error["code"] == "turn_too_short" and error["fatal"] is False


# ------------------------------------------------------------------------------------------------ tools
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def outputs(stack) -> list[dict]:
    return [e["item"] for e in received(stack, "conversation.item.create")
            if e["item"]["type"] == "function_call_output"]


def test_a_client_serves_a_tool_end_to_end(stack):
    c = stack.client
    c.register_tool("get_weather", "The weather in a city", WEATHER)
    wait_until(lambda: any(t["name"] == "get_weather" for e in received(stack, "session.update")
                           for t in e["session"].get("tools", [])), 5, "the tool to be announced")
    other = stack.connect()
    other.subscribe("transcript.assistant", "function_call")
    other.send_text("What does get weather say for Paris?")
    call = c.wait_for("tool.call", timeout=10)
    assert call["name"] == "get_weather" and json.loads(call["arguments"])
    assert other.wait_for("function_call", timeout=5)["call_id"] == call["call_id"]
    assert code_of(other.tool_result, call["call_id"], "{}") == "unknown_call"  # not its call
    c.tool_result(call["call_id"], json.dumps({"sky": "clear"}))
    said = other.wait_for("transcript.assistant", lambda e: e["final"] and "get_weather" in e["text"], timeout=10)
    assert said["text"].startswith("The get_weather tool returned")
    assert json.loads(wait_until(lambda: outputs(stack), 5, "the output")[0]["output"]) == {"sky": "clear"}
    assert code_of(c.tool_result, call["call_id"], "{}") == "unknown_call"  # answered already


def test_tool_names_are_owned_by_one_client(stack):
    a, b = stack.client, stack.connect()
    a.register_tool("lookup", "Look something up")
    a.register_tool("lookup", "Look something up, again")  # its own: an update
    assert code_of(b.register_tool, "lookup") == "tool_taken"
    assert b.unregister_tool("lookup") is False
    assert a.unregister_tool("lookup") is True
    b.register_tool("lookup")
    stack.session.register_tool("local", lambda call: "{}")
    assert code_of(a.register_tool, "local") == "tool_taken"  # served in the daemon itself


@pytest.mark.parametrize("args, code", [
    ({"name": "has space"}, "bad_args"), ({"name": "x" * 65}, "bad_args"), ({"name": ""}, "bad_args"),
    ({"name": "ok", "parameters": {"type": "string"}}, "bad_args"), ({"name": "ok", "parameters": "{}"}, "bad_args"),
    ({"name": "ok", "description": 5}, "bad_args"),
], ids=["space", "long", "empty", "not-object-schema", "schema-string", "description-type"])
def test_tool_register_refusals(stack, args, code):
    assert code_of(stack.client.request, "tool.register", **args) == code


def test_a_client_that_leaves_loses_its_tools_and_its_calls_are_answered(stack):
    server_side = stack.connect()
    server_side.register_tool("lookup", "Look something up")
    stack.client.subscribe("function_call", "transcript.assistant")
    stack.client.send_text("Please lookup my order")
    call = server_side.wait_for("tool.call", timeout=10)
    server_side.close()
    done = stack.client.wait_for("function_call", lambda e: "output" in e, timeout=5)
    assert done["call_id"] == call["call_id"] and done["ok"] is True
    (output,) = wait_until(lambda: outputs(stack), 5, "the output to reach the service")
    assert "disconnected" in json.loads(output["output"])["error"]
    wait_until(lambda: "lookup" not in stack.session.tools.names(), 5, "the tool to be withdrawn")
    last = [e for e in received(stack, "session.update") if "tools" in e["session"]][-1]
    assert "lookup" not in [t["name"] for t in last["session"]["tools"]]


def test_a_call_never_answered_times_out_in_the_session(make_stack):
    stack = make_stack(tool_timeout_s=0.5)
    stack.client.register_tool("lookup", "Look something up")
    stack.client.send_text("Please lookup my order")
    call = stack.client.wait_for("tool.call", timeout=10)
    (output,) = wait_until(lambda: outputs(stack), 5, "the timeout's output")
    assert "timed out" in json.loads(output["output"])["error"]
    assert code_of(stack.client.tool_result, call["call_id"], "{}") == "unknown_call"
