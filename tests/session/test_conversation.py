"""The conversation's state machine driven by hand, with no socket and no thread of its own: a `Session` that is
never started, one `Link` whose connection never opens, server frames fed through the receive thread's code
(receiver.py) and run with `actor.run_pending()`, and the sends read from the link's outbox."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from sessionhelpers import KEY, MODELS, Recorder, null_engine

from rtaudiod import protocol as rp
from rtaudiod.session import RealtimeConfig, Session, State, TurnDetectionConfig
from rtaudiod.session import answer, pushed_turn
from rtaudiod.session.connection import Connection
from rtaudiod.session.link import Link


class Driven:
    def __init__(self, **config: Any) -> None:
        self.engine = null_engine("pcm16")
        self.events = Recorder()
        settings = RealtimeConfig(api_key=KEY, model=MODELS["ga"], dialect="ga", **config)
        self.session = Session(settings, self.engine, on_event=self.events)
        endpoint = rp.Endpoint(model=settings.model, dialect="ga", api_key=KEY, base_url="ws://127.0.0.1:9")
        self.link = Link(Connection(endpoint, 1.0), "ga", 1)
        self.session.set_state(State.CONNECTING)  # as start() does, without its threads
        self.session.step(self.session.conversation.reset, self.link)
        self.session.link = self.link
        self.serial = 0

    def feed(self, kind: str, **fields: Any) -> list[dict[str, Any]]:
        """One server event through the receive thread's code, then the actor's steps; the sends it caused."""
        self.serial += 1
        frame = json.dumps({"type": kind, "event_id": f"event_{self.serial}", **fields}).encode()
        self.session.receiver.on_frame(self.link, frame)
        return self.run()

    def run(self) -> list[dict[str, Any]]:
        self.session.actor.run_pending()
        return [json.loads(f) for f in self.link.outbox.take() if f is not None]

    def configure(self) -> None:
        self.feed("session.created", session={"id": "sess_1", "type": "realtime"})
        self.feed("session.updated", session={"id": "sess_1", "type": "realtime"})
        assert self.link.configured.is_set()

    def close(self) -> None:
        self.engine.close()


@pytest.fixture
def driven():
    made: list[Driven] = []

    def make(**config: Any) -> Driven:
        made.append(Driven(**config))
        return made[-1]

    yield make
    for d in made:
        d.close()


def types(sends: list[dict[str, Any]]) -> list[str]:
    return [s["type"] for s in sends]


def response(rid: str, status: str | None = None) -> dict[str, Any]:
    return {"id": rid, "object": "realtime.response", **({"status": status} if status else {})}


def test_the_settings_go_out_on_session_created_and_the_link_is_configured_on_their_answer(driven):
    d = driven(instructions="Be brief.")
    sent = d.feed("session.created", session={"id": "sess_1", "type": "realtime"})
    assert types(sent) == ["session.update"] and sent[0]["session"]["instructions"] == "Be brief."
    assert not d.link.configured.is_set()
    assert d.feed("session.updated", session={"id": "sess_1", "type": "realtime"}) == []
    assert d.link.configured.is_set() and d.session.state.value == "ready"


def test_commands_need_a_configured_link(driven):
    d = driven()
    with pytest.raises(Exception, match="not connected"):
        d.session.send_text("Hello")
    assert d.run() == []


def test_one_response_at_a_time_the_next_goes_out_when_the_first_is_done(driven):
    d = driven()
    d.configure()
    d.session.send_text("One")
    assert types(d.run()) == ["conversation.item.create", "response.create"]
    d.session.send_text("Two")
    assert types(d.run()) == ["conversation.item.create"]  # the second response waits
    assert d.feed("response.created", response=response("resp_1")) == []
    assert d.session.state.value == "thinking"
    sent = d.feed("response.done", response=response("resp_1", "completed"))
    assert types(sent) == ["response.create"]
    assert d.feed("response.done", response=response("resp_1", "completed")) == []  # a second done changes nothing
    assert d.session.stats.stray_events == 1


def test_speech_over_the_reply_silences_it_on_the_receive_thread_and_cuts_what_was_not_heard(driven):
    d = driven()
    d.configure()
    d.session.send_text("Talk")
    d.run()
    d.feed("response.created", response=response("resp_1"))
    d.feed("response.output_item.added", response_id="resp_1", output_index=0,
           item={"id": "item_1", "type": "message", "role": "assistant"})
    pcm = base64.b64encode(bytes(9600)).decode()  # 200 ms
    d.session.receiver.on_frame(d.link, json.dumps({
        "type": "response.output_audio.delta", "event_id": "e", "response_id": "resp_1", "item_id": "item_1",
        "output_index": 0, "content_index": 0, "delta": pcm}).encode())
    assert d.engine.is_playing
    frame = json.dumps({"type": "input_audio_buffer.speech_started", "event_id": "e2", "audio_start_ms": 10,
                        "item_id": "item_user"}).encode()
    d.session.receiver.on_frame(d.link, frame)
    d.session.receiver.on_frame(d.link, json.dumps({  # more of the reply, before the actor ran anything: dropped
        "type": "response.output_audio.delta", "event_id": "e3", "response_id": "resp_1", "item_id": "item_1",
        "output_index": 0, "content_index": 0, "delta": pcm}).encode())
    assert d.engine.dropped_deltas == 1
    sent = d.run()
    # the service cancels its own response (interrupt_response): only the unheard item is cut (nothing played)
    assert types(sent) == ["conversation.item.delete"] and sent[0]["item_id"] == "item_1"
    assert d.events.of("response")[-1]["event"] == "interrupted"
    assert d.session.state.value == "listening"


def test_a_pushed_turn_switches_the_vad_off_clears_first_and_a_cancel_switches_it_back(driven):
    d = driven()
    d.configure()
    d.session.turn_start()
    sent = d.run()
    assert types(sent) == ["session.update", "input_audio_buffer.clear"]
    assert sent[0]["session"]["audio"]["input"]["turn_detection"] is None
    assert d.session.turn_open and d.session.conversation.drop_next_created  # an unasked reply in the turn
    d.session.turn_cancel()
    sent = d.run()
    assert types(sent) == ["input_audio_buffer.clear", "session.update"]
    assert sent[1]["session"]["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    assert not d.session.turn_open and not d.session.conversation.drop_next_created


def test_an_answer_window_switches_the_vad_on_for_one_turn_and_asks_for_the_reply_itself(driven):
    d = driven(turn_detection=TurnDetectionConfig(type="none", silence_duration_ms=700))
    d.configure()
    assert not d.session.uplink.may_send(mic=True)  # push-to-talk: nothing goes up outside a turn
    d.session.listen_for_answer(5.0)
    sent = d.run()
    assert types(sent) == ["input_audio_buffer.clear", "session.update"]
    assert sent[1]["session"]["audio"]["input"]["turn_detection"] == {
        "type": "server_vad", "silence_duration_ms": 700, "create_response": False}
    assert d.session.answer_open and d.session.uplink.may_send(mic=True) and d.session.state is State.LISTENING
    d.session.update_settings(instructions="Be brief.")  # a settings change meanwhile leaves the answer's VAD on
    assert d.run()[0]["session"]["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    d.feed("input_audio_buffer.speech_started", audio_start_ms=100, item_id="item_a")
    d.feed("input_audio_buffer.speech_stopped", audio_end_ms=1500, item_id="item_a")
    sent = d.feed("input_audio_buffer.committed", item_id="item_a", previous_item_id=None)
    assert types(sent) == ["session.update", "response.create"]  # the VAD off again, then the reply
    assert sent[0]["session"]["audio"]["input"]["turn_detection"] is None
    assert not d.session.answer_open and not d.session.uplink.may_send(mic=True)
    assert [e["event"] for e in d.events.of("vad") if e["event"].startswith("answer")] == [
        "answer_opened", "answer_closed"]
    assert d.events.of("vad")[-1]["reason"] == "answered"


def test_an_answer_window_refused_or_taken_over_by_a_pushed_turn_closes(driven):
    d = driven(turn_detection=TurnDetectionConfig(type="none"))
    d.configure()
    d.session.listen_for_answer(5.0)
    vad_on = d.run()[1]["event_id"]
    sent = d.feed("error", error={"type": "invalid_request_error", "code": "invalid_value", "message": "no",
                                  "event_id": vad_on})
    assert types(sent) == ["input_audio_buffer.clear"]  # nothing will end the turn: what went up is dropped
    assert not d.session.answer_open and d.events.of("vad")[-1]["reason"] == "refused"
    d.session.listen_for_answer(5.0)
    d.run()
    d.session.turn_start()
    sent = d.run()
    assert types(sent) == ["session.update", "input_audio_buffer.clear"]  # the pushed turn owns the input, VAD off
    assert sent[0]["session"]["audio"]["input"]["turn_detection"] is None
    assert d.events.of("vad")[-2]["reason"] == "turn_start" and d.session.turn_open


def test_an_answer_window_with_no_answer_or_one_the_vad_never_ends_commits_nothing(driven, monkeypatch):
    d = driven(turn_detection=TurnDetectionConfig(type="none"))
    d.configure()
    d.session.listen_for_answer(0.01)
    d.run()
    time.sleep(0.02)  # the window's end is a timer of the actor's
    sent = d.run()
    assert types(sent) == ["input_audio_buffer.clear", "session.update"]  # dropped, the VAD off again
    assert not d.session.answer_open and d.events.of("vad")[-1]["reason"] == "no_answer"
    monkeypatch.setattr(answer, "ANSWER_MAX_S", 0.01)  # the cap on an answer in progress, made short
    d.session.listen_for_answer(0.01)
    d.run()
    d.feed("input_audio_buffer.speech_started", audio_start_ms=100, item_id="item_b")
    time.sleep(0.02)
    assert d.run() == [] and d.session.answer_open  # the answer has begun: the window waits for its commit...
    time.sleep(0.02)
    assert types(d.run()) == ["input_audio_buffer.clear", "session.update"]  # ...for so long
    assert not d.session.answer_open and d.events.of("vad")[-1]["reason"] == "too_long"


def refuse(d: Driven, event_id: str) -> list[dict[str, Any]]:
    return d.feed("error", error={"type": "invalid_request_error", "code": "invalid_value", "message": "no",
                                  "event_id": event_id})


def test_a_refused_switch_back_to_the_vad_after_a_pushed_turn_is_asked_again(driven, monkeypatch):
    """Hands-free with server VAD: a refused `vad_on` after a pushed turn would leave the VAD off for the rest of
    the session (nobody could speak without the button). It is asked again, a few times, then reported."""
    monkeypatch.setattr(pushed_turn, "RESTORE_RETRY_S", 0.01)
    d = driven()
    d.configure()
    d.session.turn_start()
    d.run()
    d.session.turn_cancel()
    vad_on = d.run()[1]
    assert vad_on["session"]["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    refused = vad_on["event_id"]
    for _ in range(pushed_turn.RESTORE_TRIES):
        assert refuse(d, refused) == []
        time.sleep(0.02)  # the retry is a timer of the actor's
        (again,) = d.run()
        assert again["type"] == "session.update" and list(again["session"]) == ["type", "audio"]  # nothing else
        assert again["session"]["audio"]["input"]["turn_detection"]["type"] == "server_vad"
        refused = again["event_id"]
    assert refuse(d, refused) == []
    time.sleep(0.02)
    assert d.run() == []  # given up: said once, as a non-fatal error
    assert [e["code"] for e in d.events.of("error")].count("turn_detection_refused") == 1


def test_a_refused_switch_off_after_an_answer_is_asked_again_and_a_pushed_turn_waits_for_nothing(driven,
                                                                                                 monkeypatch):
    """Push-to-talk: the answer window's VAD, refused off again, would commit pushed turns on their pauses."""
    monkeypatch.setattr(pushed_turn, "RESTORE_RETRY_S", 0.01)
    d = driven(turn_detection=TurnDetectionConfig(type="none"))
    d.configure()
    d.session.listen_for_answer(5.0)
    d.run()
    d.feed("input_audio_buffer.speech_started", audio_start_ms=100, item_id="item_a")
    off = d.feed("input_audio_buffer.committed", item_id="item_a", previous_item_id=None)[0]
    assert off["session"]["audio"]["input"]["turn_detection"] is None
    refuse(d, off["event_id"])
    d.session.turn_start()  # a pushed turn meanwhile: push-to-talk switches nothing, the retry still goes out
    d.run()
    time.sleep(0.02)
    (again,) = d.run()
    assert again["type"] == "session.update" and again["session"]["audio"]["input"]["turn_detection"] is None


