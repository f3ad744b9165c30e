"""The response state machine (rtaudiod/session/responses.py) on its own: no socket, no thread, no engine. Each test
feeds what the service said and reads what the session is told to do."""

from __future__ import annotations

from rtaudiod.session.responses import Responses


def started(r: Responses, event_id: str = "rtad_response_1", response_id: str = "resp_1") -> None:
    """A response asked for, sent and created."""
    assert r.ask(None) is True
    r.sent(event_id)
    assert r.created(response_id) is False


def test_one_response_at_a_time_the_rest_wait_in_order():
    r: Responses[str] = Responses()
    assert r.ask("first") is True  # nothing active: send now
    r.sent("rtad_response_1")
    assert r.busy and r.ask("second") is False and r.ask("third") is False  # queued, never sent over one
    assert r.created("resp_1") is False
    done = r.finished("resp_1", "completed")
    assert done.send and done.params == "second" and not done.over
    r.sent("rtad_response_2")
    r.created("resp_2")
    done = r.finished("resp_2", "completed")
    assert done.send and done.params == "third"
    r.sent("rtad_response_3")
    r.created("resp_3")
    done = r.finished("resp_3", "completed")
    assert not done.send and done.over and not r.pending


def test_a_second_response_done_is_a_duplicate_and_starts_nothing():
    r: Responses[None] = Responses()
    started(r)
    r.ask(None)
    assert r.finished("resp_1", "completed").send
    assert r.finished("resp_1", "completed").duplicate


def test_a_request_cancelled_before_its_response_was_created_has_its_audio_dropped():
    r: Responses[None] = Responses()
    assert r.ask(None)
    r.sent("rtad_response_1")
    assert r.cancel_request() == "rtad_response_1"
    assert r.created("resp_1") is True  # its audio, should any come, is dropped
    assert r.active == "resp_1" and r.requested is None
    # the next one is not
    r.finished("resp_1", "cancelled")
    started(r, "rtad_response_2", "resp_2")


def test_a_barge_in_cuts_the_items_of_the_active_response_only():
    r: Responses[None] = Responses()
    started(r)
    r.item_added("resp_1", "item_a")
    r.item_added("resp_other", "item_b")  # another response's item
    r.item_added("resp_1", "item_c")
    assert r.items == ["item_a", "item_c"]
    r.finished("resp_1", "completed")
    assert r.items == []


def test_the_follow_up_waits_for_every_output_and_the_response_done():
    r: Responses[None] = Responses()
    started(r)
    r.call_started("resp_1")
    r.call_started("resp_1")
    assert r.output_sent("resp_1") is False  # one of two
    done = r.finished("resp_1", "completed")
    assert not done.send and not done.over  # the second call's output is still to come
    assert r.output_sent("resp_1") is True  # the last output of a finished response: ask for the follow-up
    assert r.ask(None) is True


def test_outputs_that_all_went_out_before_the_response_done_ask_at_the_done():
    r: Responses[None] = Responses()
    started(r)
    r.call_started("resp_1")
    assert r.output_sent("resp_1") is False  # the response is not done yet
    done = r.finished("resp_1", "completed")
    assert done.send and done.params is None


def test_an_interrupted_response_gets_no_follow_up():
    r: Responses[None] = Responses()
    started(r)
    r.call_started("resp_1")
    done = r.finished("resp_1", "cancelled")
    assert done.over and not done.send
    assert r.output_sent("resp_1") is False


def test_a_refusal_because_one_was_active_asks_again_after_it():
    r: Responses[None] = Responses()
    assert r.ask(None)
    r.sent("rtad_response_1")
    r.created("resp_vad")  # the service's own reply (server VAD) came first
    r.refused("rtad_response_1", "conversation_already_has_active_response")
    done = r.finished("resp_vad", "completed")
    assert done.send  # ours, asked again


def test_a_refused_request_is_asked_again_with_its_parameters():
    """An announcement refused because the service's own reply came first is still an announcement when asked
    again; a queue dropped says what it held."""
    r: Responses[str] = Responses()
    assert r.ask("announce")
    r.sent("rtad_response_1", "announce")
    r.created("resp_vad")
    r.refused("rtad_response_1", "conversation_already_has_active_response")
    done = r.finished("resp_vad", "completed")
    assert done.send and done.params == "announce"
    r.sent("rtad_response_2", "announce")
    r.ask("later")
    assert r.drop_queue() == ["later"] and not r.queue


def test_a_new_turn_drops_the_queue_and_a_new_connection_forgets_everything():
    r: Responses[None] = Responses()
    started(r)
    r.ask(None)
    r.drop_queue()
    assert r.finished("resp_1", "completed").over
    started(r, "rtad_response_2", "resp_2")
    r.call_started("resp_2")
    r.reset()
    assert not r.pending and r.followups == {} and r.items == [] and r.active is None