def test_an_answer_window_closes_when_its_connection_ends(driven):
    """At the link's end, not at the next connect a backoff later: till then the uplink held the microphone open."""
    d = driven(turn_detection=TurnDetectionConfig(type="none"))
    d.configure()
    d.session.listen_for_answer(5.0)
    d.run()
    d.session.step(d.session.conversation.finish_open_turn)  # as the supervisor does when the link ends
    assert not d.session.answer_open and not d.session.uplink.may_send(mic=True)
    assert d.events.of("vad")[-1] == {"event": "answer_closed", "reason": "disconnected"}


def test_a_settings_change_that_could_not_be_sent_changes_nothing(driven, monkeypatch):
    """The link ended between the check and the send (the receive thread ends it at any time): the caller hears
    `not_connected`, and the next connection is configured with the settings as they were, not with a change the
    caller was told failed."""
    d = driven(instructions="Be brief.")
    d.configure()
    conversation = d.session.conversation
    checked = conversation.configured_link()
    d.link.end("lost")
    monkeypatch.setattr(conversation, "configured_link", lambda: checked)  # the check passed before the end
    with pytest.raises(Exception, match="not connected"):
        d.session.step(d.session.conversation.update_settings,
                       RealtimeConfig(api_key=KEY, model=MODELS["ga"], dialect="ga", instructions="Be long."))
    assert d.session.conversation.config.instructions == "Be brief."


def test_a_response_cancelled_before_it_was_created_is_dropped_by_the_receive_thread(driven):
    d = driven()
    d.configure()
    d.session.send_text("Talk")
    d.run()
    assert d.session.cancel_response() is True
    assert types(d.run()) == ["response.cancel"]
    assert d.session.conversation.drop_next_created
    frame = json.dumps({"type": "response.created", "event_id": "e", "response": response("resp_1")}).encode()
    d.session.receiver.on_frame(d.link, frame)  # before the actor runs: the receive thread drops it
    pcm = base64.b64encode(bytes(960)).decode()
    d.session.receiver.on_frame(d.link, json.dumps({
        "type": "response.output_audio.delta", "event_id": "e", "response_id": "resp_1", "item_id": "item_1",
        "output_index": 0, "content_index": 0, "delta": pcm}).encode())
    assert d.engine.dropped_deltas == 1 and d.engine.delta_response_id is None


def test_a_tool_output_goes_out_before_the_follow_up_and_a_timeout_is_a_timer(driven):
    d = driven(tool_timeout_s=60)
    d.session.register_tool("lookup", lambda call: None, "Look something up")  # answered later
    d.configure()
    d.session.send_text("Look it up")
    d.run()
    d.feed("response.created", response=response("resp_1"))
    d.feed("response.function_call_arguments.done", response_id="resp_1", item_id="item_f", output_index=0,
           call_id="call_1", name="lookup", arguments="{}")
    assert d.events.of("function_call")[-1]["name"] == "lookup"
    assert len(d.session.actor.timers()) >= 1  # the call's timeout: a timer, not a tick
    assert d.feed("response.done", response=response("resp_1", "completed")) == []  # waits for the output
    assert d.session.tool_result("call_1", '{"found": true}') is True
    assert types(d.run()) == ["conversation.item.create", "response.create"]
    assert d.session.tool_result("call_1", "again") is False



@pytest.mark.parametrize("kind", ["session.created", "session.updated"])
def test_an_event_read_before_the_link_ended_is_let_go_with_one_line_and_no_traceback(driven, caplog, kind):
    """The receive thread posted it; the connection ended before the actor took it, so what its handler sends (the
    settings; the history replayed into a new session) has nowhere to go: a one-line note, not a traceback."""
    import logging

    d = driven()
    d.session.history.add("user", "Remember the word pineapple")
    session = {"session": {"id": "sess_1", "type": "realtime"}}
    if kind == "session.updated":
        assert types(d.feed("session.created", **session)) == ["session.update"]
    d.link.end("closed")
    with caplog.at_level(logging.DEBUG, logger="rtaudiod"):
        assert d.feed(kind, **session) == []
    assert not [r for r in caplog.records if r.exc_info], caplog.text
    assert f"{kind} came just before the connection ended (closed): not connected" in caplog.text
